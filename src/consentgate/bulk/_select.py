"""``select``: every candidate item judged for one purpose as of one time, as one plan."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core import Policy
from ..model import DATA_KINDS
from ..model.times import to_micros
from . import _sql, _sql_item, _sql_out
from ._answer import ConsentIds, InItemOrder, assemble, assemble_allowed, in_item_order
from ._engines import Executor, executor
from ._gather import Index, Latest, Pairs, indexes, latest_general, per_meeting, relied_on, widen
from ._plan import Plan, compile_plan
from ._tables import SCHEMAS, StateTables, whole


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
    result: pa.Table = judge_all(tables, purpose, at, policy, kinds, engine)
    return result


def select_allowed(
    tables: StateTables,
    purpose: str,
    at: datetime,
    policy: Policy,
    kinds: Sequence[str] | None = None,
    engine: str = "duckdb",
) -> tuple[pa.Table, np.ndarray, dict[str, int]]:
    """What a dataset keeps of :func:`select`: the allowed rows of its result (same
    schema and order), their rows among ``tables.items``, and how many of the listed
    items that are denied give each reason code.

    Raises:
        ValueError: as :func:`select`.
    """
    result: tuple[pa.Table, np.ndarray, dict[str, int]] = judge_all(
        tables, purpose, at, policy, kinds, engine, allowed_only=True)
    return result


def judge_all(
    tables: StateTables,
    purpose: str,
    at: datetime,
    policy: Policy,
    kinds: Sequence[str] | None = None,
    engine: str = "duckdb",
    packed_lines: int = 4,
    chunk_rows: int = 1 << 21,
    allowed_only: bool = False,
) -> Any:
    """:func:`select`, with the number of participant lines per meeting that travel as
    columns (``packed_lines``; the tests lower it to exercise the path for big meetings)
    and the number of items judged at a time where lookups go by position
    (``chunk_rows``: their looked-up columns exist for one share of the items at a time).
    ``allowed_only`` gives what :func:`select_allowed` does instead."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the time of a selection must carry a time zone")
    unknown = sorted(set(kinds or ()) - set(DATA_KINDS))
    if unknown:
        raise ValueError(f"unknown data kind(s) {', '.join(unknown)}; expected some of {', '.join(DATA_KINDS)}")
    t = to_micros(at)
    versions = pc.unique(tables.acceptances.column("version")).to_pylist()
    plan = compile_plan(tables.terms_grants, versions, purpose, policy, kinds)
    plan.packed_lines = packed_lines
    # The consents relied on are gathered on this thread while the derived items'
    # fixed point is found and the answer assembled around them (see ``assemble``).
    with ThreadPoolExecutor(max_workers=1) as pool:
        run = executor(engine, tables.items.num_rows)
        try:
            consent_ids, items = _load(run, tables, plan.tables)
            columns, general = _judge(run, plan, t, (items, tables.participants), chunk_rows)
            needs_ids = columns.pop("needs_ids")
            evidence: Callable[[], pa.Table | None] = lambda: None  # noqa: E731
            if general is not None:
                # Who counted and the consent each relied on, looked up by position, for
                # every listed item whose own verdict allows it with consent (those a
                # source denies are dropped once the final verdicts are known).
                rows = pa.array(np.flatnonzero(needs_ids & columns["listed"]))
                candidates = items.select(["rid", "owner_ref", "meeting_ref", "kind_code"]).take(rows)
                evidence = pool.submit(relied_on, candidates, tables.participants, general,
                                       run.fetch("SELECT * FROM s_cm"),
                                       np.array(plan.consent_places(), dtype=np.int64)).result
                del rows, candidates
            del needs_ids
            if run.in_process:
                # The links and their fixed point by position: what ``_fixed_point``'s
                # rounds and ``unusable_sql`` find in the engine elsewhere.
                usable, unusable = _usable_in_process(columns, tables.sources)
            else:
                fixed = _fixed_point(run, tables.sources.num_rows > 0)
                usable = run.fetch(f"SELECT rid FROM {fixed}").column("rid")
                unusable = run.fetch(_sql_out.unusable_sql(fixed)).column("rid") if tables.sources.num_rows else []
                if tables.sources.num_rows:
                    run.drop("s_links")
                if plan.of_kind("consent"):
                    run.materialize("s_people", _sql_out.people_sql(fixed))
                    fetched = run.fetch(_sql_out.evidence_sql(plan))
                    evidence = lambda: fetched  # noqa: E731
        finally:
            run.close()
        return (assemble_allowed if allowed_only else assemble)(
            tables.items, plan, columns, usable, unusable, evidence, consent_ids)


