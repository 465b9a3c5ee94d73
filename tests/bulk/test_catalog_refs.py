"""A catalog's owners and meetings joined to the state's people and meetings as DuckDB
reads them (``catalog_refs``), and the catalog read without them (``people_apart``)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consentgate.bulk._catalog import catalog_refs, read_catalog


def _file(path: Path, owners: list[str | None], meetings: list[str | None] | None = None, **more: pa.Array) -> str:
    n = len(owners)
    columns = {
        "id": pa.array([f"{path.stem}-{i}" for i in range(n)], pa.string()),
        "kind": pa.array(["chat"] * n, pa.string()), "account": pa.array(["acme"] * n, pa.string()),
        "owner": pa.array(owners, pa.string()),
        "created_at": pa.array([0] * n, pa.timestamp("s", tz="UTC")),
    }
    if meetings is not None:
        columns["meeting"] = pa.array(meetings, pa.string())
    pq.write_table(pa.table({**columns, **more}), path)
    return str(path)


def test_owners_and_meetings_are_found_among_the_ids_across_files_in_item_order(tmp_path):
    files = [_file(tmp_path / "a.parquet", ["ana", "zed", "ben", None], ["m1", None, "m9", "m1"]),
             _file(tmp_path / "b.parquet", ["yan", "zed", "ana"], ["m8", "m2", "m9"])]
    refs = catalog_refs(files, pa.array(["ben", "ana"]), pa.chunked_array([["m1"], ["m2"]]))
    assert refs["owner"].rows.tolist() == [1, -1, 0, -1, -1, -1, 1]
    # The ids no row has, in the order the items name them, repeats included.
    assert refs["owner"].missing.tolist() == [1, 4, 5]
    assert refs["owner"].ids.to_pylist() == ["zed", "yan", "zed"]
    assert refs["meeting"].rows.tolist() == [0, -1, -1, 0, -1, 1, -1]
    assert refs["meeting"].missing.tolist() == [2, 4, 6]
    assert refs["meeting"].ids.to_pylist() == ["m9", "m8", "m9"]


def test_an_id_the_table_holds_twice_is_found_at_its_first_row(tmp_path):
    files = [_file(tmp_path / "a.parquet", ["ana", "ben"], ["m1", "m2"])]
    refs = catalog_refs(files, pa.array(["ben", "ana", "ben"]), pa.array(["m2", "m1", "m1"]))
    assert refs["owner"].rows.tolist() == [1, 0]
    assert refs["meeting"].rows.tolist() == [1, 0]


def test_a_file_without_meetings_names_none(tmp_path):
    refs = catalog_refs([_file(tmp_path / "a.parquet", ["ana", "ben"])], pa.array(["ana"]), pa.array(["m1"]))
    assert refs["owner"].rows.tolist() == [0, -1] and refs["owner"].ids.to_pylist() == ["ben"]
    assert refs["meeting"].rows.tolist() == [-1, -1] and not len(refs["meeting"].missing)


def test_a_file_that_cannot_be_read_is_named_in_one_line(tmp_path):
    bad = tmp_path / "bad.parquet"
    good = _file(tmp_path / "good.parquet", ["ana"])
    bad.write_bytes(b"PAR1 not a parquet file")
    with pytest.raises(ValueError, match="cannot read the catalog") as caught:
        catalog_refs([good, str(bad)], pa.array(["ana"]), pa.array(["m1"]))
    assert "\n" not in str(caught.value)


def test_a_catalog_read_without_its_people_leaves_them_null_but_checks_their_type(tmp_path):
    path = _file(tmp_path / "a.parquet", ["ana", "ben"], ["m1", None])
    content = read_catalog(path, people_apart=True)
    assert content["item_id"].to_pylist() == ["a-0", "a-1"]
    assert content["owner"].null_count == 2 and content["meeting"].null_count == 2
    assert read_catalog(path)["owner"].to_pylist() == ["ana", "ben"]
    numbered = tmp_path / "numbered.parquet"
    table = pq.read_table(path)
    pq.write_table(table.set_column(table.schema.get_field_index("owner"), "owner", pa.array([1, 2])), numbered)
    with pytest.raises(ValueError, match="catalog column owner must be string, not int64"):
        read_catalog(numbered, people_apart=True)
