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

# Only items that may be allowed or are listed need their links, and only sources whose
# own verdict holds can be usable: both sides of the join shrink before it.
LINKS = """
    SELECT s.item_row AS rid, s.source_row, b.base_ok, b.listed,
           sb.rid IS NOT NULL AS src_ok, COALESCE(sb.derived, FALSE) AS src_derived
    FROM t_sources s
    JOIN (SELECT rid, base_ok, candidate AND key >= 0 AS listed FROM s_base
          WHERE derived AND (base_ok OR (candidate AND key >= 0))) b ON b.rid = s.item_row
    LEFT JOIN (SELECT rid, derived FROM s_base WHERE base_ok) sb ON sb.rid = s.source_row"""

# (Of the items' row numbers' type; in process, s_base is no table of the engine's.)
EMPTY_ROUND = "SELECT rid FROM t_items WHERE FALSE"

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
    """Listed derived items (no standalone denial) with an unusable source, once per such
    source (the caller only marks them, so repeats cost less than grouping them away)."""
    return f"""
    SELECT x.rid FROM s_links x LEFT JOIN {fixed} o ON o.rid = x.source_row
    WHERE x.listed AND NOT {_USABLE}"""


def allowed_sql(fixed: str) -> str:
    """The rows of allowed items whose grant needs consent."""
    return f"""
    SELECT b.rid FROM s_base b LEFT JOIN {fixed} o ON o.rid = b.rid
    WHERE b.needs_ids AND b.candidate AND (NOT b.derived OR o.rid IS NOT NULL)"""


def people_sql(fixed: str) -> str:
    """``s_people``: for allowed items whose grant needs consent, everyone whose consent
    counted, with their place (the owner -1, others their first participant line). (In
    process, ``_gather.relied_on`` gives the same by position.)"""
    items = f"(SELECT i.* FROM ({allowed_sql(fixed)}) b JOIN t_items i ON i.rid = b.rid)"
    return f"""
    WITH allowed AS (
        SELECT i.rid, i.owner_ref AS owner, i.meeting_ref AS meeting, k.kidx
        FROM {items} i JOIN p_kinds k ON k.code = i.kind_code)
    SELECT rid, owner AS subject, -1 AS pos, meeting, kidx FROM allowed
    UNION ALL
    SELECT a.rid, p.subject_ref AS subject, p.pos, a.meeting, a.kidx
    FROM allowed a
    JOIN t_participants p ON p.meeting_ref = a.meeting AND p.first AND p.subject_ref <> a.owner"""


def evidence_sql(plan: Plan) -> str:
    """The consent each of ``s_people`` relied on, as its row in ``t_consents`` (whose
    ``seq`` the selection numbers 0, 1, ... in order), with the item and the person's
    place; unordered, the caller sorts. (Materializing ``s_people`` first gives the
    planner its true size, so it hashes the smaller side of the join below.)"""
    kinds = range(len(plan.consent_kinds))
    general = " ".join(f"WHEN {i} THEN g.e{i}" for i in kinds)
    limited = " ".join(f"WHEN {i} THEN m.e{i}" for i in kinds)
    return f"""
    SELECT f.rid, f.pos, greatest(CASE f.kidx {general} END, CASE f.kidx {limited} END) >> 3 AS consent
    FROM s_people f
    LEFT JOIN s_cg g ON g.subject = f.subject
    LEFT JOIN s_cm m ON m.subject = f.subject AND m.meeting = f.meeting"""
