"""A manifest written from shares as a catalog is read: same file contents, in order,
and nothing left behind when a share fails."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consentgate.datasets import manifest, registry
from consentgate.datasets.build import with_files, write_and_register
from consentgate.errors import NotFound
from consentgate.service import init_store
from consentgate.store import Store

MANIFEST_COLUMNS = ["item_id", "kind", "account", "owner", "meeting", "uri", "sha256", "terms_version", "section",
                    "consent_ids"]


def _rows(n: int) -> pa.Table:
    """Allowed rows as a selection gives them: repeating columns as dictionaries, no files."""
    words = pa.array(["audio", "chat"])
    return pa.table({
        "item_id": [f"i-{k}" for k in range(n)],
        "kind": pa.DictionaryArray.from_arrays(pa.array(np.arange(n) % 2, pa.int8()), words),
        "account": [f"a-{k % 3}" for k in range(n)], "owner": [f"u-{k % 5}" for k in range(n)],
        "meeting": [None if k % 4 == 0 else f"m-{k // 4}" for k in range(n)],
        "uri": pa.nulls(n, pa.string()), "sha256": pa.nulls(n, pa.string()),
        "terms_version": ["2025-01"] * n, "section": ["10.4"] * n,
        "consent_ids": [[f"c-{k}"] if k % 2 else [] for k in range(n)],
    })


def test_a_manifest_written_in_shares_equals_one_written_whole(tmp_path, monkeypatch):
    rows = _rows(50)
    (tmp_path / "whole").mkdir()
    (tmp_path / "shares").mkdir()
    manifest.write_manifest(tmp_path / "whole", rows)
    monkeypatch.setattr(manifest, "_ROW_GROUP", 16)  # shares of 7 rows, gathered to 16 or more
    manifest.write_manifest(tmp_path / "shares", (rows.slice(start, 7) for start in range(0, 50, 7)))
    whole = pq.read_table(tmp_path / "whole" / manifest.MANIFEST)
    shared = pq.read_table(tmp_path / "shares" / manifest.MANIFEST)
    assert shared.equals(whole)
    assert shared.column_names == MANIFEST_COLUMNS
    groups = pq.ParquetFile(tmp_path / "shares" / manifest.MANIFEST).metadata
    assert [groups.row_group(i).num_rows for i in range(groups.num_row_groups)] == [21, 21, 8]


def test_no_shares_make_an_empty_manifest(tmp_path):
    manifest.write_manifest(tmp_path, iter(()))
    written = pq.read_table(tmp_path / manifest.MANIFEST)
    assert written.num_rows == 0
    assert written.column_names == MANIFEST_COLUMNS


def test_files_come_from_the_catalog_share_by_share_and_service_data_has_none(tmp_path):
    n_catalog = 40
    catalog = tmp_path / "catalog.parquet"
    pq.write_table(pa.table({
        "id": [f"i-{k}" for k in range(n_catalog)],
        "uri": [f"s3://media/{k}.bin" for k in range(n_catalog)],
        "sha256": [f"{k:064x}" for k in range(n_catalog)],
    }), catalog, row_group_size=6)  # one batch per row group: several shares
    positions = np.array([0, 5, 6, 13, 14, 15, 39, 40, 41])  # the last two: service data, after the catalog
    rows = _rows(len(positions))
    shares = list(with_files(rows, positions, catalog))
    assert len(shares) > 2
    joined = pa.concat_tables(shares)
    assert joined.column("item_id").equals(rows.column("item_id"))
    assert joined["uri"].to_pylist() == [f"s3://media/{k}.bin" for k in positions[:-2]] + [None, None]
    assert joined["sha256"].to_pylist() == [f"{k:064x}" for k in positions[:-2]] + [None, None]


def test_a_share_that_fails_leaves_no_registration_and_no_files(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    init_store(store)
    rows = _rows(10)

    def failing():
        yield rows.slice(0, 5)
        raise OSError("the catalog went away")

    description = {"name": "seed", "purpose": "ai.training", "at": "2025-01-01T00:00:00Z", "kinds": None,
                   "engine": "duckdb", "catalog": None, "excluded": {}, "policy": "p",
                   "log_head": {"seq": 0, "hash": "0" * 64}, "built_at": "2025-01-01T00:00:00Z"}
    with pytest.raises(OSError, match="went away"):
        write_and_register(store, tmp_path / "ds", failing(), rows.num_rows, description, ["store"])
    assert not (tmp_path / "ds").exists()
    assert not list(tmp_path.glob(".ds.partial-*"))
    with store.read() as connection, pytest.raises(NotFound, match="seed"):
        registry.find_dataset(connection, "seed")
    store.dispose()
