"""Random worlds for the differential tests, and the comparison with ``decide``.

The worlds are small and dense (few ids, few days) so that the rules' corners are common:
ties on time, locks at several levels, groups without a priority, consents limited by
kind and meeting, expired or given on someone's behalf, several terms versions and
acceptances, derived chains (with cycles and missing sources), signals, erasures,
notices and service data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow.compute as pc
from hypothesis import strategies as st

from consentgate.bulk._select import judge_all
from consentgate.core import Policy, World, decide
from consentgate.core.terms import terms_in_force
from consentgate.model import parse_event
from consentgate.model.times import to_micros

ACCOUNTS, GROUPS, SUBJECTS, MEETINGS = ["a1", "a2", "a3"], ["g1", "g2", "g3"], ["u1", "u2", "u3", "guest"], ["m1", "m2"]
ITEMS, SERVICE = ["i1", "i2", "i3", "i4", "i5", "i6"], ["s1", "s2"]
CONTENT_KINDS, SERVICE_KINDS = ["audio", "chat", "transcript", "summary"], ["telemetry", "usage"]
GRANT_PURPOSES = ["ai", "ai.training", "ai.training", "ai.training", "service", "service.provision",
                  "service.improvement"]
CONSENT_PURPOSES = ["ai", "ai.training", "ai.training", "ai.training.x", "service", "service.provision"]
PURPOSES = ["ai", "ai.training", "ai.training", "ai.training", "ai.training.x", "service", "service.provision",
            "service.improvement", "marketing"]
CONDITIONS = ["consent", "consent", "consent", "setting:k1", "setting:k2", "notice:rec", "notice:sum"]
SIGNALS = [None, None, {"tdm_reservation": 1}, {"tdm_reservation": 0}, {"ai_preferences": "train-ai=n"},
           {"ai_preferences": "search=n"},
           {"training_mining": {"entries": {"c2pa.ai_training": {"use": "constrained"}}}},
           {"training_mining": {"entries": {"cawg.ai_generative_training": {"use": "notAllowed"}}}}]
REGIONS = ["EU", "US", "UK", None]


def day(n: int, hour: int = 0) -> str:
    return f"2024-01-{n:02d}T{hour:02d}:00:00Z"


@st.composite
def worlds(draw: st.DrawFn, loadable: bool = False) -> list[Any]:
    """Events of a random world, in a random arrival order. ``loadable`` keeps to what the
    store's import accepts (every reference resolves)."""
    pick = lambda options: draw(st.sampled_from(options))  # noqa: E731
    days, early = st.integers(1, 6).map(day), st.integers(1, 3).map(day)
    events: list[dict[str, Any]] = [{"type": "account", "id": a, "region": pick(REGIONS)} for a in ACCOUNTS]
    events += [{"type": "group", "id": g, "account": pick(ACCOUNTS), "priority": pick([None, 1, 2, 2])}
               for g in GROUPS]
    events += [{"type": "user", "id": u, "account": pick(ACCOUNTS),
                "groups": draw(st.lists(st.sampled_from(GROUPS), max_size=4))} for u in ("u1", "u2", "u3")]
    grant = st.fixed_dictionaries({
        "purpose": st.sampled_from(GRANT_PURPOSES),
        "data": st.lists(st.sampled_from(CONTENT_KINDS + SERVICE_KINDS), min_size=2, max_size=5, unique=True),
        "requires": st.lists(st.sampled_from(CONDITIONS), max_size=3),
    })
    for v in range(draw(st.integers(1, 3))):
        sections = [{"id": f"{v}.{s}", "grants": draw(st.lists(grant, min_size=0, max_size=2))}
                    for s in range(draw(st.integers(1, 3)))]
        # A training clause for all content in most versions, under random conditions.
        if draw(st.integers(0, 3)):
            sections.append({"id": f"{v}.t", "grants": [{
                "purpose": pick(["ai", "ai.training"]), "data": CONTENT_KINDS,
                "requires": draw(st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=3))}]})
        events.append({"type": "terms", "version": f"v{v}", "effective_at": draw(early), "sections": sections})
        events += [{"type": "terms_acceptance", "account": account, "version": f"v{v}", "at": draw(early)}
                   for account in ACCOUNTS for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2])))]
    events += [{"type": "meeting", "id": m, "account": pick(ACCOUNTS)} for m in MEETINGS]
    events += [{"type": "participant", "meeting": pick(MEETINGS), "subject": pick(SUBJECTS),
                "notified": draw(st.lists(st.sampled_from(["rec", "sum"]), unique=True))}
               for _ in range(draw(st.integers(0, 6)))]
    sources = ITEMS if loadable else [*ITEMS, "ghost"]
    for item in ITEMS:
        events.append({"type": "content", "id": item, "kind": pick(CONTENT_KINDS), "account": pick(ACCOUNTS),
                       "owner": pick(SUBJECTS), "meeting": pick([None, None, *MEETINGS]), "created_at": draw(days),
                       "derived_from": draw(st.lists(st.sampled_from(sources), max_size=3)),
                       "signals": pick(SIGNALS)})
    events += [{"type": "service_data", "id": s, "kind": pick(SERVICE_KINDS), "account": pick(ACCOUNTS),
                "user": pick([None, "u1", "guest"]), "at": draw(days)} for s in SERVICE]
    # Most people said yes early on, so that later events have something to change.
    events += [{"type": "consent", "id": f"base-{subject}", "subject": subject, "purpose": pick(["ai", "ai.training"]),
                "status": "given", "at": day(1), "by": pick([subject, subject, "boss"]),
                "method": pick(["ui", "ui", "admin_on_behalf"])} for subject in SUBJECTS if draw(st.integers(0, 3))]
    for n in range(draw(st.integers(0, 12))):
        subject = pick(SUBJECTS)
        consent = {"type": "consent", "id": f"c{n}", "subject": subject, "purpose": pick(CONSENT_PURPOSES),
                   "status": pick(["given", "given", "given", "refused", "withdrawn"]),
                   "kinds": draw(st.none() | st.lists(st.sampled_from(CONTENT_KINDS + SERVICE_KINDS), min_size=1,
                                                      unique=True)),
                   "meeting": pick([None, None, *MEETINGS]), "by": pick([None, None, subject, "boss"]),
                   "method": pick([None, "ui", "admin_on_behalf"]), "at": draw(days),
                   "expires_at": draw(st.none() | days)}
        events.append({key: value for key, value in consent.items() if value is not None or key == "meeting"})
    for _ in range(draw(st.integers(0, 12))):
        scope = pick(["account", "group", "group", "user"])
        target = pick({"account": ACCOUNTS, "group": GROUPS, "user": SUBJECTS}[scope])
        events.append({"type": "setting", "scope": scope, "target": target, "key": pick(["k1", "k1", "k2"]),
                       "value": draw(st.booleans()), "locked": draw(st.booleans()), "at": draw(days)})
    events += [{"type": "delete", "item": pick([*ITEMS, *SERVICE]), "at": draw(days)}
               for _ in range(draw(st.integers(0, 2)))]
    return [parse_event(event) for event in draw(st.permutations(events))]


