"""Refused loads: exit 1, one line naming the line and the field, and the store unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_support import STORY, T0, assert_refused, count_rows, head, preload

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "examples"
# What the examples' README says is wrong with each file: line, field (None: no field).
EXAMPLE_FAULTS = {
    "bad-json.jsonl": (2, None),
    "bad-reference.jsonl": (2, "account"),
    "bad-status.jsonl": (3, "status"),
    "bad-time.jsonl": (2, "at"),
}
GOOD = {"type": "account", "id": "a"}
CONTENT = {"type": "content", "id": "c", "kind": "chat", "account": "a", "owner": "o", "created_at": T0}


@pytest.mark.parametrize("name", sorted(path.name for path in EXAMPLES.glob("bad-*.jsonl")))
def test_bad_example_is_refused_whole(cli, examples, name):
    before = preload(cli.url, STORY)
    line, field = EXAMPLE_FAULTS.get(name, (None, None))
    message = assert_refused(cli("load", str(examples / name)), f"{name}, line {line or ''}")
    if field:
        assert f"field `{field}`" in message
    assert head(cli) == before
    assert count_rows(cli.url, "accounts", "id = 'southwind'") == 0
    assert count_rows(cli.url, "contents", "id = 'x1'") == 0


# Faults found by reading one line on its own: the backend plays no part.
LINE_FAULTS = {
    "missing required field": (
        [GOOD, {"type": "consent", "id": "c", "subject": "s", "purpose": "ai", "at": T0}],
        2,
        "`status`",
    ),
    "string for a bool": (
        [GOOD, {"type": "setting", "scope": "account", "target": "a", "key": "k", "value": "true", "at": T0}],
        2,
        "`value`",
    ),
    "unknown data kind deep in terms": (
        [
            {
                "type": "terms",
                "version": "v",
                "effective_at": T0,
                "sections": [{"id": "1", "grants": [{"purpose": "ai", "data": ["audio", "smell"]}]}],
            }
        ],
        1,
        "`sections[0].grants[0].data[1]`",
    ),
    "unknown type": ([GOOD, GOOD, {"type": "invoice", "id": "i"}], 3, "`type`"),
    "a list, not an object": ([GOOD, "[1]"], 2, "JSON object"),
    "a string, not an object": (['"x"'], 1, "JSON object"),
    "a line cut short": ([GOOD, '{"type": "account", "id": "b"'], 2, "at the end of the line"),
    "time without a zone": (
        [
            GOOD,
            {
                "type": "setting",
                "scope": "account",
                "target": "a",
                "key": "k",
                "value": True,
                "at": "2023-08-07T09:00:00",
            },
        ],
        2,
        "`at`",
    ),
    "time beyond the last year": (
        [{**CONTENT, "created_at": "9999-12-31T23:00:00-05:00"}, GOOD],
        1,
        "`created_at`",
    ),
    "integer beyond 2**53": ([{**GOOD, "n": 2**60}], 1, "`n`"),
    "NaN": ([GOOD, '{"type": "account", "id": "b", "n": [NaN]}'], 2, "`n[0]`"),
}


@pytest.mark.parametrize(("lines", "line", "field"), LINE_FAULTS.values(), ids=LINE_FAULTS.keys())
def test_bad_line_is_refused(sqlite_cli, write, lines, line, field):
    assert_refused(sqlite_cli("load", str(write("bad.jsonl", lines))), f"bad.jsonl, line {line}", field)
    assert count_rows(sqlite_cli.url, "log") == 0


@pytest.mark.parametrize("lines", [[], ["", "   ", ""]], ids=["empty file", "blank lines"])
def test_file_without_events_is_refused(sqlite_cli, write, lines):
    assert_refused(sqlite_cli("load", str(write("empty.jsonl", lines))), "no events")


# Faults found against what the file and the store hold: run on every backend.
STORE_FAULTS = {
    "id reused in the file": ([GOOD, {**GOOD, "name": "other"}], 2, "`id`"),
    "id reused from the store": ([{"type": "account", "id": "acme", "region": "EU"}], 1, "`id`"),
    "group.account": ([GOOD, {"type": "group", "id": "g", "account": "nope"}], 2, "`account`"),
    "user.groups entry": (
        [GOOD, {"type": "user", "id": "u", "account": "a", "groups": ["acme-eng", "nope"]}],
        2,
        "`groups`",
    ),
    "setting target, account scope": (
        [
            GOOD,
            {"type": "setting", "scope": "account", "target": "nope", "key": "k", "value": True, "at": T0},
        ],
        2,
        "`target`",
    ),
    "setting target, group scope": (
        [GOOD, {"type": "setting", "scope": "group", "target": "nope", "key": "k", "value": True, "at": T0}],
        2,
        "`target`",
    ),
    "terms_acceptance.version": (
        [GOOD, {"type": "terms_acceptance", "account": "a", "version": "nope", "at": T0}],
        2,
        "`version`",
    ),
    "content.meeting": ([GOOD, {**CONTENT, "meeting": "nope"}], 2, "`meeting`"),
    "content.derived_from": ([GOOD, {**CONTENT, "derived_from": ["m1-audio", "nope"]}], 2, "`derived_from`"),
    "delete.item": ([GOOD, {"type": "delete", "item": "nope", "at": T0}], 2, "`item`"),
    "NUL in text": ([GOOD, {**GOOD, "id": "b", "name": "a\u0000b"}], 2, "`name`"),
    "id longer than a key column": ([GOOD, {"type": "account", "id": "x" * 300}], 2, "`id`"),
}


@pytest.mark.parametrize(("lines", "line", "field"), STORE_FAULTS.values(), ids=STORE_FAULTS.keys())
def test_bad_line_is_refused_on_every_backend(cli, write, lines, line, field):
    before = preload(cli.url, STORY)
    assert_refused(cli("load", str(write("bad.jsonl", lines))), f"bad.jsonl, line {line}", field)
    assert count_rows(cli.url, "log") == before[0]


def test_bad_line_after_thousands_of_good_ones_stores_nothing(cli, write):
    before = preload(cli.url, STORY)
    good = [{"type": "account", "id": f"acct-{i}"} for i in range(4000)]
    good += [{**CONTENT, "id": f"item-{i}", "account": f"acct-{i}"} for i in range(1990)]
    bad = {**CONTENT, "id": "last", "created_at": "yesterday"}
    path = write("long.jsonl", [*good, bad, *good[:5]])
    assert_refused(cli("load", str(path)), f"long.jsonl, line {len(good) + 1}", "`created_at`")
    assert head(cli) == before
    assert count_rows(cli.url, "accounts") == 1
