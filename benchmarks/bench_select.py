"""Bulk selection speed and memory, beside a plain DuckDB anti-join floor in the same run.

    python benchmarks/bench_select.py [--items 10000000] [--spark-items 1000000] [--sample 100000]

A synthetic world is built directly as Arrow tables (vectorised, no JSON): N items
(80 % meeting content — audio, a transcript derived from it, a summary derived from
that, chat — four per meeting; 15 % other content; 5 % service data), N/10 subjects,
N/5 meetings of 3 participants, about N/5 consents, tiered settings, two terms versions.
Then, at T after every item exists:

- ``select`` on DuckDB for ai.training (time and peak RSS while it runs);
- the floor: items anti-joined with the meetings of participants who lack a given
  consent, in plain DuckDB over the same Arrow tables (simplified rules);
- ``select`` on Spark in local mode, at ``--spark-items`` (0 skips it);
- the per-item path: ``decide_many`` over a sample of items, extrapolated to N.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import resource
import threading
from datetime import UTC, datetime
from typing import Any

from consentgate.runtime import return_freed_memory

return_freed_memory()  # as the command does, before Arrow is first loaded

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from _common import machine, table, timed

from consentgate.bulk import KIND_BITS, SCHEMAS, StateTables, select
from consentgate.bulk._tables import kind_table
from consentgate.core import Policy
from consentgate.model import DATA_KINDS

AT = datetime(2026, 1, 1, tzinfo=UTC)
T0 = int(datetime(2023, 6, 1, tzinfo=UTC).timestamp() * 1e6)
T1 = int(datetime(2025, 12, 1, tzinfo=UTC).timestamp() * 1e6)
CONTENT = ("audio", "video", "chat", "transcript", "screen_share", "whiteboard", "file", "summary", "embedding")
AI_KEY, SHARING_KEY = "ai_training.customer_content", "data_sharing.product_improvement"
STRS = pa.list_(pa.string())
WORD = pa.dictionary(pa.int8(), pa.string())


def ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    """``prefix`` + the decimal number, for every number (vectorised)."""
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def sha256s(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` random 64-character hex strings."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    raw = rng.integers(0, 16, size=(n, 64), dtype=np.uint8)
    text = digits[raw].view("S64").reshape(n)
    return pa.array(text, pa.binary(64)).cast(pa.binary()).cast(pa.string())


def choice(rng: np.random.Generator, options: list[Any], n: int, p: list[float] | None = None) -> pa.Array:
    """``n`` strings drawn from ``options`` (dictionary-decoded to plain strings)."""
    codes = rng.choice(len(options), size=n, p=p).astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(options, pa.string())).cast(pa.string())


def lists(offsets: np.ndarray, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values).cast(STRS)


def build(n: int, seed: int = 7) -> StateTables:
    """A synthetic world of about ``n`` items as state tables."""
    rng = np.random.default_rng(seed)
    n_meetings, n_subjects, n_accounts = max(1, n // 5), max(3, n // 10), max(1, n // 500)
    n_meeting_items = 4 * n_meetings
    n_other = (n - n_meeting_items) * 3 // 4
    n_service = n - n_meeting_items - n_other
    # People and accounts: subject s belongs to account s % n_accounts.
    subject_account = np.arange(n_subjects) % n_accounts
    meeting_account = rng.integers(0, n_accounts, n_meetings)
    host = rng.integers(0, n_subjects, n_meetings)
    # Meeting items: per meeting audio, transcript (from audio), summary (from transcript), chat.
    m = np.repeat(np.arange(n_meetings), 4)
    slot = np.tile(np.arange(4), n_meetings)
    kinds_m = np.array(["audio", "transcript", "summary", "chat"])[slot]
    other_kinds = rng.choice(np.array(["file", "whiteboard", "chat", "video", "screen_share"]), n_other)
    owner_other = rng.integers(0, n_subjects, n_other)
    service_user = rng.integers(0, n_subjects, n_service)
    owners = np.concatenate([host[m], owner_other, service_user])
    has_owner = pa.array(np.r_[np.ones(n - n_service, bool), rng.random(n_service) < 0.9])
    owner_ids = pc.if_else(has_owner, ids("u", owners), pa.nulls(n, pa.string()))
    owner_refs = pc.if_else(has_owner, pa.array(owners), pa.nulls(n, pa.int64()))
    kinds = pa.array(np.concatenate([kinds_m, other_kinds,
                                     rng.choice(np.array(["telemetry", "usage", "diagnostic"]), n_service)]))
    kind_codes = pc.index_in(kinds, value_set=pa.array(DATA_KINDS)).cast(pa.int32())
    accounts = np.concatenate([meeting_account[m], subject_account[owner_other], subject_account[service_user]])
    in_meeting = pa.array(np.arange(n) < n_meeting_items)
    meeting_numbers = np.r_[m, np.zeros(n - len(m), int)]
    meeting_ids = pc.if_else(in_meeting, ids("m", meeting_numbers), pa.nulls(n, pa.string()))
    meeting_refs = pc.if_else(in_meeting, pa.array(meeting_numbers), pa.nulls(n, pa.int64()))
    item_ids = ids("i", np.arange(n))
    created = rng.integers(T0, T1, n)
    erasures = _erasures(rng, n)
    erased = np.zeros(n, np.int64)
    erased[erasures["item_row"].to_numpy()] = erasures["at"].to_numpy()
    erased_at = pa.array(erased, mask=erased == 0)
    derived = np.zeros(n, bool)
    derived[:n_meeting_items] = slot != 0
    derived[:n_meeting_items] &= slot != 3
    items = pa.table({
        "item_id": item_ids, "kind": kinds.cast(pa.string()), "account": ids("a", accounts),
        "owner": owner_ids, "meeting": meeting_ids, "created": pa.array(created),
        "uri": pc.binary_join_element_wise("s3://content/", item_ids, ""),
        "sha256": pc.if_else(pa.array(np.arange(n) < n - n_service), sha256s(rng, n), pa.nulls(n, pa.string())),
        # Only content carries signals.
        "derived": pa.array(derived),
        "train_reserved": pa.array((rng.random(n) < 0.01) & (np.arange(n) < n - n_service)),
        "kind_code": kind_codes, "account_ref": pa.array(accounts), "owner_ref": owner_refs,
        "meeting_ref": meeting_refs, "erased": erased_at,
    }, schema=SCHEMAS["items"])
    # Sources: transcript <- audio, summary <- transcript (one row earlier in each meeting).
    derived_rows = np.flatnonzero(derived)
    sources = pa.table({
        "item_row": pa.array(derived_rows), "source": item_ids.take(pa.array(derived_rows - 1)),
        "source_row": pa.array(derived_rows - 1), "pos": pa.array(np.zeros(len(derived_rows), np.int32)),
    }, schema=SCHEMAS["sources"])
    # Participants: the host and two others per meeting; most were told of everything.
    # Three different people per meeting: the host and the next two (cyclically) after a
    # random offset.
    offset = rng.integers(1, n_subjects - 2, n_meetings)
    people = np.stack([host, (host + offset) % n_subjects, (host + offset + 1) % n_subjects], 1)
    told = rng.choice(3, size=3 * n_meetings, p=[0.90, 0.07, 0.03])
    sizes = np.array([2, 1, 0])[told]
    offsets = np.r_[0, np.cumsum(sizes)]
    first = (np.arange(offsets[-1]) - np.repeat(offsets[:-1], sizes)) == 0
    values = pa.DictionaryArray.from_arrays(pa.array(np.where(first, 0, 1).astype(np.int32)),
                                            pa.array(["recording", "ai_training"])).cast(pa.string())
    participants = pa.table({
        "meeting": ids("m", np.repeat(np.arange(n_meetings), 3)), "subject": ids("u", people.reshape(-1)),
        "pos": pa.array(np.tile(np.arange(3), n_meetings)), "notified": lists(offsets, values),
        "first": pa.array(np.ones(3 * n_meetings, bool)),
        "meeting_ref": pa.array(np.repeat(np.arange(n_meetings), 3)), "subject_ref": pa.array(people.reshape(-1)),
    }, schema=SCHEMAS["participants"])
    return StateTables(
        items=items, sources=sources, people=pa.table({"id": ids("u", np.arange(n_subjects))}),
        accounts=pa.table({"id": ids("a", np.arange(n_accounts)),
                           "region": choice(rng, ["EU", "US", "UK"], n_accounts, [0.35, 0.55, 0.10])},
                          schema=SCHEMAS["accounts"]),
        **_people(rng, n_subjects, n_accounts, subject_account),
        **_terms(rng, n_accounts),
        consents=_consents(rng, n_subjects, n_meetings, n // 5),
        consent_kinds=kind_table(),
        meetings=pa.table({"id": ids("m", np.arange(n_meetings)), "account": ids("a", meeting_account)},
                          schema=SCHEMAS["meetings"]),
        participants=participants,
        erasures=erasures,
    )


def _coded(refs: pa.ChunkedArray | pa.Array, keys: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """A reference column as int32 rows, and the id column it stands for as a dictionary
    over ``keys`` sharing those rows as its indices (no copy of the ids per row)."""
    rows = pa.chunked_array([refs]).combine_chunks().cast(pa.int32())
    return rows, pa.DictionaryArray.from_arrays(rows, keys.combine_chunks())


def compact(tables: StateTables) -> StateTables:
    """The same state in narrower physical types, as a large deployment keeps it: ids that
    name a row of another table are dictionaries over that table's ids (their indices
    are the ``*_ref`` columns), repeated words are dictionaries, row numbers int32."""
    items, parts, consents = tables.items, tables.participants, tables.consents
    people, meetings, accounts = tables.people["id"], tables.meetings["id"], tables.accounts["id"]
    account_ref, account = _coded(items["account_ref"], accounts)
    owner_ref, owner = _coded(items["owner_ref"], people)
    meeting_ref, meeting = _coded(items["meeting_ref"], meetings)
    items = pa.table({
        "item_id": items["item_id"], "kind": pc.dictionary_encode(items["kind"]).cast(WORD),
        "account": account, "owner": owner, "meeting": meeting, "created": items["created"], "uri": items["uri"],
        "sha256": items["sha256"], "derived": items["derived"], "train_reserved": items["train_reserved"],
        "kind_code": items["kind_code"].cast(pa.int8()), "account_ref": account_ref, "owner_ref": owner_ref,
        "meeting_ref": meeting_ref, "erased": items["erased"],
    })
    line_meeting_ref, line_meeting = _coded(parts["meeting_ref"], meetings)
    subject_ref, subject = _coded(parts["subject_ref"], people)
    notified = pa.chunked_array([parts["notified"]]).combine_chunks()
    words = pc.dictionary_encode(notified.values).cast(WORD)
    participants = pa.table({
        "meeting": line_meeting, "subject": subject, "pos": parts["pos"].cast(pa.int32()),
        "notified": pa.ListArray.from_arrays(notified.offsets, words), "first": parts["first"],
        "meeting_ref": line_meeting_ref, "subject_ref": subject_ref,
    })
    consent_subject_ref, consent_subject = _coded(consents["subject_ref"], people)
    consent_meeting_ref, consent_meeting = _coded(consents["meeting_ref"], meetings)
    consents = pa.table({
        "id": consents["id"], "subject": consent_subject,
        "purpose": pc.dictionary_encode(consents["purpose"]), "status": pc.dictionary_encode(consents["status"]),
        "kinds": consents["kinds"], "meeting": consent_meeting, "self_given": consents["self_given"],
        "at": consents["at"], "expires": consents["expires"], "seq": consents["seq"],
        "subject_ref": consent_subject_ref, "meeting_ref": consent_meeting_ref,
    })
    source_row, source = _coded(tables.sources["source_row"], items["item_id"])
    sources = pa.table({"item_row": tables.sources["item_row"].cast(pa.int32()), "source": source,
                        "source_row": source_row, "pos": tables.sources["pos"]})
    return dataclasses.replace(tables, items=items, participants=participants, consents=consents, sources=sources)


def plain(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary columns decoded (for the per-item path's events)."""
    def decoded(kind: pa.DataType) -> pa.DataType:
        if pa.types.is_dictionary(kind):
            return kind.value_type
        return pa.list_(decoded(kind.value_type)) if pa.types.is_list(kind) else kind
    return table.cast(pa.schema([field.with_type(decoded(field.type)) for field in table.schema]))


