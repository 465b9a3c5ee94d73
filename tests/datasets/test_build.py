"""Datasets through the command line: build, register, models, impact, rebuild."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

SEED_AT = "2023-09-02T00:00:00Z"


@pytest.fixture
def seeded(cli, examples):
    cli("load", str(examples / "seed-story.jsonl"), check=True)
    return cli


def _items(examples: Path) -> list[str]:
    lines = (examples / "seed-story.jsonl").read_text().splitlines()
    return [e["id"] for e in map(json.loads, lines) if e["type"] in ("content", "service_data")]


def _decisions(cli, examples, at: str, purpose: str = "ai.training") -> list[dict]:
    questions = "".join(json.dumps({"item": i, "purpose": purpose, "at": at}) + "\n" for i in _items(examples))
    done = cli("decide", "--batch", "-", input=questions, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def _build(cli, out: Path, at: str = SEED_AT, *extra: str) -> dict:
    cli("dataset", "build", "seed", "--purpose", "ai.training", "--at", at, "--out", str(out), *extra, check=True)
    return json.loads((out / "dataset.json").read_text())


def test_build_selects_exactly_what_decide_allows(seeded, examples, tmp_path):
    description = _build(seeded, tmp_path / "ds")
    decisions = _decisions(seeded, examples, SEED_AT)
    allowed = {d["item"] for d in decisions if d["allowed"]}
    manifest = pq.read_table(tmp_path / "ds" / "manifest.parquet").to_pylist()
    assert {row["item_id"] for row in manifest} == allowed
    assert description["count"] == len(allowed) > 0
    assert all(row["terms_version"] and row["section"] for row in manifest)


def test_excluded_counts_match_the_denials(seeded, examples, tmp_path):
    description = _build(seeded, tmp_path / "ds")
    denied = [d for d in _decisions(seeded, examples, SEED_AT) if not d["allowed"]]
    existing = [d for d in denied if d["reasons"][0]["code"] != "item.unknown"]
    expected = Counter(code for d in existing for code in dict.fromkeys(r["code"] for r in d["reasons"]))
    assert description["excluded"] == dict(expected)


def test_manifest_names_the_consents_it_relied_on(seeded, tmp_path):
    _build(seeded, tmp_path / "ds")
    rows = {row["item_id"]: row for row in pq.read_table(tmp_path / "ds" / "manifest.parquet").to_pylist()}
    assert set(rows["m-100-audio"]["consent_ids"]) == {"c-ana-1", "c-ben-1", "c-zoe-1"}
    assert rows["m-100-audio"]["section"] == "10.4"


def test_build_is_registered_and_logged(seeded, tmp_path):
    before = int(seeded("audit", "head", check=True).stdout.split()[0])
    description = _build(seeded, tmp_path / "ds")
    assert int(seeded("audit", "head", check=True).stdout.split()[0]) == before + 1
    assert description["log_head"]["seq"] == before
    listed = json.loads(seeded("dataset", "list", "--json", check=True).stdout)
    assert [d["id"] for d in listed] == ["seed@1"]
    assert seeded("audit", "verify").returncode == 0


def test_building_again_makes_a_new_version(seeded, tmp_path):
    _build(seeded, tmp_path / "a")
    second = _build(seeded, tmp_path / "b")
    assert (second["id"], second["replaces"]) == ("seed@2", "seed@1")


def test_out_folder_that_holds_files_is_refused(seeded, tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "keep.txt").write_text("mine")
    done = seeded("dataset", "build", "seed", "--purpose", "ai.training", "--out", str(tmp_path / "ds"))
    assert done.returncode == 1 and "--out" in done.stderr
    assert json.loads(seeded("dataset", "list", "--json", check=True).stdout) == []


def test_failed_build_leaves_no_registration_and_no_files(seeded, tmp_path):
    catalog = tmp_path / "broken.parquet"
    catalog.write_bytes(b"not parquet at all")
    out = tmp_path / "ds"
    done = seeded("dataset", "build", "seed", "--purpose", "ai.training", "--out", str(out), "--catalog", str(catalog))
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert json.loads(seeded("dataset", "list", "--json", check=True).stdout) == []


@pytest.mark.parametrize("args, word", [
    (["--purpose", "not a purpose"], "--purpose"),
    (["--purpose", "ai.training", "--kinds", "audio,smell"], "--kinds"),
    (["--purpose", "ai.training", "--engine", "abacus"], "--engine"),
    (["--purpose", "ai.training", "--at", "yesterday"], "--at"),
])
def test_bad_build_requests_are_one_clear_line(seeded, tmp_path, args, word):
    done = seeded("dataset", "build", "seed", "--out", str(tmp_path / "ds"), *args)
    assert done.returncode == 1 and word in done.stderr and "Traceback" not in done.stderr


def test_openlineage_event_carries_the_consent_summary(seeded, tmp_path):
    description = _build(seeded, tmp_path / "ds")
    [event] = [json.loads(line) for line in (tmp_path / "ds" / "openlineage.jsonl").read_text().splitlines()]
    assert event["eventType"] == "COMPLETE"
    facet = event["run"]["facets"]["consentgate"]
    assert (facet["count"], facet["excluded"], facet["purpose"]) == (
        description["count"], description["excluded"], "ai.training")


def test_kinds_limit_the_selection(seeded, tmp_path):
    description = _build(seeded, tmp_path / "ds", SEED_AT, "--kinds", "chat")
    kinds = set(pq.read_table(tmp_path / "ds" / "manifest.parquet")["kind"].to_pylist())
    assert kinds == {"chat"} and description["kinds"] == ["chat"]


def test_a_build_on_spark_selects_as_duckdb_does_and_keeps_spark_s_log_off_stderr(sqlite_cli, tmp_path):
    pytest.importorskip("pyspark")
    sqlite_cli("demo", check=True)
    built = {}
    for engine in ("duckdb", "spark"):
        out = tmp_path / engine
        done = sqlite_cli("dataset", "build", f"demo-{engine}", "--purpose", "ai.training",
                          "--at", "2025-06-01T00:00:00Z", "--engine", engine, "--out", str(out), check=True)
        # Nothing but the JVM's own notice of the vector module Spark loads.
        noise = [line for line in done.stderr.splitlines()
                 if line.strip() and not line.startswith("WARNING: Using incubator modules")]
        assert noise == [], engine
        built[engine] = sorted(pq.read_table(out / "manifest.parquet")["item_id"].to_pylist())
    assert built["spark"] == built["duckdb"]
    assert built["duckdb"]
