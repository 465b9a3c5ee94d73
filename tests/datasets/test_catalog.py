"""A content catalog outside the store, judged with the store's consent state."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq


def _catalog(path):
    created = datetime(2023, 8, 20, tzinfo=UTC)
    pq.write_table(pa.table({
        "id": ["cat-1", "cat-2", "cat-3"],
        "kind": ["chat", "chat", "chat"],
        "account": ["northwind"] * 3,
        "owner": ["ana", "dev", "ben"],
        "created_at": pa.array([created] * 3, pa.timestamp("us", tz="UTC")),
        "uri": ["s3://cat/1", "s3://cat/2", "s3://cat/3"],
        "signals": [None, None, json.dumps({"tdm_reservation": 1})],
    }), path)
    return path


def test_catalog_items_are_judged_with_the_stores_state(cli, examples, tmp_path):
    cli("load", str(examples / "seed-story.jsonl"), check=True)
    catalog = _catalog(tmp_path / "catalog.parquet")
    cli("dataset", "build", "cat", "--purpose", "ai.training", "--kinds", "chat", "--at", "2023-09-02T00:00:00Z",
        "--out", str(tmp_path / "ds"), "--catalog", str(catalog), check=True)
    description = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    rows = pq.read_table(tmp_path / "ds" / "manifest.parquet").to_pylist()
    assert [(row["item_id"], row["uri"]) for row in rows] == [("cat-1", "s3://cat/1")]
    assert description["excluded"] == {"consent.missing": 1, "setting.off": 1, "signal.reserved": 1}
    assert description["catalog"] == str(catalog)


def test_impact_rejudges_catalog_items(cli, examples, tmp_path):
    cli("load", str(examples / "seed-story.jsonl"), check=True)
    catalog = _catalog(tmp_path / "catalog.parquet")
    cli("dataset", "build", "cat", "--purpose", "ai.training", "--at", "2023-09-02T00:00:00Z",
        "--out", str(tmp_path / "ds"), "--catalog", str(catalog), check=True)
    withdrawal = {"type": "consent", "id": "c-ana-2", "subject": "ana", "purpose": "ai.training",
                  "status": "withdrawn", "at": "2023-09-05T00:00:00Z"}
    cli("load", "-", input=json.dumps(withdrawal) + "\n", check=True)
    result = json.loads(cli("impact", "--subject", "ana", "--at", "2023-09-06T00:00:00Z", "--json", check=True).stdout)
    assert [(d["name"], d["items"]) for d in result["datasets"]] == [("cat", ["cat-1"])]


ERASE_CAT_1 = json.dumps({"type": "delete", "item": "cat-1", "at": "2023-09-03T00:00:00Z"}) + "\n"


def _refused(result, *needles):
    """Exit 1 with one line on stderr, no traceback, holding every needle."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(needle in lines[0] for needle in needles), (needles, lines[0])


def test_an_erasure_of_a_catalog_item_is_loaded_with_the_catalog_and_traced(cli, examples, tmp_path):
    cli("load", str(examples / "seed-story.jsonl"), check=True)
    catalog = _catalog(tmp_path / "catalog.parquet")
    cli("dataset", "build", "cat", "--purpose", "ai.training", "--at", "2023-09-02T00:00:00Z",
        "--out", str(tmp_path / "ds"), "--catalog", str(catalog), check=True)
    head = cli("audit", "head", check=True).stdout
    # Without the catalog the item is nowhere to be found: refused, nothing stored.
    _refused(cli("load", "-", input=ERASE_CAT_1), "<stdin>, line 1", "item", "'cat-1' does not exist")
    assert cli("audit", "head", check=True).stdout == head
    loaded = cli("load", "-", "--catalog", str(catalog), input=ERASE_CAT_1, check=True)
    assert "loaded 1 new event(s) from -: delete 1" in loaded.stdout
    result = json.loads(cli("impact", "--item", "cat-1", "--at", "2023-09-04T00:00:00Z", "--json",
                            check=True).stdout)
    assert [(d["name"], d["items"]) for d in result["datasets"]] == [("cat", ["cat-1"])]
    # Before its erasure the item was usable; after it, a build leaves it out as deleted.
    before = json.loads(cli("impact", "--item", "cat-1", "--at", "2023-09-02T12:00:00Z", "--json",
                            check=True).stdout)
    assert before["datasets"] == []
    cli("dataset", "build", "cat-after", "--purpose", "ai.training", "--kinds", "chat", "--at",
        "2023-09-04T00:00:00Z", "--out", str(tmp_path / "after"), "--catalog", str(catalog), check=True)
    assert pq.read_table(tmp_path / "after" / "manifest.parquet").num_rows == 0
    description = json.loads((tmp_path / "after" / "dataset.json").read_text())
    assert description["excluded"]["item.deleted"] == 1


