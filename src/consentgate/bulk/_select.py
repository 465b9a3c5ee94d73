"""``select``: every candidate item judged for one purpose as of one time, as one plan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa

from ..core import Policy
from ..model import DATA_KINDS
from ..model.times import to_micros
from . import _sql, _sql_out
from ._engines import Executor, executor
from ._plan import compile_plan
from ._tables import SCHEMAS, StateTables

_STRS = pa.list_(pa.string())
RESULT_SCHEMA = pa.schema([
    ("item_id", pa.string()), ("kind", pa.string()), ("account", pa.string()), ("owner", pa.string()),
    ("meeting", pa.string()), ("uri", pa.string()), ("sha256", pa.string()), ("allowed", pa.bool_()),
    ("reasons", _STRS), ("terms_version", pa.string()), ("section", pa.string()), ("consent_ids", _STRS),
])
_PASSED_THROUGH = ("item_id", "kind", "account", "owner", "meeting", "uri", "sha256")
_ENGINE_COLUMNS = ("allowed", "reasons", "terms_version", "section", "consent_ids")


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
        One row per candidate, in the order of ``tables.items`` (schema
        ``RESULT_SCHEMA``): the manifest columns, ``allowed``, ``reasons`` (the reason
        codes decide lists, de-duplicated, in its order; empty when allowed),
        ``terms_version`` (the version in force, null when none), ``section`` (of the
        grant that allowed it, null when denied) and ``consent_ids`` (the consents that
        grant relied on, owner first, then the other participants by their first line;
        empty when denied or when the grant needs no consent).

    Raises:
        ValueError: ``at`` has no time zone; an unknown engine or data kind; terms whose
            conditions the bulk path cannot enumerate.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the time of a selection must carry a time zone")
    unknown = sorted(set(kinds or ()) - set(DATA_KINDS))
    if unknown:
        raise ValueError(f"unknown data kind(s) {', '.join(unknown)}; expected some of {', '.join(DATA_KINDS)}")
    t = to_micros(at)
    plan = compile_plan(tables.terms_grants, purpose, policy, kinds)
    run = executor(engine, tables.items.num_rows)
    try:
        _load(run, tables, plan.tables)
        if plan.of_kind("consent"):
            for name, sql in _sql.consent_states(plan, t).items():
                run.materialize(name, sql)
        run.materialize("s_base", _sql.base(plan, t))
        fixed = _fixed_point(run)
        judged = run.fetch(_sql_out.final_sql(plan, fixed) + " ORDER BY rid")
    finally:
        run.close()
    return _with_item_columns(tables.items, judged)


def _load(run: Executor, tables: StateTables, plan_tables: dict[str, pa.Table]) -> None:
    items = tables.items
    # The engine reads only what the rules need; the manifest columns are attached to
    # the result afterwards, without a round trip through the engine.
    needed = [name for name in SCHEMAS["items"].names if name not in ("uri", "sha256")]
    items = items.select(needed).append_column("rid", pa.array(np.arange(items.num_rows, dtype=np.int64)))
    run.load("t_items", items)
    for name, table in tables.as_dict().items():
        if name != "items":
            run.load(f"t_{name}", table.select(SCHEMAS[name].names))
    for name, table in plan_tables.items():
        run.load(name, table)


def _fixed_point(run: Executor) -> str:
    """Materialize rounds of usable derived items until one adds nothing; its name."""
    if run.materialize("s_src", _sql_out.SOURCES) == 0:
        run.materialize("s_ok0", _sql_out.EMPTY_ROUND)
        return "s_ok0"
    previous, size = "s_ok0", run.materialize("s_ok0", _sql_out.EMPTY_ROUND)
    for n in range(1, 1 << 30):
        name = f"s_ok{n}"
        grown = run.materialize(name, _sql_out.round_sql(previous))
        if grown == size:
            return name
        previous, size = name, grown
    raise AssertionError("unreachable: each round adds at least one item")


def _with_item_columns(items: pa.Table, judged: pa.Table) -> pa.Table:
    rows = judged.column("rid").combine_chunks()
    if len(rows) == items.num_rows:
        # Every item is a candidate (the usual case at "now"): the rows are 0..n-1 in
        # order, so the item columns are reused without a copy.
        passed = [items.column(name) for name in _PASSED_THROUGH]
    else:
        passed = [items.column(name).take(rows) for name in _PASSED_THROUGH]
    computed = [judged.column(name).cast(RESULT_SCHEMA.field(name).type) for name in _ENGINE_COLUMNS]
    return pa.Table.from_arrays(passed + computed, schema=RESULT_SCHEMA)