def _erasures(rng: np.random.Generator, n: int) -> pa.Table:
    rows = rng.choice(n, n // 200, replace=False)
    return pa.table({"item_id": ids("i", rows), "item_row": pa.array(rows),
                     "at": pa.array(rng.integers(T0, T1, n // 200))}, schema=SCHEMAS["erasures"])


def _people(rng: np.random.Generator, n_subjects: int, n_accounts: int, subject_account: np.ndarray) -> dict[str, Any]:
    n_groups = 5 * n_accounts
    member = rng.random(n_subjects) < 0.7
    users = np.flatnonzero(member)
    group_of = (subject_account[users] * 5 + rng.integers(0, 5, len(users)))
    priorities = pa.array(rng.choice([1, 2, 3, -1], n_groups)).cast(pa.int64())
    priorities = pc.if_else(pc.equal(priorities, -1), pa.nulls(n_groups, pa.int64()), priorities)
    settings_rows = []
    # Account level for everyone; some groups and users switch it themselves.
    for scope, prefix, targets, value_p, lock_p in (
        ("account", "a", np.arange(n_accounts), 0.85, 0.10),
        ("group", "g", rng.choice(n_groups, n_groups * 3 // 10, replace=False), 0.7, 0.2),
        ("user", "u", rng.choice(n_subjects, n_subjects // 5, replace=False), 0.6, 0.0),
    ):
        k = len(targets)
        settings_rows.append(pa.table({
            "scope": pa.array([scope] * k), "target": ids(prefix, targets), "key": pa.array([AI_KEY] * k),
            "value": pa.array(rng.random(k) < value_p), "locked": pa.array(rng.random(k) < lock_p),
            "at": pa.array(rng.integers(T0, T1, k)), "seq": pa.array(np.zeros(k, np.int64)),
            "target_ref": pa.array(targets.astype(np.int64)),
        }))
    settings = pa.concat_tables(settings_rows)
    settings = settings.set_column(6, "seq", pa.array(np.arange(settings.num_rows)))
    return {
        "groups": pa.table({"id": ids("g", np.arange(n_groups)), "account": ids("a", np.arange(n_groups) // 5),
                            "priority": priorities}, schema=SCHEMAS["groups"]),
        "users": pa.table({"id": ids("u", users), "account": ids("a", subject_account[users])},
                          schema=SCHEMAS["users"]),
        "user_groups": pa.table({"user_id": ids("u", users), "group_id": ids("g", group_of),
                                 "pos": pa.array(np.zeros(len(users), np.int32)), "user_ref": pa.array(users),
                                 "group_ref": pa.array(group_of)}, schema=SCHEMAS["user_groups"]),
        "settings": settings.select(SCHEMAS["settings"].names).cast(SCHEMAS["settings"]),
    }


def _terms(rng: np.random.Generator, n_accounts: int) -> dict[str, Any]:
    service = ["telemetry", "usage", "diagnostic"]
    grants = [
        ("v1", "10.2", "service.provision", list(CONTENT) + service, []),
        ("v1", "10.4", "ai.training", list(CONTENT), ["consent", f"setting:{AI_KEY}"]),
        ("v1", "10.6", "service.improvement", service, [f"setting:{SHARING_KEY}"]),
        ("v2", "10.2", "service.provision", list(CONTENT) + service, []),
        ("v2", "10.4", "ai.training", list(CONTENT), ["consent", f"setting:{AI_KEY}", "notice:ai_training"]),
        ("v2", "10.5", "ai.training", service, [f"setting:{SHARING_KEY}"]),
    ]
    accepted_v1 = np.flatnonzero(rng.random(n_accounts) < 0.95)
    accepted_v2 = np.flatnonzero(rng.random(n_accounts) < 0.70)
    v1 = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1e6)
    v2 = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp() * 1e6)
    accounts = np.r_[accepted_v1, accepted_v2]
    versions = ["v1"] * len(accepted_v1) + ["v2"] * len(accepted_v2)
    return {
        "terms_grants": pa.table({
            "version": [g[0] for g in grants], "section": [g[1] for g in grants],
            "grant": pa.array([i % 3 for i in range(len(grants))], pa.int32()), "purpose": [g[2] for g in grants],
            "data": pa.array([g[3] for g in grants], STRS), "requires": pa.array([g[4] for g in grants], STRS),
        }, schema=SCHEMAS["terms_grants"]),
        "acceptances": pa.table({
            "account": ids("a", accounts), "version": pa.array(versions),
            "at": pa.array(np.r_[np.full(len(accepted_v1), v1 + 10**12), np.full(len(accepted_v2), v2 + 10**12)]),
            "effective": pa.array(np.r_[np.full(len(accepted_v1), v1), np.full(len(accepted_v2), v2)]),
            "terms_seq": pa.array(np.r_[np.zeros(len(accepted_v1), np.int64), np.ones(len(accepted_v2), np.int64)]),
            "account_ref": pa.array(accounts),
        }, schema=SCHEMAS["acceptances"]),
    }


def _consents(rng: np.random.Generator, n_subjects: int, n_meetings: int, n: int) -> pa.Table:
    all_content = sum(KIND_BITS[k] for k in CONTENT)
    spoken = sum(KIND_BITS[k] for k in ("audio", "video", "chat", "transcript"))
    at = np.sort(rng.integers(T0, T1, n))
    limited, meetings = pa.array(rng.random(n) < 0.03), rng.integers(0, n_meetings, n)
    meeting = pc.if_else(limited, ids("m", meetings), pa.nulls(n, pa.string()))
    subjects = rng.integers(0, n_subjects, n)
    expires = pa.array(at + rng.integers(10**12, 10**14, n))
    expires = pc.if_else(pa.array(rng.random(n) < 0.1), expires, pa.nulls(n, pa.int64()))
    return pa.table({
        "id": ids("c", np.arange(n)), "subject": ids("u", subjects),
        "purpose": choice(rng, ["ai.training", "ai", "service.improvement"], n, [0.7, 0.1, 0.2]),
        "status": choice(rng, ["given", "refused", "withdrawn"], n, [0.8, 0.12, 0.08]),
        "kinds": pa.array(np.where(rng.random(n) < 0.85, all_content, spoken).astype(np.int32)),
        "meeting": meeting, "self_given": pa.array(rng.random(n) < 0.95), "at": pa.array(at),
        "expires": expires, "seq": pa.array(np.arange(n)), "subject_ref": pa.array(subjects),
        "meeting_ref": pc.if_else(limited, pa.array(meetings), pa.nulls(n, pa.int64())),
    }, schema=SCHEMAS["consents"])


# -- the per-item path: a sample of whole meetings (sources stay inside a meeting) --------

def sample_world(tables: StateTables, size: int, seed: int = 5) -> tuple[Any, list[str]]:
    """A :class:`World` holding ``size``-odd items and every event their decisions read."""
    from consentgate.core import World
    from consentgate.model import (
        Account,
        Consent,
        Content,
        Erasure,
        Group,
        Meeting,
        Participant,
        ServiceData,
        Setting,
        Signals,
        Terms,
        TermsAcceptance,
        User,
    )
    from consentgate.model.times import format_micros

    rng = np.random.default_rng(seed)
    items = tables.items
    n_meetings = tables.meetings.num_rows
    meetings = rng.choice(n_meetings, min(n_meetings, int(size * 0.8) // 4), replace=False)
    in_meeting = pc.is_in(items["meeting_ref"], value_set=pa.array(meetings).cast(items["meeting_ref"].type))
    in_meeting = in_meeting.to_numpy(zero_copy_only=False)
    outside = np.flatnonzero(pc.is_null(items["meeting_ref"]).to_numpy(zero_copy_only=False))
    rows = np.sort(np.r_[np.flatnonzero(in_meeting), rng.choice(outside, min(len(outside), size // 5), False)])
    chosen = plain(items.take(pa.array(rows)))
    parts = tables.participants
    of_sample = pc.is_in(parts["meeting_ref"], value_set=pa.array(meetings).cast(parts["meeting_ref"].type))
    lines = plain(parts.filter(of_sample))
    people = pa.concat_arrays([pc.drop_null(chosen["owner"]).combine_chunks(), lines["subject"].combine_chunks()])
    accounts = pc.unique(chosen["account"])
    pick = lambda table, column, keys: plain(table).filter(pc.is_in(table[column], value_set=keys)).to_pylist()  # noqa: E731
    users = pick(tables.users, "id", people)
    memberships = pick(tables.user_groups, "user_id", people)
    groups = pick(tables.groups, "id", pa.array({m["group_id"] for m in memberships}, pa.string()))
    time = format_micros  # the events take times as text, as in a JSON line
    kinds = list(DATA_KINDS)
    events: list[Any] = [Account(id=a["id"], region=a["region"]) for a in pick(tables.accounts, "id", accounts)]
    events += [Group(id=g["id"], account=g["account"], priority=g["priority"]) for g in groups]
    by_user: dict[str, list[str]] = {}
    for m in memberships:
        by_user.setdefault(m["user_id"], []).append(m["group_id"])
    events += [User(id=u["id"], account=u["account"], groups=by_user.get(u["id"], [])) for u in users]
    grants: dict[str, dict[str, list[Any]]] = {}
    for g in tables.terms_grants.to_pylist():
        grants.setdefault(g["version"], {}).setdefault(g["section"], []).append(
            {"purpose": g["purpose"], "data": g["data"], "requires": g["requires"]})
    effective = {a["version"]: a["effective"] for a in tables.acceptances.to_pylist()}
    events += [Terms.model_validate({"version": v, "effective_at": time(effective[v]),
                                     "sections": [{"id": s, "grants": gs} for s, gs in sections.items()]})
               for v, sections in grants.items()]
    events += [TermsAcceptance(account=a["account"], version=a["version"], at=time(a["at"]))
               for a in pick(tables.acceptances, "account", accounts)]
    targets = pa.concat_arrays([accounts.cast(pa.string()), pa.array([g["id"] for g in groups], pa.string()), people])
    events += [Setting(scope=s["scope"], target=s["target"], key=s["key"], value=s["value"], locked=s["locked"],
                       at=time(s["at"])) for s in pick(tables.settings, "target", targets)]
    events += [Consent(id=c["id"], subject=c["subject"], purpose=c["purpose"], status=c["status"],
                       kinds=[k for k in kinds if c["kinds"] & KIND_BITS[k]], meeting=c["meeting"],
                       method=None if c["self_given"] else "admin_on_behalf", at=time(c["at"]),
                       expires_at=None if c["expires"] is None else time(c["expires"]))
               for c in pick(tables.consents, "subject", people)]
    events += [Meeting(id=m["id"], account=m["account"]) for m in tables.meetings.take(pa.array(meetings)).to_pylist()]
    events += [Participant(meeting=p["meeting"], subject=p["subject"], notified=p["notified"])
               for p in lines.to_pylist()]
    sources: dict[int, list[str]] = {}
    sources_rows = pa.array(rows).cast(tables.sources["item_row"].type)
    for s in plain(tables.sources.filter(pc.is_in(tables.sources["item_row"], value_set=sources_rows))).to_pylist():
        sources.setdefault(s["item_row"], []).append(s["source"])
    for row, item in zip(rows, chosen.to_pylist(), strict=True):
        if item["kind"] in ("telemetry", "usage", "diagnostic"):
            events.append(ServiceData(id=item["item_id"], kind=item["kind"], account=item["account"],
                                      user=item["owner"], at=time(item["created"])))
        else:
            events.append(Content(id=item["item_id"], kind=item["kind"], account=item["account"], owner=item["owner"],
                                  meeting=item["meeting"], created_at=time(item["created"]), uri=item["uri"],
                                  sha256=item["sha256"], derived_from=sources.get(int(row), []),
                                  signals=Signals(tdm_reservation=1) if item["train_reserved"] else None))
        if item["erased"] is not None:
            events.append(Erasure(item=item["item_id"], at=time(item["erased"])))
    world = World()
    world.apply_many(events)
    return world, chosen["item_id"].to_pylist()


# -- the run ---------------------------------------------------------------------------------

def rss_mib() -> float:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds() -> float:
    """User and system CPU time of this process so far, DuckDB's threads included: on a
    shared machine it moves less than the wall time when other work takes the cores."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_while(function: Any) -> tuple[float, float, Any]:
    """Seconds, peak RSS (MiB, sampled every 5 ms) while ``function`` runs, its value."""
    peak, done = [rss_mib()], threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], rss_mib())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        seconds, value = timed(function)
    finally:
        done.set()
        sampler.join()
    return seconds, max(peak[0], rss_mib()), value


FLOOR = """
    WITH yes AS (SELECT DISTINCT subject_ref FROM consents
                 WHERE purpose IN ('ai', 'ai.training') AND status = 'given' AND "at" <= {t}),
         bad AS (SELECT DISTINCT p.meeting_ref FROM participants p ANTI JOIN yes y ON y.subject_ref = p.subject_ref)
    SELECT i.item_id FROM items i ANTI JOIN bad b ON b.meeting_ref = i.meeting_ref WHERE i.created <= {t}"""


def floor(tables: StateTables) -> tuple[float, int]:
    """The plain anti-join: items minus those of meetings with a participant who lacks a
    given ai.training consent (simplified rules: no kinds, times, settings, terms...)."""
    import duckdb

    connection = duckdb.connect()
    for name in ("items", "consents", "participants"):
        connection.register(name, getattr(tables, name))
    sql = FLOOR.format(t=int(AT.timestamp() * 1e6))
    seconds, result = min((timed(lambda: connection.sql(sql).to_arrow_table()) for _ in range(3)),
                          key=lambda pair: pair[0])
    connection.close()
    return seconds, result.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000_000)
    parser.add_argument("--spark-items", type=int, default=1_000_000, help="0 skips Spark")
    parser.add_argument("--sample", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = on_duckdb(args.items, args.repeat, args.sample)
    gc.collect()
    if args.spark_items:
        rows += spark(args.spark_items, Policy.default())
    print(f"## Bulk selection (`benchmarks/bench_select.py --items {args.items}`)\n")
    print(f"Machine: {machine()}.\n")
    print(table(rows, ("what", "items", "time", "rate", "peak RSS", "note")))


def on_duckdb(n: int, repeat: int, sample: int) -> list[tuple[str, ...]]:
    """The world, ``select`` on DuckDB, the floor and the per-item path, at ``n`` items."""
    policy = Policy.default()
    seconds, tables = timed(lambda: compact(build(n)))
    gc.collect()
    pa.default_memory_pool().release_unused()
    world_rss = rss_mib()
    rows = [("world built as Arrow tables", f"{n:,}", f"{seconds:.1f} s", "", f"{world_rss:,.0f} MiB",
             "vectorised; the state every figure below reads")]
    runs, cpu = [], []
    for _ in range(repeat):
        started = cpu_seconds()
        runs.append(peak_while(lambda: select(tables, "ai.training", AT, policy)))
        cpu.append(cpu_seconds() - started)
    best, _, result = min(runs, key=lambda run: run[0])
    peak = max(run[1] for run in runs)
    allowed = int(pc.sum(result["allowed"]).as_py())
    rows.append(("`select` on DuckDB (ai.training)", f"{n:,}", f"{best:.2f} s", f"{n / best / 1e6:.1f} M items/s",
                 f"{peak:,.0f} MiB", f"best of {repeat}; CPU {min(cpu):.2f} s (best); +{peak - world_rss:,.0f} MiB "
                 f"over the world; {allowed:,} allowed"))
    started = cpu_seconds()
    seconds, count = floor(tables)
    floor_cpu = (cpu_seconds() - started) / 3
    rows.append(("floor: plain DuckDB anti-join", f"{n:,}", f"{seconds:.2f} s", f"{n / seconds / 1e6:.1f} M items/s",
                 "", f"best of 3; CPU {floor_cpu:.2f} s (mean); {count:,} selected"))
    rows += per_item(tables, policy, sample, n)
    return rows


def per_item(tables: StateTables, policy: Policy, size: int, n: int) -> list[tuple[str, ...]]:
    """decide_many over a sample, extrapolated to ``n``; and whether it agrees with select."""
    from consentgate.core import decide_many

    world, sample = sample_world(tables, size)
    seconds, decisions = timed(lambda: decide_many(world, [(item, "ai.training", AT) for item in sample], policy))
    bulk = select(tables, "ai.training", AT, policy)
    by_id = dict(zip(bulk["item_id"].to_pylist(), zip(bulk["allowed"].to_pylist(), bulk["reasons"].to_pylist())))
    differ = sum(by_id[d.item] != (d.allowed, list(dict.fromkeys(d.codes))) for d in decisions)
    rate = len(sample) / seconds
    return [("per-item path: `decide_many`", f"{len(sample):,} sample", f"{seconds:.2f} s", f"{rate:,.0f} items/s",
             "", f"{n / rate:,.0f} s for {n:,} extrapolated; {differ} of the sample differ from `select`")]


def spark(n: int, policy: Policy) -> list[tuple[str, ...]]:
    """``select`` on Spark local[2] at ``n`` items: session start, a first and a warm run."""
    from consentgate.bulk import spark_session

    tables = build(n)
    started, _ = timed(spark_session)
    first, _ = timed(lambda: select(tables, "ai.training", AT, policy, engine="spark"))
    warm, result = timed(lambda: select(tables, "ai.training", AT, policy, engine="spark"))
    duck, reference = timed(lambda: select(tables, "ai.training", AT, policy))
    same = "same table as DuckDB" if result.equals(reference) else "DIFFERS from DuckDB"
    return [("`select` on Spark local[2]", f"{n:,}", f"{warm:.2f} s", f"{n / warm / 1e6:.2f} M items/s", "",
             f"warm run; first run {first:.1f} s, session start {started:.1f} s; {same} ({duck:.2f} s there)")]


if __name__ == "__main__":
    main()
