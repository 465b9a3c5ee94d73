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
