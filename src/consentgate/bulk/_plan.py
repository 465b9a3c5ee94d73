"""What the terms and the policy say for one purpose, compiled into small tables.

Everything here depends only on the terms versions, the policy and the asked purpose and
kinds, never on items, subjects or consents, so it is computed in Python and shipped to
the engine as tables:

- ``p_lineage``: the purposes whose consent covers the asked one (itself and above);
- ``p_cond``: every distinct condition of a grant covering the purpose, numbered;
- ``p_vk``: for each (terms version, data kind) with covering grants, a number and the
  mask of the conditions its grants use (a missing pair means ``purpose.not_granted``);
- ``p_verdict``: for each such pair and each set of failing conditions (one integer
  ``vkey``), a verdict number ``vid``: the section of the first grant that holds, or —
  when none holds — the order in which ``decide`` lists the failing kinds of condition;
- ``p_kinds``: each data kind's code (its place in DATA_KINDS), bit, place ``kidx``
  among the kinds whose grants need consent (``kshift`` = 3 * kidx: consent states are
  packed one base-8 digit per kind) and whether it is a candidate;
- ``p_versions`` numbers the terms versions; ``p_regions`` lists the self-consent-only
  regions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import pyarrow as pa

from ..core import Policy
from ..core.consent import purpose_lineage
from ..core.records import CONSENT, NOTICE, SETTING, UNKNOWN, condition_check
from ..core.signals import reserves_purpose
from ..model import purpose_covers
from ._tables import KIND_BITS

# A (version, kind) pair's grants may use at most this many distinct conditions: the
# verdict table enumerates every subset of them.
MAX_CONDITIONS_PER_KIND = 12
# Conditions are bits of one BIGINT key per item, beside the (version, kind) number.
MAX_CONDITIONS = 40


@dataclass(frozen=True)
class Condition:
    """One distinct condition of the covering grants: ``kind`` is consent/setting/notice."""

    index: int
    kind: str
    arg: str | None
    default: bool = False  # a setting's product default


@dataclass(frozen=True)
class Verdict:
    """What one row of ``p_verdict`` means: the section that allowed (None when every
    grant failed) and, for a denial, the order of the failing condition kinds."""

    section: str | None
    slots: tuple[str, ...]  # "setting", "notice", "consent" in the order decide lists them


@dataclass
class Plan:
    """The compiled terms and policy for one purpose and set of candidate kinds."""

    purpose: str
    reserves: bool
    conditions: list[Condition] = field(default_factory=list)
    consent_kinds: list[int] = field(default_factory=list)  # bits of kinds whose grants need consent
    versions: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)  # by vid
    tables: dict[str, pa.Table] = field(default_factory=dict)
    # How many participant lines of a meeting travel as columns (the fast path); later
    # lines of bigger meetings are ranked item by item.
    packed_lines: int = 4

    @property
    def consent_space(self) -> int:
        """How many values the consent digits of a reason key take (see ``_sql_item``):
        a digit for the owner, one per packed line, five for later lines."""
        return int(8 ** (self.packed_lines + 6))

    def consent_places(self) -> list[int]:
        """Each kind code's place among the kinds whose grants need consent (its consent
        digit, ``p_kinds.kidx``), -1 for a kind that needs none."""
        return [self.consent_kinds.index(bit) if bit in self.consent_kinds else -1 for bit in KIND_BITS.values()]

    def of_kind(self, kind: str) -> list[Condition]:
        """The conditions of one kind (consent, setting or notice)."""
        return [condition for condition in self.conditions if condition.kind == kind]


def _kind_grid(
    vk_rows: list[tuple[Any, ...]], versions: int, kidx: dict[int, int], wanted: set[str], all_kinds: bool
) -> pa.Table:
    """``p_vk``: for every (version in force or none, kind code), the (version, kind)
    number when grants cover it, the conditions they use, the kind's consent digit shift
    and whether items of the kind are listed."""
    covered = {(row[0], row[1]): row for row in vk_rows}
    codes = [*range(len(KIND_BITS)), UNKNOWN_KIND]
    grid: dict[str, list[Any]] = {"vkk": [], "vk": [], "used": [], "kshift": [], "candidate": []}
    for version in range(-1, versions):
        for code in codes:
            row = covered.get((version, code))
            bit = list(KIND_BITS.values())[code] if code < len(KIND_BITS) else None
            grid["vkk"].append(version * KIND_SLOTS + code)
            grid["vk"].append(None if row is None else row[2])
            grid["used"].append(None if row is None else row[3])
            grid["kshift"].append(3 * kidx[bit] if bit in kidx else None)
            grid["candidate"].append(all_kinds or (code < len(KIND_BITS) and list(KIND_BITS)[code] in wanted))
    return pa.table({name: pa.array(values, pa.bool_() if name == "candidate" else pa.int64())
                     for name, values in grid.items()})


_WHAT = {CONSENT: "consent", SETTING: "setting", NOTICE: "notice"}


def _parse(condition: str) -> tuple[str, str | None]:
    _, what, argument = condition_check(condition)
    if what == UNKNOWN:
        raise ValueError(f"unknown condition {condition!r}")
    return _WHAT[what], None if what == CONSENT else argument


def compile_plan(
    terms_grants: pa.Table, versions: Sequence[str], purpose: str, policy: Policy, kinds: Sequence[str] | None
) -> Plan:
    """Compile the grants covering ``purpose`` (see the module docstring).

    Raises:
        ValueError: a grant names an unknown condition, or the grants use more distinct
            conditions than the bulk path can enumerate.
    """
    grants: dict[tuple[str, str], list[tuple[str, list[str]]]] = {}
    for row in sorted(terms_grants.to_pylist(), key=lambda row: (row["version"], row["grant"])):
        if not purpose_covers(row["purpose"], purpose):
            continue
        for kind in dict.fromkeys(row["data"]):
            grants.setdefault((row["version"], kind), []).append((row["section"], list(row["requires"])))
    plan = Plan(purpose, reserves_purpose(purpose))
    index: dict[str, Condition] = {}
    for pairs in grants.values():
        for _, requires in pairs:
            for name in requires:
                if name not in index:
                    kind, arg = _parse(name)
                    default = policy.setting_default(arg) if kind == "setting" and arg is not None else False
                    index[name] = Condition(len(index), kind, arg, default)
    if len(index) > MAX_CONDITIONS:
        raise ValueError(f"the grants covering {purpose} use {len(index)} distinct conditions; at most "
                         f"{MAX_CONDITIONS} are supported")
    plan.conditions = list(index.values())
    plan.consent_kinds = sorted({KIND_BITS[kind] for (_, kind), pairs in grants.items() if kind in KIND_BITS
                                 and any("consent" in requires for _, requires in pairs)})
    plan.versions = sorted(set(versions) | set(terms_grants.column("version").to_pylist()))
    vk_rows, verdict_rows, plan.verdicts = _verdicts(grants, index, {v: i for i, v in enumerate(plan.versions)})
    wanted = set(KIND_BITS) if kinds is None else set(kinds)
    kidx = {bit: place for place, bit in enumerate(plan.consent_kinds)}
    plan.tables = {
        "p_lineage": pa.table({"purpose": list(purpose_lineage(purpose))}),
        "p_cond": pa.table({
            "cond": pa.array([c.index for c in plan.conditions], pa.int64()),
            "ctype": pa.array([c.kind for c in plan.conditions], pa.string()),
            "arg": pa.array([c.arg for c in plan.conditions], pa.string()),
        }),
        "p_vk": _kind_grid(vk_rows, len(plan.versions), kidx, wanted, kinds is None),
        "p_verdict": pa.table({name: pa.array([row[i] for row in verdict_rows], kind)
                               for i, (name, kind) in enumerate(_VERDICT_COLUMNS)}),
        "p_kinds": pa.table({
            "code": pa.array(range(len(KIND_BITS)), pa.int32()), "bit": pa.array(list(KIND_BITS.values()), pa.int64()),
            "kidx": pa.array([kidx.get(bit) for bit in KIND_BITS.values()], pa.int64()),
            "kshift": pa.array([None if bit not in kidx else 3 * kidx[bit] for bit in KIND_BITS.values()], pa.int64()),
            "candidate": [kind in wanted for kind in KIND_BITS],
        }),
        "p_versions": pa.table({"version": pa.array(plan.versions, pa.string()),
                                "vidx": pa.array(range(len(plan.versions)), pa.int32())}),
        "p_regions": pa.table({"region": pa.array(sorted(policy.self_consent_only_regions), pa.string())}),
    }
    return plan


_VK_COLUMNS = (("vidx", pa.int64()), ("code", pa.int64()), ("vk", pa.int64()), ("used", pa.int64()))
# p_vk is keyed by vidx * KIND_SLOTS + kind code; an item with no terms in force has
# vidx -1, one of a kind outside the vocabulary the code UNKNOWN_KIND.
KIND_SLOTS, UNKNOWN_KIND = 16, 15
_VERDICT_COLUMNS = (
    ("vkey", pa.int64()), ("vid", pa.int64()), ("allowed", pa.bool_()),
    ("consent_grant", pa.bool_()), ("consent_fails", pa.bool_()),
)


def _verdicts(
    grants: dict[tuple[str, str], list[tuple[str, list[str]]]], index: dict[str, Condition], vidx: dict[str, int]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[Verdict]]:
    vk_rows: list[tuple[Any, ...]] = []
    verdict_rows: list[tuple[Any, ...]] = []
    verdicts: list[Verdict] = []
    for vk, ((version, kind), pairs) in enumerate(sorted(grants.items())):
        if kind not in KIND_BITS:
            continue
        # decide walks the grants in order and, within each, the conditions it requires;
        # a denial lists the reasons in that walk's order.
        walk = [index[name] for _, requires in pairs for name in requires]
        used = list(dict.fromkeys(condition.index for condition in walk))
        if len(used) > MAX_CONDITIONS_PER_KIND:
            raise ValueError(f"terms {version} cover {kind} with {len(used)} distinct conditions; at most "
                             f"{MAX_CONDITIONS_PER_KIND} are supported")
        vk_rows.append((vidx[version], list(KIND_BITS).index(kind), vk, sum(1 << bit for bit in used)))
        for size in range(len(used) + 1):
            for failing in combinations(used, size):
                verdict, consent_grant = _verdict(pairs, index, set(failing))
                # One integer key per row: the (version, kind) number above the failing mask.
                vkey = (vk << len(index)) + sum(1 << bit for bit in failing)
                verdict_rows.append((vkey, len(verdicts), verdict.section is not None, consent_grant,
                                     "consent" in verdict.slots))
                verdicts.append(verdict)
    return vk_rows, verdict_rows, verdicts


def _verdict(
    pairs: list[tuple[str, list[str]]], index: dict[str, Condition], failing: set[int]
) -> tuple[Verdict, bool]:
    for section, requires in pairs:
        if not any(index[name].index in failing for name in requires):
            return Verdict(section, ()), "consent" in requires
    walk = [index[name] for _, requires in pairs for name in requires]
    slots = dict.fromkeys(condition.kind for condition in walk if condition.index in failing)
    return Verdict(None, tuple(slots)), False
