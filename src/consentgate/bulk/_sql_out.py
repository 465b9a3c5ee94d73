"""Derived content and the answer: the sources fixed point, reasons, basis (DuckDB SQL).

A derived item is usable only if every item it was made from is. ``s_src`` lists the
sources of the items whose own verdict holds; each round keeps those derived items all of
whose sources are usable, starting from none. The rounds grow monotonically, so the first
round that adds nothing is the fixed point; items in a cycle of sources never enter it,
as ``decide`` never allows them.
"""

from __future__ import annotations

from ._plan import Plan
from ._sql import SIGNAL_RANK, SOURCE_RANK, STATE_CODES

SOURCES = """
    SELECT s.item_row AS rid, s.source_row, sb.base_ok AS src_ok, sb.derived AS src_derived
    FROM t_sources s
    JOIN s_base b ON b.rid = s.item_row AND b.base_ok
    LEFT JOIN s_base sb ON sb.rid = s.source_row"""

# A source is usable when its own verdict holds and, if it is derived, it is in the
# previous round's set; a missing source (or one created after T) has no s_base row.
_USABLE = "COALESCE({ok} AND (NOT {derived} OR o.rid IS NOT NULL), FALSE)"


def round_sql(previous: str) -> str:
    """The derived items whose sources are all usable given round ``previous``."""
    usable = _USABLE.format(ok="x.src_ok", derived="x.src_derived")
    return f"""
    SELECT x.rid FROM s_src x LEFT JOIN {previous} o ON o.rid = x.source_row
    GROUP BY x.rid HAVING bool_and({usable})"""


EMPTY_ROUND = "SELECT rid FROM s_base WHERE FALSE"

_REASONS = [("rk_setting", "setting.off"), ("rk_notice", "notice.missing")] + [
    (f"rk{code}", name) for code, name in STATE_CODES.items()
]


def _evidence(plan: Plan) -> str:
    """CTEs ``lines`` and ``evidence``: for allowed items whose grant needs consent, the
    consent each other participant relied on, in the order of their first line."""
    enc = " ".join(f"WHEN {bit} THEN greatest(pg.e{bit}, pc.e{bit})" for bit in plan.consent_kinds)
    return f"""
    lines AS (
        SELECT j.rid, p.subject, min(p.pos) AS pos, max(CASE k.bit {enc} END) AS enc
        FROM judged j
        JOIN t_items i ON i.rid = j.rid
        JOIN p_kinds k ON k.kind = i.kind
        JOIN t_participants p ON p.meeting = i.meeting AND (i.owner IS NULL OR p.subject <> i.owner)
        LEFT JOIN s_cg pg ON pg.subject = p.subject
        LEFT JOIN s_cm pc ON pc.subject = p.subject AND pc.meeting = p.meeting
        WHERE j.allowed AND j.consent_grant
        GROUP BY j.rid, p.subject),
    evidence AS (
        SELECT l.rid, list_transform(list_sort(array_agg({{'p': l.pos, 'id': c.id}})), lambda e: e.id) AS ids
        FROM lines l JOIN t_consents c ON c.seq = CAST(floor(l.enc / 8) AS BIGINT)
        GROUP BY l.rid),"""


def final_sql(plan: Plan, fixed: str) -> str:
    """One row per candidate: allowed, reason codes in decide's order, basis."""
    evidence = _evidence(plan) if plan.of_kind("consent") else ""
    ids = "COALESCE(e.ids, CAST([] AS VARCHAR[]))" if evidence else "CAST([] AS VARCHAR[])"
    ids_join = "LEFT JOIN evidence e ON e.rid = j.rid" if evidence else ""
    unusable = _USABLE.format(ok="sb.base_ok", derived="sb.derived")
    ranked = ", ".join(f"{{'r': j.{column}, 'c': '{code}'}}" for column, code in _REASONS)
    return f"""
    WITH bad AS (
        SELECT s.item_row AS rid FROM t_sources s
        JOIN s_base b ON b.rid = s.item_row AND b.candidate AND b.standalone IS NULL
        LEFT JOIN s_base sb ON sb.rid = s.source_row
        LEFT JOIN {fixed} o ON o.rid = s.source_row
        WHERE NOT {unusable}
        GROUP BY s.item_row),
    judged AS (
        SELECT b.*, b.base_ok AND (NOT b.derived OR o.rid IS NOT NULL) AS allowed, bad.rid IS NOT NULL AS bad
        FROM s_base b
        LEFT JOIN {fixed} o ON o.rid = b.rid
        LEFT JOIN bad ON bad.rid = b.rid
        WHERE b.candidate),{evidence}
    outcome AS (
    SELECT j.rid, j.allowed,
           CASE WHEN j.standalone IS NOT NULL THEN [j.standalone]
                WHEN j.allowed THEN CAST([] AS VARCHAR[])
                ELSE list_transform(list_sort(list_filter([
                    {ranked},
                    {{'r': CASE WHEN j.sig THEN {SIGNAL_RANK} END, 'c': 'signal.reserved'}},
                    {{'r': CASE WHEN j.bad THEN {SOURCE_RANK} END, 'c': 'source.ineligible'}}
                ], lambda e: e.r IS NOT NULL)), lambda e: e.c)
           END AS reasons,
           j.version AS terms_version,
           CASE WHEN j.allowed THEN j.section END AS section,
           CASE WHEN j.allowed AND j.consent_grant
                THEN list_concat([oc.id], {ids})
                ELSE CAST([] AS VARCHAR[]) END AS consent_ids
    FROM judged j
    LEFT JOIN t_consents oc ON oc.seq = j.owner_seq AND j.allowed
    {ids_join})
    SELECT * FROM outcome"""
