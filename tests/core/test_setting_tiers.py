"""Effective settings: each tier of the resolution, in order of strength."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from consentgate.core import Policy, decide
from consentgate.core.settings import effective_setting
from consentgate.model import parse_event
from consentgate.model.times import to_micros


def day(n: int) -> str:
    return f"2024-03-{n:02d}T00:00:00Z"


def _micros(n: int) -> int:
    return to_micros(datetime(2024, 3, n, tzinfo=UTC))


def setting(scope: str, target: str, value: bool, at: int = 1, locked: bool = False) -> dict[str, Any]:
    return {
        "type": "setting",
        "scope": scope,
        "target": target,
        "key": "k",
        "value": value,
        "locked": locked,
        "at": day(at),
    }


GROUPS: list[dict[str, Any]] = [
    {"type": "account", "id": "acme"},
    {"type": "group", "id": "g1", "account": "acme", "priority": 1},
    {"type": "group", "id": "g2", "account": "acme", "priority": 2},
    {"type": "group", "id": "g2b", "account": "acme", "priority": 2},
    {"type": "group", "id": "gx", "account": "acme"},
    {"type": "group", "id": "gy", "account": "acme"},
]

CASES = [
    # (case, the user's groups, setting events, expected (value, level, target))
    (
        "account lock wins over everything",
        ["g1"],
        [
            setting("account", "acme", False, locked=True),
            setting("group", "g1", True, locked=True),
            setting("user", "u", True),
        ],
        (False, "account_lock", "acme"),
    ),
    (
        "group lock wins over the user",
        ["g2"],
        [setting("group", "g2", False, locked=True), setting("user", "u", True)],
        (False, "group_lock", "g2"),
    ),
    (
        "highest-priority locking group",
        ["g2", "g1"],
        [setting("group", "g2", False, locked=True), setting("group", "g1", True, locked=True)],
        (True, "group_lock", "g1"),
    ),
    (
        "a lower group's lock beats a higher group's value",
        ["g1", "g2"],
        [setting("group", "g1", True), setting("group", "g2", False, locked=True)],
        (False, "group_lock", "g2"),
    ),
    (
        "user value over group values",
        ["g1"],
        [setting("group", "g1", True), setting("user", "u", False)],
        (False, "user", "u"),
    ),
    (
        "highest-priority group's value",
        ["g2", "g1"],
        [setting("group", "g2", False), setting("group", "g1", True)],
        (True, "group", "g1"),
    ),
    (
        "groups with a priority rank before those without",
        ["gx", "g2"],
        [setting("group", "gx", True), setting("group", "g2", False)],
        (False, "group", "g2"),
    ),
    (
        "groups without a priority rank in list order",
        ["gy", "gx"],
        [setting("group", "gx", True), setting("group", "gy", False)],
        (False, "group", "gy"),
    ),
    (
        "equal priorities rank in list order",
        ["g2b", "g2"],
        [setting("group", "g2", True), setting("group", "g2b", False)],
        (False, "group", "g2b"),
    ),
    (
        "a group without a value gives way to the next",
        ["g1", "g2"],
        [setting("group", "g2", False)],
        (False, "group", "g2"),
    ),
    (
        "group value over the account's",
        ["g1"],
        [setting("account", "acme", True), setting("group", "g1", False)],
        (False, "group", "g1"),
    ),
    ("account value", ["g1"], [setting("account", "acme", True)], (True, "account", "acme")),
    (
        "a released lock no longer wins",
        [],
        [
            setting("account", "acme", False, locked=True),
            setting("account", "acme", True, at=2),
            setting("user", "u", False),
        ],
        (False, "user", "u"),
    ),
    (
        "a later setting replaces an earlier one",
        [],
        [setting("account", "acme", True), setting("account", "acme", False, 2)],
        (False, "account", "acme"),
    ),
    (
        "settings after T do not count yet",
        [],
        [setting("account", "acme", True, at=9)],
        (False, "default", None),
    ),
    (
        "the latest at T decides whatever the line order",
        [],
        [setting("account", "acme", False, at=2), setting("account", "acme", True, at=1)],
        (False, "account", "acme"),
    ),
    (
        "a tie goes to the later line",
        [],
        [setting("account", "acme", True, at=2), setting("account", "acme", False, at=2)],
        (False, "account", "acme"),
    ),
    ("product default", [], [], (False, "default", None)),
]


@pytest.mark.parametrize(
    ("groups", "settings", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_effective_setting(world_of, groups, settings, expected):
    world = world_of(*GROUPS, {"type": "user", "id": "u", "account": "acme", "groups": groups}, *settings)
    effective = effective_setting(world, Policy(), "u", "acme", "k", _micros(5))
    assert (effective.value, effective.level, effective.target) == expected


@pytest.mark.parametrize("default", [True, False])
def test_product_default_comes_from_the_policy(world_of, default):
    world = world_of(*GROUPS, {"type": "user", "id": "u", "account": "acme"})
    effective = effective_setting(
        world, Policy(setting_defaults={"k": default}), "u", "acme", "k", _micros(5)
    )
    assert (effective.value, effective.level) == (default, "default")


def test_a_guest_owner_reads_account_and_user_levels(world_of):
    world = world_of(*GROUPS, setting("account", "acme", False), setting("user", "guest", True))
    assert effective_setting(world, Policy(), "guest", "acme", "k", _micros(5)).level == "user"


def test_a_group_arriving_after_a_lookup_reorders_the_user(world_of):
    world = world_of(
        {"type": "account", "id": "acme"},
        {"type": "user", "id": "u", "account": "acme", "groups": ["ga", "gb"]},
        setting("group", "ga", True),
        setting("group", "gb", False),
    )
    assert effective_setting(world, Policy(), "u", "acme", "k", _micros(5)).target == "ga"
    world.apply(parse_event({"type": "group", "id": "gb", "account": "acme", "priority": 1}))
    assert effective_setting(world, Policy(), "u", "acme", "k", _micros(5)).target == "gb"


def test_setting_off_in_a_decision_carries_key_and_level(world_of):
    world = world_of(
        *GROUPS,
        {"type": "user", "id": "u", "account": "acme", "groups": ["g1"]},
        {
            "type": "terms",
            "version": "v",
            "effective_at": day(1),
            "sections": [
                {"id": "1", "grants": [{"purpose": "p", "data": ["chat"], "requires": ["setting:k"]}]}
            ],
        },
        {"type": "terms_acceptance", "account": "acme", "version": "v", "at": day(1)},
        {"type": "content", "id": "c", "kind": "chat", "account": "acme", "owner": "u", "created_at": day(1)},
        setting("group", "g1", False, locked=True),
    )
    decision = decide(world, "c", "p", datetime(2024, 3, 5, tzinfo=UTC), Policy())
    assert [r.to_json() for r in decision.reasons] == [
        {
            "code": "setting.off",
            "key": "k",
            "level": "group_lock",
            "message": "k is off for u: locked off by group g1",
        }
    ]
