"""``select``: every candidate item judged for one purpose as of one time, as one plan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core import Policy
from ..model import DATA_KINDS
from ..model.times import to_micros
from . import _sql, _sql_item, _sql_out
from ._answer import assemble, in_item_order
from ._engines import Executor, executor
from ._gather import indexes, widen
from ._plan import Plan, compile_plan
from ._tables import SCHEMAS, StateTables


def select(
    tables: StateTables,
    purpose: str,
    at: datetime,
    policy: Policy,
    kinds: Sequence[str] | None = None,
    engine: str = "duckdb",
) -> pa.Table:
    """Judge every item that exists at ``at`` for ``purpose``, as ``decide`` would.

    Args:
        tables: the state (see :class:`StateTables`).
        purpose: a dotted purpose id.
        at: an aware datetime; items created after it are not listed at all.
        policy: the policy in force.
        kinds: list only items of these data kinds (all kinds when None); items of other
            kinds are still judged where a derived item was made from them.
        engine: ``"duckdb"`` (in process) or ``"spark"`` (a local PySpark session).

    Returns:
        One row per listed item, in the order of ``tables.items`` (schema
        ``RESULT_SCHEMA``): the manifest columns (``owner`` is the service data's user
        for service data; each keeps its type in ``tables.items``, so a dictionary
        column stays one), ``allowed``, ``reasons`` (the reason codes decide lists,
        de-duplicated, in its order; empty when allowed), ``terms_version`` (the
        version in force for the item's account, null when none), ``section`` (of the
        grant that allowed it; null when denied) and ``consent_ids`` (the consents that
        grant relied on: the owner's, then the other participants' in the order of
        their first line; empty when denied or when the grant needs no consent).

    Raises:
        ValueError: ``at`` has no time zone; an unknown engine or data kind; terms whose
            conditions the bulk path cannot enumerate.
    """
    return judge_all(tables, purpose, at, policy, kinds, engine)


def judge_all(
    tables: StateTables,
    purpose: str,
    at: datetime,
    policy: Policy,
    kinds: Sequence[str] | None = None,
    engine: str = "duckdb",
    packed_lines: int = 4,
    chunk_rows: int = 1 << 21,
) -> pa.Table:
    """:func:`select`, with the number of participant lines per meeting that travel as
    columns (``packed_lines``; the tests lower it to exercise the path for big meetings)
    and the number of items judged at a time where lookups go by position
    (``chunk_rows``: their looked-up columns exist for one share of the items at a time)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the time of a selection must carry a time zone")
    unknown = sorted(set(kinds or ()) - set(DATA_KINDS))
    if unknown:
        raise ValueError(f"unknown data kind(s) {', '.join(unknown)}; expected some of {', '.join(DATA_KINDS)}")
    t = to_micros(at)
    versions = pc.unique(tables.acceptances.column("version")).to_pylist()
    plan = compile_plan(tables.terms_grants, versions, purpose, policy, kinds)
    plan.packed_lines = packed_lines
    run = executor(engine, tables.items.num_rows)
    try:
        consent_ids, items = _load(run, tables, plan.tables)
        base = _judge(run, plan, t, items, chunk_rows)
        fixed = _fixed_point(run, tables.sources.num_rows > 0)
        usable = run.fetch(f"SELECT rid FROM {fixed}").column("rid")
        unusable = run.fetch(_sql_out.unusable_sql(fixed)).column("rid") if tables.sources.num_rows else []
        evidence = None
        if plan.of_kind("consent"):
            run.materialize("s_people", _sql_out.people_sql(fixed))
            evidence = run.fetch(_sql_out.evidence_sql(plan))
    finally:
        run.close()
    columns = in_item_order(base, tables.items.num_rows)
    del base  # the arrays above replace it: a 10M-row selection need not hold both
    return assemble(tables.items, plan, columns, usable, unusable, evidence, consent_ids)