def test_a_catalog_given_to_load_is_checked_and_named(cli, examples, tmp_path):
    cli("load", str(examples / "seed-story.jsonl"), check=True)
    catalog = _catalog(tmp_path / "catalog.parquet")
    head = cli("audit", "head", check=True).stdout
    unknown = json.dumps({"type": "delete", "item": "cat-9", "at": "2023-09-03T00:00:00Z"}) + "\n"
    _refused(cli("load", "-", "--catalog", str(catalog), input=ERASE_CAT_1 + unknown),
             "<stdin>, line 2", "'cat-9' does not exist", f"nor in the catalog {catalog}")
    _refused(cli("load", "-", "--catalog", str(tmp_path / "missing"), input=ERASE_CAT_1),
             f"--catalog {tmp_path / 'missing'}: no such file or folder")
    no_ids = tmp_path / "no-ids.parquet"
    pq.write_table(pa.table({"item": ["cat-1"]}), no_ids)
    _refused(cli("load", "-", "--catalog", str(no_ids), input=ERASE_CAT_1), f"--catalog {no_ids}", "lacks column(s) id")
    # Only an erasure may name a catalog's item: stored content derives from stored content.
    derived = json.dumps({"type": "content", "id": "sum-cat-1", "kind": "summary", "account": "northwind",
                          "owner": "ana", "created_at": "2023-08-21T00:00:00Z", "derived_from": ["cat-1"]}) + "\n"
    _refused(cli("load", "-", "--catalog", str(catalog), input=derived), "<stdin>, line 1", "derived_from",
             "'cat-1' does not exist", "nor anywhere in this file)")
    assert cli("audit", "head", check=True).stdout == head


def test_loaders_judge_a_catalog_datasets_items_as_its_build_did(cli, store_url, examples, tmp_path):
    from consentgate import Decider
    from consentgate.datasets.loaders import EligibleItems, to_hf_dataset

    cli("load", str(examples / "seed-story.jsonl"), check=True)
    catalog = _catalog(tmp_path / "catalog.parquet")
    cli("dataset", "build", "cat", "--purpose", "ai.training", "--kinds", "chat", "--at", "2023-09-02T00:00:00Z",
        "--out", str(tmp_path / "ds"), "--catalog", str(catalog), check=True)
    decider = Decider(store_url)
    try:
        # The view holds none of the catalog's items: they are judged over the catalog.
        items = EligibleItems(tmp_path / "ds", decider)
        assert [row["item_id"] for row in items] == ["cat-1"] and items.skipped == 0
        assert to_hf_dataset(tmp_path / "ds", decider)["item_id"] == ["cat-1"]
        cli("load", "-", "--catalog", str(catalog), input=ERASE_CAT_1, check=True)
        assert list(items) == [] and items.skipped == 1
        assert dict(items.skipped_reasons) == {"item.deleted": 1}
        assert to_hf_dataset(tmp_path / "ds", decider).num_rows == 0
        assert to_hf_dataset(tmp_path / "ds").num_rows == 1
        # An item the catalog lists no more is unknown.
        pq.write_table(pq.read_table(catalog).slice(1), catalog)
        assert list(items) == [] and dict(items.skipped_reasons) == {"item.unknown": 1}
    finally:
        decider.store.dispose()
