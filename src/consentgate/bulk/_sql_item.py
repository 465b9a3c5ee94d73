"""Each item's verdict before its sources count: ``s_base`` (DuckDB SQL, see ``_sql``).

An item joins its account (terms in force, region, account settings), its owner (packed
consent states, person-level settings), its meeting (the first participant lines' states,
notices) and the compiled verdicts. What a denial lists is returned as one integer
``key``, decoded by ``_answer``:

- ``-1`` item.deleted, ``-2`` terms.not_accepted, ``-3`` purpose.not_granted;
- otherwise ``((vid * plan.consent_space + consent) * 2 + signal) * 2`` (+1 later when a
  source is not usable): ``vid`` names the verdict row (the allowing section, or the
  order of the failing setting, notice and consent conditions); ``consent`` holds the
  consent codes that fail as base-8 digits, each at the place of the first person
  failing that way (the owner at digit 0, the meeting's line ``j`` at digit ``j + 1``,
  later lines after them in order), so reading the non-zero digits upwards gives the
  order decide lists them in.
"""

from __future__ import annotations

from ._plan import KIND_SLOTS, UNKNOWN_KIND, Plan
from ._sql import STATE_CODES, missing_all


def _codes(plan: Plan, o: str, m: str, k: str, om: str, overflow: bool) -> list[str]:
    """Consent state codes for the item's kind: the owner's (``co``) and those of the
    meeting's first lines (``c{j}``, 0 where the meeting has no such line), and with
    ``overflow`` the states of later lines (``p{code}``)."""
    owner = (f"CASE WHEN x.owner_ref IS NULL THEN 1 "
             f"ELSE (COALESCE({om}packed, {o}pg, {missing_all(plan)}) >> {k}kshift) & 7 END AS co")
    # No line at a place reads as state 0, which fails nothing. Where the item's kind
    # needs no consent (no kshift), every code is null, which no digit or verdict reads.
    lines = [f"(COALESCE({m}pk{j}, 0) >> {k}kshift) & 7 AS c{j}" for j in range(plan.packed_lines)]
    return [owner, *lines, *(f"ov.p{code}" for code in STATE_CODES if overflow)]


def _failing(name: str) -> str:
    # Someone else's consent fails only where the account's region requires self-consent.
    return f"CASE WHEN {name} = 5 AND NOT self_only THEN 0 ELSE {name} END"


def _consent_digits(plan: Plan, overflow: bool) -> str:
    """The failing consent codes as digits (see the module docstring), from ``q*`` (and
    ``p*`` with ``overflow``)."""
    people = ["qo", *(f"q{j}" for j in range(plan.packed_lines))]
    digits = ["qo"]
    for place in range(1, len(people)):
        earlier = ", ".join(people[:place])
        digits.append(f"CASE WHEN {people[place]} NOT IN (0, {earlier}) THEN {people[place]} * {8**place} ELSE 0 END")
    later = len(people)
    for code in STATE_CODES if overflow else ():
        weight = " ".join(f"WHEN {p} THEN {code * 8 ** (later + p)}" for p in range(len(STATE_CODES)))
        allowed_here = "self_only AND " if code == 5 else ""
        digits.append(f"CASE WHEN p{code} IS NOT NULL AND {allowed_here}{code} NOT IN ({', '.join(people)}) "
                      f"THEN CASE p{code} {weight} END ELSE 0 END")
    return " + ".join(digits)