def _consents_in_order(consents: pa.Table) -> tuple[pa.Table, ConsentIds]:
    """``consents`` with ``seq`` renumbered 0, 1, ... in its order (the order is all the
    rules read of it), and their ids by that number. The rows stay where they are.

    A store's state numbers its consents so already (``seq`` is each one's rank): then
    nothing is sorted, and only the ids a selection relies on are ever gathered."""
    seq = consents.column("seq").to_numpy()
    n = len(seq)
    ids = whole(consents.column("id"))
    if n and seq.min() == 0 and seq.max() == n - 1 and bool(np.all(np.bincount(seq, minlength=n) == 1)):
        by_number = np.empty(n, dtype=np.int64)
        by_number[seq] = np.arange(n, dtype=np.int64)  # the row of the consent numbered k
        return consents, ConsentIds(ids, by_number)
    rows = None if n < 2 or np.all(seq[1:] > seq[:-1]) else np.argsort(seq, kind="stable")
    numbers = np.arange(n, dtype=np.int64)
    if rows is not None:
        numbers[rows] = np.arange(n, dtype=np.int64)
    return consents.set_column(consents.schema.get_field_index("seq"), "seq", pa.array(numbers)), ConsentIds(ids, rows)


def _load(run: Executor, tables: StateTables, plan_tables: dict[str, pa.Table]) -> tuple[ConsentIds, pa.Table]:
    """Register the state and the plan with the engine; the consent ids, by ``seq``, and
    the items as the engine reads them."""
    items = tables.items
    # The engine reads only what the rules need; the manifest columns are attached to
    # the result afterwards, without a round trip through the engine.
    needed = [name for name in SCHEMAS["items"].names if name not in ("uri", "sha256")]
    # Row numbers as narrow as they can be: every per-item result carries them.
    rid = np.arange(items.num_rows, dtype=np.int32 if items.num_rows < 2**31 else np.int64)
    items = items.select(needed).append_column("rid", pa.array(rid))
    run.load("t_items", items)
    for name, table in tables.as_dict().items():
        if name == "items":
            continue
        table = table.select(SCHEMAS[name].names)
        if name == "consents":
            table, consent_ids = _consents_in_order(table)
        if name in ("people", "accounts", "meetings", "groups"):
            # A row's number is what references to it hold.
            table = table.append_column("ref", pa.array(np.arange(table.num_rows, dtype=np.int64)))
        run.load(f"t_{name}", table)
    for name, table in plan_tables.items():
        run.load(name, table)
    return consent_ids, items


def _judge(run: Executor, plan: Plan, t: int, state: tuple[pa.Table, pa.Table],
           chunk_rows: int) -> tuple[dict[str, np.ndarray], Latest | None]:
    """Everything up to each item's own verdict (``s_base``), step by step, as its
    columns in items order (see ``InItemOrder``); ``state`` is the items as the engine
    reads them and the participant lines. In process, where consent counts, also each
    person's latest general consents by position (see ``latest_general``).

    In process, ``s_base`` is never a table of the engine's: each share of it is put in
    items order as it comes, while the engine judges the next."""
    items, participants = state
    consent, settings, notices = plan.of_kind("consent"), plan.of_kind("setting"), plan.of_kind("notice")
    looked_up: dict[str, Index] = {}
    # Tables no step after s_base reads: only the consent states are read again (for the
    # consents relied on), so the rest is dropped as soon as s_base exists.
    scratch: list[str] = []
    general = None

    def step(name: str, sql: str, lookup: bool = False) -> None:
        run.materialize(name, sql)
        scratch.append(name)
        if lookup and run.in_process:
            looked_up.update(indexes({name: run.fetch(f"SELECT * FROM {name}")}))

    if consent:
        for name, sql in _sql.consent_states(plan, t).items():
            if name == "s_cg" and run.in_process:
                # One row per person of a million or so, a column per kind: grouped by
                # position, faster than the engine's hash aggregate of as many groups.
                table, general = latest_general(run.fetch("SELECT * FROM s_rel"), plan.consent_kinds)
                run.load(name, table)
            else:
                run.materialize(name, sql)
        run.drop("s_rel")
        scratch.append("s_pgm")
    if consent or settings:
        step("s_owner", _sql.people(plan, t), lookup=True)
    step("s_acc", _sql.accounts(plan, t), lookup=True)
    lines = None
    if consent and run.in_process:
        # Each line's subject's consent states, taken by position like the items' below.
        lines = "t_lines"
        run.load(lines, participants.select(["meeting_ref", "subject_ref", "pos", "notified"]).append_column(
            "o_pg", looked_up["s_owner"].take(participants.column("subject_ref"), ["pg"])["o_pg"]))
        scratch.append(lines)
    if (consent or notices) and run.in_process:
        # Grouped by position: a meeting's row is its number (see ``per_meeting``).
        meetings = per_meeting(run.fetch(_sql.line_flags(plan, lines)), plan.packed_lines,
                               [f"n{c.index}" for c in notices])
        run.load("s_lines", meetings)
        scratch.append("s_lines")
        looked_up.update(indexes({"s_lines": meetings}))
    elif consent or notices:
        step("s_lines", _sql.meetings(plan, lines), lookup=True)
    big = 0
    if consent:
        # Meetings with more lines than travel as columns are rare; s_over, the path for
        # their items, is made only when there are some.
        big = run.fetch("SELECT count(*) AS n FROM s_lines WHERE over").column("n")[0].as_py()
        if big:
            step("s_over", _sql.overflow(plan, t, lines))
    if not run.in_process:
        base = run.collect("s_base", _sql_item.base(plan, t, overflow=bool(big)))
        run.drop(*scratch)
        return in_item_order(base, items.num_rows), None
    looked_up.update(indexes({"p_vk": plan.tables["p_vk"]}))
    pairs = Pairs(run.fetch("SELECT * FROM s_pgm")) if consent else None
    sql = _sql_item.base(plan, t, gathered="t_wide", overflow=bool(big))
    order = InItemOrder(items.num_rows)
    starts = range(0, max(items.num_rows, 1), chunk_rows)
    # The next share's columns are taken (Arrow, without the GIL), and the last share
    # judged put in items order, while the engine judges this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        wide = pool.submit(widen, items.slice(0, chunk_rows), looked_up, pairs)
        placed = []
        for start in starts:
            run.load("t_wide", wide.result())
            if start + chunk_rows < items.num_rows:
                wide = pool.submit(widen, items.slice(start + chunk_rows, chunk_rows), looked_up, pairs)
            placed.append(pool.submit(order.add, run.fetch(sql)))
        for job in placed:
            job.result()
    run.drop("t_wide", *scratch)
    return order.columns, general


