"""Effective settings: the tiered value of a setting key for one person, as of a time.

An account lock wins for everyone; else the lock of the highest-priority locking group;
else the user's own value; else the value of the highest-priority group that sets one;
else the account's value; else the policy's product default. Each level's value and
lock is its latest setting event at or before the time.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache
from typing import NamedTuple

from .decision import Reason
from .policy import Policy
from .records import SettingRecord
from .world import World


class EffectiveSetting(NamedTuple):
    """The value of ``key`` and where it came from (``level``: see ``SETTING_LEVELS``).

    ``target`` is the account, group or user whose setting event gave the value; None for
    the product default. A named tuple: one is made for most decisions, and a tuple is
    made several times faster than a frozen dataclass.
    """

    key: str
    value: bool
    level: str
    target: str | None

    def basis(self) -> dict[str, object]:
        """This setting as a basis entry of a decision."""
        entry: dict[str, object] = {"setting": self.key, "level": self.level}
        if self.target is not None:
            entry["target"] = self.target
        entry["value"] = self.value
        return entry


def effective_setting(
    world: World, policy: Policy, subject: str | None, account: str, key: str, t: int
) -> EffectiveSetting:
    """The effective value of ``key`` for ``subject`` in ``account`` at ``t`` (microseconds).

    ``subject`` is the item's owner (or service data's user); None leaves only the
    account level and the default.
    """
    index = world.setting_index()
    # Each level's latest record at or before t, with the bisects written out: a call per
    # level would cost as much as the lookups themselves.
    history = index.get(("account", account, key))
    account_setting = None
    if history is not None:
        found = bisect_right(history.times, t)
        if found:
            account_setting = history.records[found - 1]
            if account_setting.locked:
                return EffectiveSetting(key, account_setting.value, "account_lock", account)
    if subject is not None:
        first_group: tuple[str, SettingRecord] | None = None
        for group in world.ordered_groups(subject):
            history = index.get(("group", group, key))
            if history is not None:
                found = bisect_right(history.times, t)
                if found:
                    record = history.records[found - 1]
                    if record.locked:
                        return EffectiveSetting(key, record.value, "group_lock", group)
                    if first_group is None:
                        first_group = (group, record)
        history = index.get(("user", subject, key))
        if history is not None:
            found = bisect_right(history.times, t)
            if found:
                return EffectiveSetting(key, history.records[found - 1].value, "user", subject)
        if first_group is not None:
            return EffectiveSetting(key, first_group[1].value, "group", first_group[0])
    if account_setting is not None:
        return EffectiveSetting(key, account_setting.value, "account", account)
    return EffectiveSetting(key, policy.setting_default(key), "default", None)


_LEVEL_WORDS = {
    "account_lock": "locked off for account {target}",
    "group_lock": "locked off by group {target}",
    "user": "switched off by {target}",
    "group": "switched off for group {target}",
    "account": "switched off for account {target}",
    "default": "off by default",
}


@lru_cache(maxsize=65536)
def setting_off(setting: EffectiveSetting, subject: str | None, account: str) -> Reason:
    """The ``setting.off`` reason for a setting whose effective value is false."""
    who = subject if subject is not None else f"account {account}"
    how = _LEVEL_WORDS[setting.level].format(target=setting.target)
    return Reason(
        "setting.off", f"{setting.key} is off for {who}: {how}", key=setting.key, level=setting.level
    )
