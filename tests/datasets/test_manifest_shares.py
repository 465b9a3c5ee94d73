"""A manifest written from shares as a catalog is read: same file contents, in order,
and nothing left behind when a share fails."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consentgate.bulk import _catalog as bulk_catalog
from consentgate.bulk import catalog_files
from consentgate.datasets import manifest, registry
from consentgate.datasets.build import with_files, write_and_register
from consentgate.errors import InvalidInput, NotFound
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


def _catalog_folder(folder, sizes, without=()):
    """A catalog of one file per size, its rows numbered on across the files; the files
    numbered in ``without`` lack the ``sha256`` column."""
    folder.mkdir()
    start = 0
    for number, size in enumerate(sizes):
        rows = range(start, start + size)
        columns = {"id": [f"i-{k}" for k in rows], "uri": [f"s3://media/{k}.bin" for k in rows]}
        if number not in without:
            columns["sha256"] = [f"{k:064x}" for k in rows]
        pq.write_table(pa.table(columns), folder / f"part-{number}.parquet", row_group_size=6)
        start += size
    return folder


def test_files_come_from_the_catalog_share_by_share_and_service_data_has_none(tmp_path, monkeypatch):
    catalog = _catalog_folder(tmp_path / "catalog", [25, 15])
    monkeypatch.setattr(bulk_catalog, "SHARE_ROWS", 2)
    positions = np.array([0, 5, 6, 13, 14, 15, 26, 39, 40, 41])  # the last two: service data, after the catalog
    rows = _rows(len(positions))
    shares = list(with_files(rows, positions, catalog))
    assert [share.num_rows for share in shares] == [2, 2, 2, 2, 2]
    joined = pa.concat_tables(shares)
    assert joined.column("item_id").equals(rows.column("item_id"))
    assert joined["uri"].to_pylist() == [f"s3://media/{k}.bin" for k in positions[:-2]] + [None, None]
    assert joined["sha256"].to_pylist() == [f"{k:064x}" for k in positions[:-2]] + [None, None]


def test_a_catalog_file_without_a_files_column_gives_nulls_for_it(tmp_path):
    catalog = _catalog_folder(tmp_path / "catalog", [10, 10], without={1})
    files = catalog_files(catalog, np.array([3, 9, 10, 17]))
    assert files["uri"].to_pylist() == ["s3://media/3.bin", "s3://media/9.bin", "s3://media/10.bin",
                                        "s3://media/17.bin"]
    assert files["sha256"].to_pylist() == [f"{3:064x}", f"{9:064x}", None, None]


def test_a_catalog_file_that_cannot_be_read_is_refused_in_one_line(tmp_path):
    catalog = _catalog_folder(tmp_path / "catalog", [10, 5])
    shares = with_files(_rows(2), np.array([4, 12]), catalog)
    assert next(shares).num_rows == 1
    (catalog / "part-1.parquet").write_bytes(b"PAR1 not a footer PAR1")
    with pytest.raises(InvalidInput, match=r"^--catalog .*: cannot read the catalog file .*part-1.parquet: [^\n]+$"):
        next(shares)


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