def _links(columns: dict[str, np.ndarray], sources: pa.Table) -> dict[str, np.ndarray]:
    """``s_links`` (see ``_sql_out.LINKS``) as arrays, from ``s_base`` in items order (see
    ``InItemOrder``) and the source rows by position: what ``s_base`` says of an item is
    read at each link's two ends without a join. A missing source's row is the number
    of items."""
    def padded(values: np.ndarray) -> np.ndarray:
        return np.append(np.asarray(values, dtype=bool), False)  # the last place stands for a missing source

    n = len(columns["key"])
    base_ok, derived = padded(columns["allowed"]), padded(columns["derived"])
    listed = padded(np.asarray(columns["listed"], dtype=bool) & (columns["key"] >= 0))
    item_row = np.asarray(sources.column("item_row").to_numpy(), dtype=np.int64)
    source_row = np.asarray(pc.fill_null(sources.column("source_row"), n).to_numpy(), dtype=np.int64)
    keep = np.flatnonzero(derived[item_row] & (base_ok[item_row] | listed[item_row]))
    item_row, source_row = item_row.take(keep), source_row.take(keep)
    src_ok = base_ok.take(source_row)
    return {"rid": item_row, "source_row": source_row, "base_ok": base_ok.take(item_row),
            "listed": listed.take(item_row), "src_ok": src_ok, "src_derived": src_ok & derived.take(source_row)}


def _usable_in_process(columns: dict[str, np.ndarray], sources: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """What ``_fixed_point`` and ``_sql_out.unusable_sql`` give, by position: the rows of
    the derived items in the fixed point, and those of listed derived items with a
    source that is not usable (once per such source).

    Each round keeps the derived items with links whose own verdict holds and every
    link usable given the round before, starting from none: the rounds only grow, so
    the first that adds nothing is the fixed point."""
    n = len(columns["key"])
    if not sources.num_rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    links = _links(columns, sources)
    own = links["base_ok"]
    rid, source_row = links["rid"][own], links["source_row"][own]
    src_ok, src_derived = links["src_ok"][own], links["src_derived"][own]
    candidate = np.zeros(n + 1, dtype=bool)  # the last place: a missing source, never usable
    candidate[rid] = True
    usable, size = np.zeros(n + 1, dtype=bool), 0
    while True:
        failing = np.zeros(n + 1, dtype=bool)
        failing[rid[~(src_ok & (~src_derived | usable.take(source_row)))]] = True
        grown = candidate & ~failing
        count = int(np.count_nonzero(grown))
        usable = grown
        if count == size:
            break
        size = count
    ok = links["src_ok"] & (~links["src_derived"] | usable.take(links["source_row"]))
    return np.flatnonzero(usable[:n]), links["rid"][links["listed"] & ~ok]


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
        run.drop(previous)
        if grown == size:
            return name
        previous, size = name, grown
    raise AssertionError("unreachable: each round adds at least one item")
