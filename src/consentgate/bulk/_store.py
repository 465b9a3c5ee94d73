"""State tables straight from the store (SQLite or PostgreSQL), and content catalogs.

Event tables arrive as Arrow columns (see ``_columnar``) and become state tables with
Arrow and NumPy operations (see ``_raw``); the items of content and service data are
merged here, and references added (see ``_refs``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, func, select

from ..store import COLUMNAR_FROM, read_head
from ..store.schema import EVENT_SPECS, log
from ._advance import advanced
from ._catalog import all_distinct, content_items, read_catalog
from ._columnar import Reader, event_reader
from ._kept import Kept, KeptStates, StateBase, state_base, state_key
from ._raw import (
    acceptances_table,
    accounts_table,
    consents_table,
    groups_table,
    json_lists,
    list_positions,
    meetings_table,
    participant_lines,
    settings_table,
    terms_grants_table,
    user_groups_table,
    users_table,
)
from ._refs import encoded, with_references
from ._tables import StateTables, build, raw_schema, strings, whole


def state_tables_from_store(
    connection: Connection, catalog: str | Path | None = None, *, head: int | None = None,
    columnar: bool | None = None, keep: str | Path | None = None, keep_in_background: bool = False,
) -> StateTables:
    """The store's state as Arrow tables (see :mod:`consentgate.bulk`).

    The state is the one at log entry ``head`` (by default the log head ``connection``'s
    transaction sees), even though the columns are read on a connection of their own
    (see ``_columnar``): events logged after it are left out.

    Args:
        connection: an open connection to an initialized store (read transaction).
        catalog: a Parquet file or folder of content items that replaces the store's
            content (see :func:`read_catalog` for its columns); service data, consents,
            settings, terms, meetings and erasures still come from the store.
        head: the log's sequence number to read the state at, such as the one
            :func:`~consentgate.store.read_head` gave on the same connection.
        columnar: True reads the event tables through ADBC where the store allows it;
            False fetches their rows through ``connection``; None (the default) takes
            ADBC for large stores. All give the same tables.
        keep: a folder where the store's columns are kept between reads, so that a
            later read asks the store only for the events logged since, and where the
            state tables themselves are kept, so that a read at the same log entry over
            the same catalog files (as the same code read them) reads nothing again,
            and a read at a later one brings the kept state forward over the events
            logged since (see ``_kept`` and ``_advance``;
            :func:`~consentgate.bulk.kept_folder` gives the usual place).
            Only columnar reads keep anything.
        keep_in_background: write the state tables kept in ``keep`` on a thread while
            the caller goes on (the event columns are written during the read either
            way); :func:`~consentgate.bulk.kept_written` waits for them, as a later read
            of a kept state and the end of the process do.

    Raises:
        ValueError: the catalog is missing a column, has a wrong type or repeats an id.
    """
    reads = {type_: fields for type_, fields in _READS.items() if catalog is None or type_ != "content"}
    if head is None:
        head = connection.execute(select(func.coalesce(func.max(log.c.seq), 0))).scalar_one()
    if columnar is None:
        columnar = head >= COLUMNAR_FROM
    states, key, about = None, None, {}
    if keep is not None and columnar:
        # Log entries that are no event read here (a dataset registered, say) leave the
        # state as it was: it is the state as of the last event read.
        last = max((connection.execute(select(func.max(EVENT_SPECS[type_].table.c.seq)).where(
            EVENT_SPECS[type_].table.c.seq <= head)).scalar() or 0 for type_ in reads), default=0)
        hash_ = connection.execute(select(log.c.hash).where(log.c.seq == last)).scalar()
        base = _state_base(catalog)
        if hash_ is not None and base is not None:
            states, key = KeptStates(Path(keep)), state_key(base, last, hash_)
            about = {**base.about(), "seq": last, "hash": hash_}
            if catalog is None:  # a state without content can start a catalog's (see ``StateBase.grows``)
                about["content"] = _holds_content(connection, last)
            found = states.read(key)
            if found is not None:
                return StateTables(**found)
            earlier = states.earlier(connection, base, last)
            if earlier is not None:
                brought = advanced(connection, earlier, reads, head, Path(keep), catalog, base)
                if brought is not None:
                    tables, changed = brought
                    states.keep(key, tables.as_dict(), about, later=keep_in_background, earlier=earlier,
                                unchanged=set(earlier.tables) - changed)
                    return tables
    with event_reader(connection, reads, columnar, head, Path(keep) if keep is not None else None) as read:
        tables = _state_tables(read, catalog)
    if states is not None and key:
        states.keep(key, tables.as_dict(), about, later=keep_in_background)
    return tables


def keep_columns(connection: Connection, keep: str | Path) -> bool:
    """Keep the store's event columns in ``keep`` (see ``_kept``) as a columnar read of
    the whole state does: where no copy is kept yet, or the newest lags ``COLUMNAR_FROM``
    events or more behind the log head. Then keep the store's state as a read without a
    catalog works it out (brought forward from a kept one where there is one). Whether
    a copy at the head is kept now.

    A large load calls it (see :func:`consentgate.service.keep_loaded_columns`), so that
    the next build reads the store's columns from the files kept here, and starts from
    the kept state: a build without a catalog as it is, a build over a catalog, when the
    store holds no content, with the catalog's items added to it (see ``_advance``).

    Raises:
        StoreError: the store could not be read.
    """
    head, _ = read_head(connection)
    with event_reader(connection, _READS, columnar=True, head=head, keep=Path(keep)) as read:
        for type_ in _READS:
            read(type_)
    copy = Kept(Path(keep)).latest(connection, _READS, head)
    if copy is None or copy[0] != head:
        return False
    state_tables_from_store(connection, head=head, columnar=True, keep=keep)
    return True


def _holds_content(connection: Connection, seq: int) -> bool:
    """Whether the store held content as of log entry ``seq``."""
    table = EVENT_SPECS["content"].table
    return connection.execute(select(table.c.seq).where(table.c.seq <= seq).limit(1)).first() is not None


def _state_base(catalog: str | Path | None) -> StateBase | None:
    """A kept state's base (None when the catalog cannot be listed: reading it says why)."""
    try:
        return state_base(catalog)
    except (OSError, ValueError, pa.ArrowException):
        return None


