"""Bulk selection: the rules of the policy core as one relational plan over Arrow tables.

``decide`` answers one question at a time; :func:`select` answers "which items may be
used for this purpose, as of this time, and why not" for every item at once, with
exactly the same answers, by running the rules as SQL on DuckDB (in process) or Spark
(for catalogs that outgrow one machine). The state it reads is a :class:`StateTables`,
built from a :class:`~consentgate.core.World` or straight from the store.

Where each rule lives:

- ``_tables``: the state tables and their columns;
- ``_plan``: what the terms and policy say for the asked purpose (small tables);
- ``_sql``: per person, meeting and account: consent states, effective settings,
  notices, terms in force;
- ``_sql_item``: each item's verdict from its grants (erasures, reasons as a key);
- ``_sql_out``: derived content (a fixed point over sources) and the consent basis;
- ``_answer``: the engine's compact results spelt out as the answer table;
- ``_engines``: DuckDB and Spark executors; ``_select``: the driver.
"""

from ._answer import RESULT_SCHEMA
from ._catalog import catalog_file_batches, catalog_files, catalog_ids_among
from ._engines import ENGINES, spark_session
from ._from_world import state_tables_from_world
from ._kept import kept_folder, kept_written
from ._select import select, select_allowed
from ._store import keep_columns, state_tables_from_store
from ._tables import KIND_BITS, SCHEMAS, StateTables

__all__ = [
    "ENGINES",
    "KIND_BITS",
    "RESULT_SCHEMA",
    "SCHEMAS",
    "StateTables",
    "catalog_file_batches",
    "catalog_files",
    "catalog_ids_among",
    "keep_columns",
    "kept_folder",
    "kept_written",
    "select",
    "select_allowed",
    "spark_session",
    "state_tables_from_store",
    "state_tables_from_world",
]