def base(plan: Plan, t: int, gathered: str | None = None, overflow: bool = True) -> str:
    """``s_base``: one row per item that exists at T (see the module docstring).

    With ``gathered``, the items come from that table, which already holds their
    account's, owner's and meeting's columns, their ``p_vk`` row's and their owner's
    packed states for their meeting (``_gather.widen``) instead of joining them.
    Without ``overflow`` no meeting has more lines than travel as columns, and
    ``s_over`` is not read."""
    settings, notices, consent = plan.of_kind("setting"), plan.of_kind("notice"), plan.of_kind("consent")
    # Where the account's (a), owner's (o) and meeting's (m) columns are read.
    a, o, m, k, om = ("x.a_", "x.o_", "x.m_", "x.vk_", "x.om_") if gathered else ("a.", "o.", "m.", "vk.", "om.")
    joins: list[str] = []
    columns: list[str] = []  # computed per item in ``judged``
    bits: list[str] = []  # one per condition: its bit in the failing mask
    if (consent or settings) and not gathered:
        joins.append("LEFT JOIN s_owner o ON o.subject = x.owner_ref")
    if consent and not gathered:
        joins.append("LEFT JOIN s_pgm om ON om.subject = x.owner_ref AND om.meeting = x.meeting_ref")
    if consent and overflow:
        joins.append("LEFT JOIN s_over ov ON ov.rid = x.rid")
    if (consent or notices) and not gathered:
        joins.append("LEFT JOIN s_lines m ON m.meeting = x.meeting_ref")
    for c in settings:
        value = (f"CASE WHEN {a}l{c.index} THEN {a}v{c.index} "
                 f"ELSE COALESCE({o}v{c.index}, {a}v{c.index}, {str(c.default).upper()}) END")
        columns.append(f"NOT ({value}) AS f{c.index}")
        bits.append(f"CASE WHEN f{c.index} THEN {1 << c.index} ELSE 0 END")
    for c in notices:
        columns.append(f"COALESCE({m}n{c.index}, FALSE) AS f{c.index}")
        bits.append(f"CASE WHEN f{c.index} THEN {1 << c.index} ELSE 0 END")
    failing, order = ["0 AS nothing"], "0"
    if consent:
        columns += _codes(plan, o, m, k, om, overflow)
        failing = [f"{_failing(name)} AS q{name[1:]}" for name in ("co", *(f"c{j}" for j in range(plan.packed_lines)))]
        order = "corder"
        bits.append(f"CASE WHEN corder > 0 THEN {1 << consent[0].index} ELSE 0 END")
    fmask = " + ".join(bits) or "0"
    verdict_kind = (f"LEFT JOIN p_vk vk "
                    f"ON vk.vkk = COALESCE(a.vidx, -1) * {KIND_SLOTS} + COALESCE(x.kind_code, {UNKNOWN_KIND})")
    digits = _consent_digits(plan, overflow) if consent else "0"
    reserved = "TRUE" if plan.reserves else "FALSE"
    return f"""
    WITH judged AS (
        SELECT x.rid, x.derived, {k}candidate AS candidate, {a}vidx AS vidx, {k}vk AS vk, {k}used AS used,
               {k}kshift AS kshift,
               COALESCE(x.erased <= {t}, FALSE) AS erased, x.train_reserved AND {reserved} AS sig,
               COALESCE({a}self_only, FALSE) AS self_only, {", ".join(columns) or "0 AS nothing"}
        FROM {gathered or "t_items"} x
        {"" if gathered else f"LEFT JOIN s_acc a ON a.account = x.account_ref {verdict_kind}"}
        {" ".join(joins)}
        WHERE x.created <= {t}),
    failing AS (SELECT j.*, {", ".join(failing)} FROM judged j),
    ordered AS (SELECT f.*, {digits} AS corder FROM failing f),
    verdicts AS (
        SELECT j.*, v.vid, v.allowed, v.consent_grant,
               CASE WHEN v.consent_fails THEN {order} ELSE 0 END AS consent_order
        FROM ordered j
        LEFT JOIN p_verdict v ON v.vkey = j.vk * {1 << len(plan.conditions)} + (({fmask}) & j.used))
    SELECT rid, candidate, derived, CAST(vidx AS INTEGER) AS vidx,
           CASE WHEN erased THEN -1 WHEN vidx IS NULL THEN -2 WHEN vk IS NULL THEN -3
                ELSE ((vid * {plan.consent_space} + consent_order) * 2 + CASE WHEN sig THEN 1 ELSE 0 END) * 2
           END AS key,
           COALESCE(NOT erased AND vk IS NOT NULL AND allowed AND NOT sig, FALSE) AS base_ok,
           COALESCE(NOT erased AND vk IS NOT NULL AND allowed AND NOT sig AND consent_grant, FALSE) AS needs_ids
    FROM verdicts"""