# What a selection reads of each event type, in the order it is read: the items' own
# tables, then the largest of the rest, so that the participant lines can be worked on
# while the smaller tables are still being read.
_READS: dict[str, tuple[str, ...]] = {
    "content": ("id", "kind", "account", "owner", "meeting", "created_at", "uri", "sha256", "derived_from",
                "signals"),
    "service_data": ("id", "kind", "account", "user", "at"),
    "delete": ("item", "at"),
    "participant": ("meeting", "subject", "notified"),
    "consent": ("id", "subject", "purpose", "status", "kinds", "meeting", "by", "method", "at", "expires_at"),
    "meeting": ("id", "account"),
    "user": ("id", "account", "groups"),
    "terms": ("version", "effective_at", "sections"),
    "account": ("id", "region"),
    "group": ("id", "account", "priority"),
    "setting": ("scope", "target", "key", "value", "locked", "at"),
    "terms_acceptance": ("account", "version", "at"),
}


def _state_tables(read: Reader, catalog: str | Path | None) -> StateTables:
    with ThreadPoolExecutor(max_workers=1) as pool:
        if catalog is None:
            c = read("content")
            content = content_items(c.set_column(c.schema.get_field_index("derived_from"), "derived_from",
                                                 json_lists(c["derived_from"])))
        s = read("service_data")
        service = pa.table({
            "item_id": s["id"], "kind": s["kind"], "account": s["account"], "owner": s["user"],
            "created": s["at"], "seq": s["seq"],
        })
        deletes = read("delete")
        # Where the store is read ahead, the participant lines (its largest table) are
        # worked on as soon as they arrive, beside the items (and the catalog's read).
        lines = pool.submit(lambda: participant_lines(read("participant"))) if read.ahead else None
        if catalog is not None:
            content = read_catalog(catalog)
        items, sources, erased_rows = _merge_items(content, service, deletes["item"], catalog)
        # Hashed now, while the reader still reads the largest tables, rather than after;
        # two columns at a time, as the participant lines are done by then or nearly.
        names = ("owner", "meeting", "kind", "account")
        with ThreadPoolExecutor(max_workers=2) as encoders:
            hashed = list(encoders.map(lambda name: encoded(items[name]), names))
        for name, column in zip(names, hashed, strict=True):
            items = items.set_column(items.schema.get_field_index(name), name, column)
        del hashed
        participants = lines.result() if lines else participant_lines(read("participant"))
        consents = consents_table(read("consent"))
        meetings = meetings_table(read("meeting"))
    users = read("user")
    terms = read("terms")
    return with_references(dict(
        items=items,
        sources=sources,
        accounts=accounts_table(read("account")),
        groups=groups_table(read("group")),
        users=users_table(users),
        user_groups=user_groups_table(users),
        settings=settings_table(read("setting")),
        terms_grants=terms_grants_table(terms),
        acceptances=acceptances_table(read("terms_acceptance"), terms),
        consents=consents,
        meetings=meetings,
        participants=participants,
        erasures=build("erasures", {"item_id": deletes["item"], "item_row": erased_rows, "at": deletes["at"]}),
    ), compact=True)


