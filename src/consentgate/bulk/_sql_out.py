"""Derived content and the consent basis (DuckDB SQL, see ``_sql``).

A derived item is usable only if every item it was made from is. ``s_links`` pairs each
source row of an item that exists at T with what ``s_base`` says of both ends; each round
keeps the derived items whose own verdict holds and all of whose sources are usable,
starting from none. The rounds grow monotonically, so the first round that adds nothing
is the fixed point (at most the longest derivation chain plus one rounds); items in a
cycle of sources never enter it, as ``decide`` never allows them.
"""

from __future__ import annotations

from ._plan import Plan

LINKS = """
    SELECT s.item_row AS rid, s.source_row, b.base_ok, b.candidate AND b.key >= 0 AS listed,
           COALESCE(sb.base_ok, FALSE) AS src_ok, COALESCE(sb.derived, FALSE) AS src_derived
    FROM t_sources s
    JOIN s_base b ON b.rid = s.item_row
    LEFT JOIN s_base sb ON sb.rid = s.source_row"""

EMPTY_ROUND = "SELECT rid FROM s_base WHERE FALSE"

# A source is usable when its own verdict holds and, if derived, it is in the round's set;
# a missing source (or one created after T) has no s_base row, so it is never usable.
_USABLE = "(x.src_ok AND (NOT x.src_derived OR o.rid IS NOT NULL))"


def round_sql(previous: str) -> str:
    """The derived items whose sources are all usable given round ``previous``."""
    return f"""
    SELECT x.rid FROM s_links x LEFT JOIN {previous} o ON o.rid = x.source_row
    WHERE x.base_ok
    GROUP BY x.rid HAVING bool_and({_USABLE})"""


def unusable_sql(fixed: str) -> str:
    """Listed derived items (no standalone denial) with at least one unusable source."""
    return f"""
    SELECT x.rid FROM s_links x LEFT JOIN {fixed} o ON o.rid = x.source_row
    WHERE x.listed AND NOT {_USABLE}
    GROUP BY x.rid"""


def evidence_sql(plan: Plan, fixed: str) -> str:
    """For allowed items whose grant needs consent: each consent relied on (``id``) and its
    place (``pos``: the owner's -1, then the other people's first participant line)."""
    kinds = range(len(plan.consent_kinds))
    general = " ".join(f"WHEN {i} THEN g.e{i}" for i in kinds)
    limited = " ".join(f"WHEN {i} THEN m.e{i}" for i in kinds)
    return f"""
    WITH allowed AS (
        SELECT b.rid, b.e_owner AS owner, b.e_meeting AS meeting, b.e_kidx AS kidx
        FROM s_base b LEFT JOIN {fixed} o ON o.rid = b.rid
        WHERE b.needs_ids AND b.candidate AND (NOT b.derived OR o.rid IS NOT NULL)),
    people AS (
        SELECT rid, owner AS subject, -1 AS pos, meeting, kidx FROM allowed
        UNION ALL
        SELECT a.rid, p.subject_ref AS subject, p.pos, a.meeting, a.kidx
        FROM allowed a
        JOIN t_participants p ON p.meeting_ref = a.meeting AND p.first AND p.subject_ref <> a.owner),
    relied AS (
        SELECT f.rid, f.pos, greatest(CASE f.kidx {general} END, CASE f.kidx {limited} END) AS enc
        FROM people f
        LEFT JOIN s_cg g ON g.subject = f.subject
        LEFT JOIN s_cm m ON m.subject = f.subject AND m.meeting = f.meeting)
    SELECT r.rid, r.pos, c.id FROM relied r JOIN t_consents c ON c.seq = r.enc >> 3"""