questions = st.lists(
    st.tuples(st.sampled_from(PURPOSES),
              st.builds(lambda d, h: datetime(2024, 1, d, h, tzinfo=UTC),
                        st.integers(2, 7), st.sampled_from([0, 12]))),
    min_size=1, max_size=3,
)
policies = st.builds(
    lambda regions, k1, k2: Policy(frozenset(regions), {"k1": k1, "k2": k2}),
    st.sets(st.sampled_from(["EU", "US", "UK"])), st.booleans(), st.booleans(),
)
kind_filters = st.none() | st.lists(st.sampled_from(CONTENT_KINDS + SERVICE_KINDS), min_size=1, unique=True)


def world_of(events: list[Any]) -> World:
    world = World()
    world.apply_many(events)
    return world


def expected_row(world: World, item: str, purpose: str, at: datetime, policy: Policy) -> dict[str, Any]:
    """What ``select`` must say about one item: decide's answer in the result's terms."""
    decision = decide(world, item, purpose, at, policy)
    record = world.item_record(item)
    assert record is not None
    terms = terms_in_force(world, record.account, to_micros(at))
    return {
        "item_id": item,
        "allowed": decision.allowed,
        "reasons": list(dict.fromkeys(decision.codes)),
        "terms_version": None if terms is None else terms.version,
        "section": next((entry["section"] for entry in decision.basis if "section" in entry), None),
        "consent_ids": list(dict.fromkeys(entry["consent"] for entry in decision.basis if "consent" in entry)),
    }


def assert_select_equals_decide(world: World, tables: Any, purpose: str, at: datetime, policy: Policy,
                                kinds: list[str] | None = None, engine: str = "duckdb", packed_lines: int = 4,
                                chunk_rows: int = 1 << 21) -> int:
    """``select`` lists exactly the items that exist at ``at`` (of ``kinds``), each as
    ``decide`` judges it. Returns how many rows were compared."""
    result = judge_all(tables, purpose, at, policy, kinds, engine, packed_lines, chunk_rows)
    got = [{key: row[key] for key in ("item_id", "allowed", "reasons", "terms_version", "section", "consent_ids")}
           for row in result.to_pylist()]
    t = to_micros(at)
    listed = [record.id for record in (world.item_record(event.id) for event in world.items())
              if record is not None and record.created <= t and (kinds is None or record.kind in kinds)]
    want = [expected_row(world, item, purpose, at, policy) for item in listed]
    assert sorted(got, key=lambda row: row["item_id"]) == sorted(want, key=lambda row: row["item_id"])
    return len(got)


def assert_allowed_share_equals_select(tables: Any, purpose: str, at: datetime, policy: Policy,
                                       kinds: list[str] | None = None, engine: str = "duckdb") -> None:
    """``select_allowed`` gives ``select``'s allowed rows, their rows among the items, and
    the reason codes of its denied rows counted."""
    from consentgate.bulk import select, select_allowed

    result = select(tables, purpose, at, policy, kinds, engine)
    rows, positions, excluded = select_allowed(tables, purpose, at, policy, kinds, engine)
    kept = result.filter(result["allowed"])
    assert rows.schema == kept.schema
    assert rows.to_pylist() == kept.to_pylist()
    item_ids = tables.items["item_id"].to_pylist()
    assert [item_ids[row] for row in positions] == kept["item_id"].to_pylist()
    counted: dict[str, int] = {}
    for reasons in result.filter(pc.invert(result["allowed"]))["reasons"].to_pylist():
        for code in reasons:
            counted[code] = counted.get(code, 0) + 1
    assert excluded == dict(sorted(counted.items()))
