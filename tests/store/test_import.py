"""`consentgate load`: what a good file stores, idempotence, references, unknown fields."""

from __future__ import annotations

import io
import json
import re
from collections import Counter

from sqlalchemy import text
from store_support import HEAD, STORY, T0, count_rows, head, preload, raw_sql

from consentgate.store.load import BATCH_LINES


def _stored(stdout: str) -> dict[str, int]:
    """The per-type counts a load prints: `loaded N new event(s) from F: account 3, ...`."""
    match = re.search(r"loaded (\d+) new event\(s\) from [^\n]*?(?:: (.*))?$", stdout, re.MULTILINE)
    assert match, stdout
    counts = {
        name: int(n) for name, n in (part.rsplit(" ", 1) for part in (match[2] or "").split(", ") if part)
    }
    assert sum(counts.values()) == int(match[1])
    return counts


def _printed_head(stdout: str) -> tuple[int, str]:
    match = re.search(r"^log head (\d+ [0-9a-f]{64})$", stdout, re.MULTILINE)
    assert match, stdout
    seq, hash_ = HEAD.match(match[1]).groups()  # type: ignore[union-attr]
    return int(seq), hash_


def test_seed_story_loads_with_its_counts_per_type(cli, examples):
    path = examples / "seed-story.jsonl"
    expected = Counter(json.loads(line)["type"] for line in path.read_text().splitlines() if line.strip())
    loaded = cli("load", str(path), check=True)
    assert _stored(loaded.stdout) == dict(expected)
    assert f"{sum(expected.values())} entries" in cli("audit", "verify", check=True).stdout


def test_loading_again_stores_nothing_and_keeps_the_head(cli, story):
    first = preload(cli.url, STORY)
    again = cli("load", str(story), check=True)
    assert _stored(again.stdout) == {}
    assert f"{len(STORY)} line(s) were already stored" in again.stdout
    assert _printed_head(again.stdout) == first == head(cli)


def test_audit_head_is_the_head_the_last_load_printed(cli, write):
    preload(cli.url, STORY)
    last = cli("load", str(write("more.jsonl", [{"type": "account", "id": "more"}])), check=True)
    assert head(cli) == _printed_head(last.stdout) == (len(STORY) + 1, _printed_head(last.stdout)[1])


def test_load_dash_reads_standard_input(sqlite_cli, story):
    loaded = sqlite_cli("load", "-", input=story.read_text(), check=True)
    assert sum(_stored(loaded.stdout).values()) == len(STORY)
    assert head(sqlite_cli)[0] == len(STORY)


def test_forward_references_within_a_file_resolve(cli, write):
    filler = [{"type": "account", "id": f"filler-{i}"} for i in range(BATCH_LINES + 10)]
    lines = [
        # Each line names something defined later, some of it in a later batch.
        {"type": "delete", "item": "c2", "at": T0},
        {
            "type": "content",
            "id": "c2",
            "kind": "summary",
            "account": "late",
            "owner": "o",
            "created_at": T0,
            "derived_from": ["c1"],
        },
        {"type": "user", "id": "u1", "account": "late", "groups": ["g1"]},
        {"type": "setting", "scope": "group", "target": "g1", "key": "ai", "value": True, "at": T0},
        {"type": "terms_acceptance", "account": "late", "version": "v1", "at": T0},
        {"type": "participant", "meeting": "m1", "subject": "guest-1"},
        *filler,
        {
            "type": "content",
            "id": "c1",
            "kind": "audio",
            "account": "late",
            "owner": "o",
            "meeting": "m1",
            "created_at": T0,
        },
        {"type": "meeting", "id": "m1", "account": "late"},
        {"type": "group", "id": "g1", "account": "late"},
        {"type": "terms", "version": "v1", "effective_at": T0, "sections": []},
        {"type": "account", "id": "late"},
    ]
    loaded = cli("load", str(write("forward.jsonl", lines)), check=True)
    assert sum(_stored(loaded.stdout).values()) == len(lines)