def _consents_in_order(consents: pa.Table) -> pa.Table:
    """``consents`` sorted by ``seq``, with ``seq`` renumbered 0, 1, ...: the order is
    all the rules read of it, and the number of a consent is then its row."""
    seq = consents.column("seq").to_numpy()
    if len(seq) > 1 and not np.all(seq[1:] > seq[:-1]):
        consents = consents.take(pa.array(np.argsort(seq, kind="stable")))
    return consents.set_column(consents.schema.get_field_index("seq"), "seq",
                               pa.array(np.arange(consents.num_rows, dtype=np.int64)))


def _load(run: Executor, tables: StateTables, plan_tables: dict[str, pa.Table]) -> tuple[pa.Array, pa.Table]:
    """Register the state and the plan with the engine; the consent ids, by ``seq``, and
    the items as the engine reads them."""
    items = tables.items
    # The engine reads only what the rules need; the manifest columns are attached to
    # the result afterwards, without a round trip through the engine.
    needed = [name for name in SCHEMAS["items"].names if name not in ("uri", "sha256")]
    items = items.select(needed).append_column("rid", pa.array(np.arange(items.num_rows, dtype=np.int64)))
    run.load("t_items", items)
    for name, table in tables.as_dict().items():
        if name == "items":
            continue
        table = table.select(SCHEMAS[name].names)
        if name == "consents":
            table = _consents_in_order(table)
            consent_ids = table.column("id")
        if name in ("people", "accounts", "meetings", "groups"):
            # A row's number is what references to it hold.
            table = table.append_column("ref", pa.array(np.arange(table.num_rows, dtype=np.int64)))
        run.load(f"t_{name}", table)
    for name, table in plan_tables.items():
        run.load(name, table)
    return consent_ids.combine_chunks(), items


def _judge(run: Executor, plan: Plan, t: int, items: pa.Table, chunk_rows: int) -> pa.Table:
    """Everything up to each item's own verdict (``s_base``), step by step."""
    consent, settings, notices = plan.of_kind("consent"), plan.of_kind("setting"), plan.of_kind("notice")
    if consent:
        for name, sql in _sql.consent_states(plan, t).items():
            run.materialize(name, sql)
    if consent or settings:
        run.materialize("s_owner", _sql.people(plan, t))
    run.materialize("s_acc", _sql.accounts(plan, t))
    if consent or notices:
        run.materialize("s_lines", _sql.meetings(plan))
    if consent:
        # Meetings with more lines than travel as columns are rare; skip the per-item
        # path when there are none.
        big = run.fetch("SELECT count(*) AS n FROM s_lines WHERE over").column("n")[0].as_py()
        run.materialize("s_over", _sql.overflow(plan, t) + ("" if big else " WHERE FALSE"))
    if not run.in_process:
        return run.collect("s_base", _sql_item.base(plan, t))
    made = {"s_acc", *(("s_owner",) if consent or settings else ()), *(("s_lines",) if consent or notices else ())}
    looked_up = indexes({name: run.fetch(f"SELECT * FROM {name}") for name in made})
    sql = _sql_item.base(plan, t, gathered="t_wide")
    parts = []
    for start in range(0, max(items.num_rows, 1), chunk_rows):
        run.load("t_wide", widen(items.slice(start, chunk_rows), looked_up))
        parts.append(run.fetch(sql))
    base = pa.concat_tables(parts)
    run.load("s_base", base)
    return base


def _fixed_point(run: Executor, any_sources: bool) -> str:
    """Materialize rounds of usable derived items until one adds nothing; its name."""
    run.materialize("s_ok0", _sql_out.EMPTY_ROUND)
    if not any_sources:
        return "s_ok0"
    run.materialize("s_links", _sql_out.LINKS)
    previous, size = "s_ok0", 0
    for n in range(1, 1 << 30):
        name = f"s_ok{n}"
        run.materialize(name, _sql_out.round_sql(previous))
        grown = run.count(name)
        if grown == size:
            return name
        previous, size = name, grown
    raise AssertionError("unreachable: each round adds at least one item")