def _item_codes(content: pa.Table, service: pa.Table, links: pa.Array,
                erased: pa.ChunkedArray) -> tuple[np.ndarray, ...]:
    """Every item id the state names, hashed once: each content row's, service row's,
    source's and erased item's number among the distinct ids (-1 for a null id).

    The content ids come first, so where they do not repeat a content row's number is
    its row.
    """
    columns = [content["item_id"], service["item_id"], pc.list_flatten(links), erased]
    if not sum(len(column) for column in columns):
        return tuple(np.zeros(0, dtype=np.int64) for _ in columns)
    if all_distinct(content["item_id"]):
        return (np.arange(content.num_rows, dtype=np.int64), *_codes_beside(content["item_id"], columns[1:]))
    encoded = pc.dictionary_encode(strings(*columns))
    codes = np.concatenate([pc.fill_null(chunk.indices, -1).to_numpy(zero_copy_only=False)
                            for chunk in encoded.chunks]).astype(np.int64, copy=False)
    bounds = np.cumsum([len(column) for column in columns])[:-1]
    return tuple(np.split(codes, bounds))


def _codes_beside(ids: pa.ChunkedArray, columns: list[pa.Array | pa.ChunkedArray]) -> list[np.ndarray]:
    """The numbers of ``_item_codes`` for ``columns`` when the content ids ``ids`` are
    distinct: a content id's row, else ``len(ids)`` onwards for the other distinct ids.

    The ids of ``columns`` are joined to the content ids in DuckDB, on every core; only
    those no content row has are hashed here.
    """
    import duckdb

    rest = strings(*columns)
    codes = np.full(len(rest), -1, dtype=np.int64)
    if len(rest):
        with duckdb.connect(":memory:") as connection:
            connection.register("items", pa.table({"id": ids, "row": np.arange(len(ids), dtype=np.int64)}))
            connection.register("rest", pa.table({"id": rest, "pos": np.arange(len(rest), dtype=np.int64)}))
            found = connection.sql("SELECT rest.pos, items.row FROM rest JOIN items USING (id)").to_arrow_table()
        codes[found["pos"].to_numpy()] = found["row"].to_numpy()
        outside = np.flatnonzero((codes < 0) & pc.is_valid(rest).to_numpy(zero_copy_only=False))
        if len(outside):
            other = pc.dictionary_encode(whole(rest.take(pa.array(outside))))
            codes[outside] = len(ids) + other.indices.to_numpy(zero_copy_only=False)
    bounds = np.cumsum([len(column) for column in columns])[:-1]
    return list(np.split(codes, bounds))