def test_references_to_events_of_an_earlier_load_resolve(cli, write):
    preload(cli.url, STORY)
    later = [
        {"type": "group", "id": "acme-ops", "account": "acme"},
        {"type": "user", "id": "bob", "account": "acme", "groups": ["acme-eng", "acme-ops"]},
        {"type": "setting", "scope": "group", "target": "acme-eng", "key": "ai", "value": True, "at": T0},
        {
            "type": "consent",
            "id": "c3",
            "subject": "bob",
            "purpose": "ai",
            "status": "given",
            "meeting": "m1",
            "at": T0,
        },
        {
            "type": "content",
            "id": "m1-transcript",
            "kind": "transcript",
            "account": "acme",
            "owner": "ann",
            "meeting": "m1",
            "created_at": T0,
            "derived_from": ["m1-audio"],
        },
        {"type": "delete", "item": "sd1", "at": T0},
    ]
    loaded = cli("load", str(write("later.jsonl", later)), check=True)
    assert sum(_stored(loaded.stdout).values()) == len(later)


def test_people_the_store_does_not_know_are_accepted(cli, write):
    guests = [
        {"type": "account", "id": "a"},
        {"type": "setting", "scope": "user", "target": "stranger", "key": "ai", "value": True, "at": T0},
        {
            "type": "consent",
            "id": "c",
            "subject": "guest-7",
            "purpose": "ai.training",
            "status": "given",
            "at": T0,
        },
        {"type": "content", "id": "i", "kind": "chat", "account": "a", "owner": "guest-7", "created_at": T0},
        {"type": "service_data", "id": "s", "kind": "usage", "account": "a", "user": "nobody", "at": T0},
    ]
    assert sum(_stored(cli("load", str(write("guests.jsonl", guests)), check=True).stdout).values()) == 5


UNKNOWN = {"note": "héllo 😀", "score": 1.5, "tags": ["x", {"deep": None}], "ünïcode-key": 1}


def test_unknown_fields_are_kept_and_verified(cli, write):
    event = {"type": "account", "id": "acme", **UNKNOWN}
    terms = {
        "type": "terms",
        "version": "v",
        "effective_at": T0,
        "sections": [{"id": "1", "grants": [], "audience": "all"}],
    }
    path = write("unknown.jsonl", [event, terms])
    preload(cli.url, [event, terms])
    with raw_sql(cli.url) as connection:
        extra = connection.execute(text("SELECT extra FROM accounts WHERE id = 'acme'")).scalar_one()
        sections = connection.execute(text("SELECT sections FROM terms")).scalar_one()
    assert json.loads(extra) == UNKNOWN
    assert json.loads(sections)[0]["audience"] == "all"
    assert "2 entries" in cli("audit", "verify", check=True).stdout
    assert "2 line(s) were already stored" in cli("load", str(path), check=True).stdout


def test_an_unknown_field_counts_as_one_of_the_fields(cli, write):
    preload(cli.url, [{"type": "account", "id": "acme", "note": "a"}])
    changed = cli("load", str(write("changed.jsonl", [{"type": "account", "id": "acme", "note": "b"}])))
    assert changed.returncode == 1 and "already exists" in changed.stderr
    assert count_rows(cli.url, "accounts") == 1


def test_load_into_an_uninitialized_store_says_to_run_init(bare_cli, story):
    result = bare_cli("load", str(story))
    assert result.returncode == 1
    assert "consentgate init" in result.stderr and len(result.stderr.splitlines()) == 1


def test_init_is_idempotent(cli):
    before = preload(cli.url, STORY)
    again = cli("init", check=True)
    assert "is ready" in again.stdout
    assert head(cli) == before


def test_a_load_leaves_sqlites_write_ahead_log_empty(sqlite_url, tmp_path, examples):
    # Readers of a store whose write-ahead log still holds an import look up every
    # page in that log first; the load folds it into the file.
    from consentgate import Store, init_store, load_events

    store = Store(sqlite_url)
    try:
        init_store(store)
        load_events(store, io.BytesIO((examples / "seed-story.jsonl").read_bytes()), "story")
        wal = tmp_path / "store.db-wal"  # kept while the store's pooled connection is open
        assert wal.exists() and wal.stat().st_size == 0
    finally:
        store.dispose()


def test_the_command_closes_the_store_so_no_log_is_left(bare_cli, tmp_path):
    # Closing SQLite's last connection folds the write-ahead log into the file.
    bare_cli("init", check=True)
    wal = tmp_path / "store.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
