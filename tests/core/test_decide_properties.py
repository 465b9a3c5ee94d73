"""Random event histories: ``decide`` equals a naive reference model, and invariants hold.

The reference model below reads the contract literally and scans every event for every
question: no indexes, no memory, no shortcuts. The worlds are small but dense (few ids,
few days), so ties, locks, overlapping consents and multi-grant terms are common.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentgate.core import Evaluator, Policy, World, decide, decide_many
from consentgate.core.settings import effective_setting
from consentgate.model import (
    Account,
    Consent,
    Content,
    Erasure,
    Group,
    Participant,
    ServiceData,
    Setting,
    Terms,
    TermsAcceptance,
    User,
    parse_event,
)
from consentgate.model.times import to_micros

ACCOUNTS, GROUPS, SUBJECTS, MEETINGS = ["a1", "a2"], ["g1", "g2", "g3"], ["u1", "u2", "guest"], ["m1", "m2"]
ITEMS = ["i1", "i2", "i3", "i4"]
KINDS = ["audio", "chat", "telemetry"]
GRANT_PURPOSES = ["ai", "ai.training", "ai.training", "service", "service.provision"]
CONSENT_PURPOSES = ["ai", "ai.training", "ai.training.x", "service.provision"]
ASKED_PURPOSES = [
    "ai",
    "ai.training",
    "ai.training",
    "ai.training",
    "ai.training.x",
    "service",
    "service.provision",
    "marketing",
]
CONDITIONS = ["consent", "consent", "setting:k1", "setting:k1", "setting:k2", "notice:rec"]
SIGNALS = [
    None,
    {"tdm_reservation": 1},
    {"tdm_reservation": 0},
    {"ai_preferences": "train-ai=n"},
    {"ai_preferences": "search=n"},
    {"training_mining": {"entries": {"cawg.ai_training": {"use": "notAllowed"}}}},
]
Why = tuple[str, str | None, str | None, str | None]

days = st.integers(1, 8)
early = st.integers(1, 4)


def day(n: int, hour: int = 0) -> str:
    return f"2024-01-{n:02d}T{hour:02d}:00:00Z"


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@st.composite
def histories(draw: st.DrawFn) -> list[Any]:
    pick = lambda options: draw(st.sampled_from(options))  # noqa: E731
    events: list[dict[str, Any]] = [
        {"type": "account", "id": a, "region": pick(["EU", "US", None])} for a in ACCOUNTS
    ]
    events += [{"type": "group", "id": g, "account": "a1", "priority": pick([None, 1, 2])} for g in GROUPS]
    events += [
        {
            "type": "user",
            "id": u,
            "account": pick(ACCOUNTS),
            "groups": draw(st.lists(st.sampled_from(GROUPS), unique=True, max_size=3)),
        }
        for u in ("u1", "u2")
    ]
    grant = st.fixed_dictionaries(
        {
            "purpose": st.sampled_from(GRANT_PURPOSES),
            "data": st.lists(st.sampled_from(KINDS), min_size=2, unique=True),
            "requires": st.lists(st.sampled_from(CONDITIONS), max_size=2, unique=True),
        }
    )
    for v in range(draw(st.integers(1, 2))):
        sections = [
            {"id": str(s), "grants": draw(st.lists(grant, min_size=1, max_size=2))}
            for s in range(draw(st.integers(1, 2)))
        ]
        events.append(
            {"type": "terms", "version": f"v{v}", "effective_at": day(draw(early)), "sections": sections}
        )
        events += [
            {"type": "terms_acceptance", "account": account, "version": f"v{v}", "at": day(draw(early))}
            for account in ACCOUNTS
            if draw(st.integers(0, 4))
        ]
    events += [{"type": "meeting", "id": m, "account": pick(ACCOUNTS)} for m in MEETINGS]
    events += [
        {
            "type": "participant",
            "meeting": pick(MEETINGS),
            "subject": pick(SUBJECTS),
            "notified": pick([[], ["rec"]]),
        }
        for _ in range(draw(st.integers(0, 4)))
    ]
    for index, item in enumerate(ITEMS):
        events.append(
            {
                "type": "content",
                "id": item,
                "kind": pick(KINDS[:2]),
                "account": pick(ACCOUNTS),
                "owner": pick(SUBJECTS),
                "meeting": pick([None, *MEETINGS]),
                "created_at": day(draw(early)),
                "derived_from": draw(
                    st.lists(st.sampled_from(ITEMS[:index] or ["i1"]), unique=True, max_size=2)
                )
                if index
                else [],
                "signals": pick(SIGNALS),
            }
        )
    events.append(
        {
            "type": "service_data",
            "id": "s1",
            "kind": "telemetry",
            "account": pick(ACCOUNTS),
            "user": pick([None, "u1"]),
            "at": day(draw(early)),
        }
    )
    for n in range(draw(st.integers(0, 8))):
        consent = {
            "type": "consent",
            "id": f"c{n}",
            "subject": pick(SUBJECTS),
            "purpose": pick(CONSENT_PURPOSES),
            "status": pick(["given", "given", "given", "refused", "withdrawn"]),
            "kinds": draw(maybe(st.lists(st.sampled_from(KINDS), min_size=1, unique=True))),
            "meeting": pick([None, None, *MEETINGS]),
            "by": pick([None, None, "boss"]),
            "method": pick([None, "ui", "admin_on_behalf"]),
            "at": day(draw(days)),
            "expires_at": draw(maybe(days.map(day))),
        }
        events.append({key: value for key, value in consent.items() if key != "kinds" or value is not None})
    for _ in range(draw(st.integers(0, 10))):
        scope = pick(["account", "group", "user"])
        target = pick({"account": ACCOUNTS, "group": GROUPS, "user": SUBJECTS}[scope])
        events.append(
            {
                "type": "setting",
                "scope": scope,
                "target": target,
                "key": pick(["k1", "k1", "k2"]),
                "value": draw(st.booleans()),
                "locked": draw(st.booleans()),
                "at": day(draw(days)),
            }
        )
    events += [
        {"type": "delete", "item": pick([*ITEMS, "s1"]), "at": day(draw(days))}
        for _ in range(draw(st.integers(0, 1)))
    ]
    return [parse_event(event) for event in draw(st.permutations(events))]


question = st.tuples(
    st.sampled_from([*ITEMS, *ITEMS, "s1", "nope"]),
    st.sampled_from(ASKED_PURPOSES),
    st.builds(
        lambda d, h: datetime(2024, 1, d, h, tzinfo=UTC),
        st.sampled_from([2, 4, 5, 6, 7, 8, 9, 9, 9]),
        st.sampled_from([0, 12]),
    ),
)
questions = st.lists(question, min_size=1, max_size=12)
policies = st.builds(
    lambda regions, k1: Policy(frozenset(regions), {"k1": k1}),
    st.sets(st.sampled_from(["EU", "US"])),
    st.booleans(),
)


@st.composite
def setting_histories(draw: st.DrawFn) -> list[Any]:
    """Dense settings for one key: three groups, one user, four days, many ties."""
    pick = lambda options: draw(st.sampled_from(options))  # noqa: E731
    events: list[dict[str, Any]] = [{"type": "account", "id": "a1"}]
    events += [
        {"type": "group", "id": g, "account": "a1", "priority": pick([None, None, 1, 1, 2])} for g in GROUPS
    ]
    events.append(
        {
            "type": "user",
            "id": "u1",
            "account": "a1",
            "groups": draw(st.lists(st.sampled_from(GROUPS), unique=True, max_size=3)),
        }
    )
    for _ in range(draw(st.integers(0, 12))):
        scope = pick(["account", "group", "group", "group", "user"])
        target = {"account": "a1", "group": pick(GROUPS), "user": "u1"}[scope]
        events.append(
            {
                "type": "setting",
                "scope": scope,
                "target": target,
                "key": "k1",
                "value": draw(st.booleans()),
                "locked": pick([False, False, True]),
                "at": day(draw(st.integers(1, 4))),
            }
        )
    return [parse_event(event) for event in draw(st.permutations(events))]


@st.composite
def consent_histories(draw: st.DrawFn) -> list[Any]:
    """Dense consents: one grant needing consent, a meeting, two people, four days."""
    pick = lambda options: draw(st.sampled_from(options))  # noqa: E731
    events: list[dict[str, Any]] = [
        {"type": "account", "id": "a1", "region": pick(["EU", "US"])},
        {
            "type": "terms",
            "version": "v",
            "effective_at": day(1),
            "sections": [
                {
                    "id": "1",
                    "grants": [
                        {"purpose": "ai.training", "data": ["audio", "chat"], "requires": ["consent"]}
                    ],
                }
            ],
        },
        {"type": "terms_acceptance", "account": "a1", "version": "v", "at": day(1)},
        {"type": "meeting", "id": "m1", "account": "a1"},
        {"type": "participant", "meeting": "m1", "subject": "guest"},
        {
            "type": "content",
            "id": "i1",
            "kind": pick(["audio", "chat"]),
            "account": "a1",
            "owner": "u1",
            "meeting": pick([None, "m1"]),
            "created_at": day(1),
        },
    ]
    for n in range(draw(st.integers(0, 10))):
        consent = {
            "type": "consent",
            "id": f"c{n}",
            "subject": pick(["u1", "guest"]),
            "purpose": pick(["ai", "ai", "ai.training", "ai.training", "ai.training.x"]),
            "status": pick(["given", "given", "refused", "withdrawn"]),
            "kinds": draw(maybe(st.lists(st.sampled_from(["audio", "chat"]), min_size=1, unique=True))),
            "meeting": pick([None, None, "m1", "m2"]),
            "by": pick([None, None, "boss"]),
            "method": pick([None, "ui", "admin_on_behalf"]),
            "at": day(draw(st.integers(1, 3))),
            "expires_at": draw(maybe(st.integers(2, 5).map(day))),
        }
        events.append({key: value for key, value in consent.items() if key != "kinds" or value is not None})
    return [parse_event(event) for event in draw(st.permutations(events))]


# -- the reference model ------------------------------------------------------------------


def covers(granted: str, asked: str) -> bool:
    return asked == granted or asked.startswith(granted + ".")


def latest(events: list[Any], at: datetime, keep: Any) -> Any:
    found = [(e.at, index, e) for index, e in enumerate(events) if keep(e) and e.at <= at]
    return max(found, key=lambda f: (f[0], f[1]))[2] if found else None


def reserved(item: Any) -> bool:
    signals = item.signals if isinstance(item, Content) else None
    if signals is None:
        return False
    entries = (signals.training_mining or {}).get("entries", {})
    preferences = dict(p.strip().split("=") for p in (signals.ai_preferences or "").split(",") if "=" in p)
    return (
        signals.tdm_reservation == 1
        or entries.get("cawg.ai_training", {}).get("use") == "notAllowed"
        or preferences.get("train-ai") == "n"
    )


def reference(
    events: list[Any], item_id: str, purpose: str, at: datetime, policy: Policy, chain: tuple[str, ...] = ()
) -> tuple[bool, set[Why]]:
    items = {e.id: e for e in events if isinstance(e, Content | ServiceData)}
    item = items.get(item_id)
    if item is None or (item.created_at if isinstance(item, Content) else item.at) > at:
        return False, {("item.unknown", None, None, None)}
    if any(isinstance(e, Erasure) and e.item == item_id and e.at <= at for e in events):
        return False, {("item.deleted", None, None, None)}
    accepted = {
        e.version
        for e in events
        if isinstance(e, TermsAcceptance) and e.account == item.account and e.at <= at
    }
    in_force = [
        (e.effective_at, i, e)
        for i, e in enumerate(events)
        if isinstance(e, Terms) and e.version in accepted and e.effective_at <= at
    ]
    if not in_force:
        return False, {("terms.not_accepted", None, None, None)}
    terms = max(in_force, key=lambda f: (f[0], f[1]))[2]
    grants = [
        g for s in terms.sections for g in s.grants if item.kind in g.data and covers(g.purpose, purpose)
    ]
    if not grants:
        return False, {("purpose.not_granted", None, None, None)}
    failing: set[Why] = set()
    holds = False
    for grant in grants:
        fails = set().union(*(condition(events, item, c, purpose, at, policy) for c in grant.requires))
        holds = holds or not fails
        failing |= fails
    reasons = set() if holds else failing
    if reserved(item) and (covers("ai.training", purpose) or covers(purpose, "ai.training")):
        reasons.add(("signal.reserved", None, None, None))
    for source in getattr(item, "derived_from", []):
        if (
            source in chain + (item_id,)
            or not reference(events, source, purpose, at, policy, chain + (item_id,))[0]
        ):
            reasons.add(("source.ineligible", None, None, source))
    return not reasons, reasons


def condition(
    events: list[Any], item: Any, name: str, purpose: str, at: datetime, policy: Policy
) -> set[Why]:
    owner = item.owner if isinstance(item, Content) else item.user
    meeting = item.meeting if isinstance(item, Content) else None
    lines = [e for e in events if isinstance(e, Participant) and meeting is not None and e.meeting == meeting]
    if name.startswith("notice:"):
        return {
            ("notice.missing", line.subject, None, None) for line in lines if name[7:] not in line.notified
        }
    if name.startswith("setting:"):
        return (
            set()
            if setting(events, owner, item.account, name[8:], at, policy)
            else {("setting.off", None, name[8:], None)}
        )
    subjects = ([owner] if owner else []) + [line.subject for line in lines]
    if not subjects:
        return {("consent.missing", None, None, None)}
    region = next(e.region for e in events if isinstance(e, Account) and e.id == item.account)
    found: set[Why] = set()
    for subject in subjects:
        consent = latest(
            events,
            at,
            lambda e, s=subject: (
                isinstance(e, Consent)
                and e.subject == s
                and covers(e.purpose, purpose)
                and item.kind in e.kinds
                and e.meeting in (None, meeting)
            ),
        )
        if consent is None:
            code = "consent.missing"
        elif consent.status != "given":
            code = f"consent.{consent.status}"
        elif consent.expires_at is not None and consent.expires_at <= at:
            code = "consent.expired"
        elif region in policy.self_consent_only_regions and (
            consent.by != subject or consent.method == "admin_on_behalf"
        ):
            code = "consent.not_self"
        else:
            continue
        found.add((code, subject, None, None))
    return found


def setting(
    events: list[Any], owner: str | None, account: str, key: str, at: datetime, policy: Policy
) -> bool:
    def level(scope: str, target: str) -> Any:
        return latest(
            events,
            at,
            lambda e: isinstance(e, Setting) and (e.scope, e.target, e.key) == (scope, target, key),
        )

    top = level("account", account)
    if top is not None and top.locked:
        return bool(top.value)
    users = [e for e in events if isinstance(e, User) and e.id == owner]
    listed = list(dict.fromkeys(users[-1].groups)) if users else []
    priority = {e.id: e.priority for e in events if isinstance(e, Group)}
    ranked = sorted(listed, key=lambda g: (priority.get(g) is None, priority.get(g) or 0, listed.index(g)))
    group_values = [v for v in (level("group", g) for g in ranked) if v is not None]
    for value in group_values:
        if value.locked:
            return bool(value.value)
    own = level("user", owner) if owner else None
    for candidate in (own, *group_values[:1], top):
        if candidate is not None:
            return bool(candidate.value)
    return policy.setting_default(key)


# -- properties ---------------------------------------------------------------------------


def world_of(events: list[Any]) -> World:
    world = World()
    world.apply_many(events)
    return world


def why(decision: Any) -> set[Why]:
    return {(r.code, r.subject, r.key, r.source) for r in decision.reasons}


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(histories(), questions, policies)
def test_decide_equals_the_reference_model(events, asked, policy):
    world = world_of(events)
    for item, purpose, at in asked:
        decision = decide(world, item, purpose, at, policy)
        assert (decision.allowed, why(decision)) == reference(events, item, purpose, at, policy)


@FAST
@given(setting_histories(), st.integers(2, 5), policies)
def test_effective_setting_equals_the_reference_model(events, asked, policy):
    at = datetime(2024, 1, asked, tzinfo=UTC)
    effective = effective_setting(world_of(events), policy, "u1", "a1", "k1", to_micros(at))
    assert effective.value == setting(events, "u1", "a1", "k1", at, policy)


@FAST
@given(consent_histories(), st.lists(st.integers(1, 5), min_size=1, max_size=5), policies)
def test_consent_decisions_equal_the_reference_model(events, asked, policy):
    world = world_of(events)
    for n in asked:
        at = datetime(2024, 1, n, tzinfo=UTC)
        decision = decide(world, "i1", "ai.training", at, policy)
        assert (decision.allowed, why(decision)) == reference(events, "i1", "ai.training", at, policy)


def dated(event: Any) -> datetime | None:
    for name in ("at", "created_at", "effective_at"):
        if hasattr(event, name):
            return getattr(event, name)
    return None


@FAST
@given(histories(), questions, policies)
def test_events_dated_after_t_change_nothing_at_t(events, asked, policy):
    world = world_of(events)
    for item, purpose, at in asked:
        past = world_of([e for e in events if (dated(e) or at) <= at])
        assert (
            decide(past, item, purpose, at, policy).to_json()
            == decide(world, item, purpose, at, policy).to_json()
        )


withdrawals = st.builds(
    lambda subject, purpose, kinds, meeting, n: parse_event(
        {
            "type": "consent",
            "id": "w",
            "subject": subject,
            "purpose": purpose,
            "status": "withdrawn",
            "kinds": kinds,
            "meeting": meeting,
            "at": day(n),
        }
    ),
    st.sampled_from(SUBJECTS),
    st.sampled_from(CONSENT_PURPOSES),
    st.lists(st.sampled_from(KINDS), min_size=1, unique=True),
    st.sampled_from([None, *MEETINGS]),
    days,
)


@FAST
@given(histories(), questions, policies, withdrawals, st.integers(0, 100))
def test_a_withdrawal_never_turns_a_denial_into_an_allow(events, asked, policy, withdrawal, where):
    before = world_of(events)
    after = world_of(events[: where % (len(events) + 1)] + [withdrawal] + events[where % (len(events) + 1) :])
    for item, purpose, at in asked:
        if not decide(before, item, purpose, at, policy).allowed:
            assert not decide(after, item, purpose, at, policy).allowed


@FAST
@given(histories(), questions, policies)
def test_batch_and_long_lived_evaluator_equal_single_decisions(events, asked, policy):
    world = world_of(events)
    single = [decide(world, *question, policy).to_json() for question in asked]
    assert [d.to_json() for d in decide_many(world, asked + asked, policy)] == single + single
    forgetful = Evaluator(world, policy, memory=2)
    assert [forgetful.decide(*question).to_json() for question in asked] == single


@settings(max_examples=60, deadline=None)
@given(histories(), questions, policies)
def test_applying_each_event_twice_changes_nothing(events, asked, policy):
    once, twice = world_of(events), world_of([e for event in events for e in (event, event)])
    for question in asked:
        assert decide(twice, *question, policy).to_json() == decide(once, *question, policy).to_json()