def _merge_items(
    content: pa.Table, service: pa.Table, erased: pa.ChunkedArray, catalog: str | Path | None = None,
) -> tuple[pa.Table, pa.Table, pa.Array]:
    """Content and service data as one ``items`` table, plus ``sources`` and each
    erasure's item row.

    An id used by both types is one item to the in-memory view: the later event's (a
    catalog may not share an id with the store's service data). Content rows carry their
    exploded ``derived_from`` as ``source_list`` (see ``_catalog``).

    Raises:
        ValueError: the catalog repeats an id, or reuses a service-data item's.
    """
    n_content = content.num_rows
    links = whole(content["source_list"])
    content_codes, service_codes, source_codes, erased_codes = _item_codes(content, service, links, erased)
    if catalog is not None and not np.array_equal(content_codes, np.arange(n_content)):
        raise ValueError(f"the catalog {catalog} repeats an id (or has an empty one)")
    keep_content = np.ones(n_content, dtype=bool)
    keep_service = np.ones(service.num_rows, dtype=bool)
    clash = (service_codes < n_content) & (service_codes >= 0)
    if clash.any():
        if catalog is not None:
            raise ValueError(f"the catalog {catalog} reuses the id of a service-data item in the store")
        content_seq = content["seq"].to_numpy()
        service_seq = service["seq"].to_numpy()
        for index in np.flatnonzero(clash):
            row = int(service_codes[index])
            if content_seq[row] > service_seq[index]:
                keep_service[index] = False
            else:
                keep_content[row] = False
    kept = content.filter(pa.array(keep_content)) if not keep_content.all() else content
    service = service.filter(pa.array(keep_service)) if not keep_service.all() else service
    nulls = pa.nulls(service.num_rows, pa.string())
    kept = kept.select(raw_schema("items").names)
    items = kept if not service.num_rows else pa.concat_tables([
        kept,
        pa.table({  # in the content's types: a catalog's kind and account are dictionaries
            "item_id": service["item_id"], "kind": service["kind"], "account": service["account"],
            "owner": service["owner"], "meeting": nulls, "created": service["created"], "uri": nulls,
            "sha256": nulls, "derived": pa.array(np.zeros(service.num_rows, dtype=bool)),
            "train_reserved": pa.array(np.zeros(service.num_rows, dtype=bool)),
        }, schema=kept.schema),
    ])
    # Each distinct id's row among the items (-1: none), from the numbers above.
    n_codes = 1 + max((int(codes.max()) for codes in (content_codes, service_codes, source_codes, erased_codes)
                       if len(codes)), default=-1)
    row_of = np.full(n_codes + 1, -1, dtype=np.int64)  # the extra last slot answers -1 (a null id)
    old_rows = np.flatnonzero(keep_content)
    row_of[content_codes[old_rows]] = np.arange(len(old_rows), dtype=np.int64)
    row_of[service_codes[keep_service]] = len(old_rows) + np.arange(service.num_rows, dtype=np.int64)
    # Sources: rows of the kept content, renumbered, then each source's row.
    new_row = np.full(n_content, -1, dtype=np.int64)
    new_row[old_rows] = np.arange(len(old_rows), dtype=np.int64)
    parents = pc.list_parent_indices(links).to_numpy(zero_copy_only=False)
    positions = list_positions(links, parents)
    mine = new_row[parents] >= 0
    source_rows = row_of[source_codes[mine]]
    sources = pa.table({
        "item_row": pa.array(new_row[parents][mine]),
        "source": pc.list_flatten(links).filter(pa.array(mine)),
        "source_row": pa.array(source_rows, mask=source_rows < 0),
        "pos": pa.array(positions[mine], pa.int32()),
    }, schema=raw_schema("sources"))
    erased_rows = row_of[erased_codes]
    return items, sources, pa.array(erased_rows, pa.int64(), mask=erased_rows < 0)

