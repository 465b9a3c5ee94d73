"""A withdrawal finds exactly the affected items and shards; rebuild and loaders follow."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from consentgate.datasets.registry import shard_of

WITHDRAWAL = {"type": "consent", "id": "c-zoe-2", "subject": "guest-zoe", "purpose": "ai.training",
              "status": "withdrawn", "meeting": "m-100", "at": "2023-09-10T00:00:00Z"}
AFTER = "2023-09-11T00:00:00Z"


@pytest.fixture
def trained(cli, examples, tmp_path):
    cli("load", str(examples / "seed-story.jsonl"), check=True)
    cli("dataset", "build", "seed", "--purpose", "ai.training", "--at", "2023-09-02T00:00:00Z",
        "--out", str(tmp_path / "ds"), check=True)
    cli("model", "register", "m1", "--dataset", "seed", "--shards", "4", check=True)
    cli("load", "-", input=json.dumps(WITHDRAWAL) + "\n", check=True)
    return cli


def _impact(cli, *args: str) -> dict:
    return json.loads(cli("impact", "--at", AFTER, "--json", *args, check=True).stdout)


def test_withdrawal_finds_exactly_the_meeting_items_and_their_shards(trained, tmp_path):
    result = _impact(trained, "--subject", "guest-zoe")
    manifest = set(pq.read_table(tmp_path / "ds" / "manifest.parquet")["item_id"].to_pylist())
    affected = {i for i in manifest if i.startswith("m-100-")}
    [dataset] = result["datasets"]
    assert (dataset["name"], set(dataset["items"]), dataset["count"]) == ("seed", affected, len(affected))
    [model] = result["models"]
    assert (model["name"], model["dataset"]) == ("m1", "seed")
    assert model["shards"] == sorted({shard_of(i, 4) for i in affected})


def test_unrelated_subject_touches_nothing(trained):
    assert _impact(trained, "--subject", "gus") == {"at": AFTER, "datasets": [], "models": []}


def test_impact_of_one_item(trained):
    [dataset] = _impact(trained, "--item", "m-100-chat")["datasets"]
    assert dataset["items"] == ["m-100-chat"]


def test_before_the_withdrawal_nothing_is_affected(trained):
    result = json.loads(trained("impact", "--at", "2023-09-05T00:00:00Z", "--json", check=True).stdout)
    assert result["datasets"] == [] and result["models"] == []


def test_model_shards_cover_every_item(trained, tmp_path):
    listed = trained("model", "register", "m2", "--dataset", "seed@1", "--shards", "3", check=True).stdout
    count = json.loads((tmp_path / "ds" / "dataset.json").read_text())["count"]
    counts = [int(n) for n in listed.split("shard(s) of ")[1].split(" item")[0].split(", ")]
    assert sum(counts) == count and len(counts) == 3


def test_model_name_is_taken_once(trained):
    again = trained("model", "register", "m1", "--dataset", "seed", "--shards", "2")
    assert again.returncode == 1 and "already registered" in again.stderr


def test_rebuild_drops_exactly_the_withdrawn_items(trained, tmp_path):
    done = trained("dataset", "rebuild", "seed", "--at", AFTER, "--out", str(tmp_path / "v2"), "--json", check=True)
    description = json.loads(done.stdout)
    old = set(pq.read_table(tmp_path / "ds" / "manifest.parquet")["item_id"].to_pylist())
    new = set(pq.read_table(tmp_path / "v2" / "manifest.parquet")["item_id"].to_pylist())
    assert new == {i for i in old if not i.startswith("m-100-")}
    assert (description["id"], description["replaces"]) == ("seed@2", "seed@1")
    assert trained("audit", "verify").returncode == 0


def test_loaders_skip_an_item_that_lost_eligibility(trained, store_url, tmp_path):
    from consentgate import Decider
    from consentgate.datasets.loaders import EligibleItems, to_hf_dataset

    decider = Decider(store_url)
    try:
        items = EligibleItems(tmp_path / "ds", decider)
        kept = [row["item_id"] for row in items]
        assert not any(i.startswith("m-100-") for i in kept)
        assert items.skipped == len(items) - len(kept) > 0
        assert items.skipped_reasons["consent.withdrawn"] > 0
        hf = to_hf_dataset(tmp_path / "ds", decider)
        assert sorted(hf["item_id"]) == sorted(kept)
        assert to_hf_dataset(tmp_path / "ds").num_rows == len(items)
    finally:
        decider.store.dispose()


BEN_WITHDRAWS = {"type": "consent", "id": "c-ben-2", "subject": "ben", "purpose": "ai.training",
                 "status": "withdrawn", "at": "2023-09-12T00:00:00Z"}


def test_each_dataset_version_lists_only_its_own_items(trained, tmp_path):
    # seed@2 no longer holds the m-100 items; the model still trained on seed@1 did.
    trained("dataset", "rebuild", "seed", "--at", AFTER, "--out", str(tmp_path / "v2"), check=True)
    trained("load", "-", input=json.dumps(BEN_WITHDRAWS) + "\n", check=True)
    result = json.loads(trained("impact", "--subject", "ben", "--at", "2023-09-13T00:00:00Z", "--json",
                                check=True).stdout)
    [dataset] = result["datasets"]
    v1 = pq.read_table(tmp_path / "ds" / "manifest.parquet").to_pylist()
    bens = sorted(row["item_id"] for row in v1 if row["owner"] == "ben" or row["meeting"] in ("m-100", "m-200"))
    assert (dataset["version"], dataset["items"]) == (2, [i for i in bens if not i.startswith("m-100-")])
    [model] = result["models"]
    assert (model["dataset_version"], model["shards"]) == ("seed@1", sorted({shard_of(i, 4) for i in bens}))


def test_a_warm_decider_finds_the_same_impact_and_follows_new_events(trained, store_url):
    from consentgate import Decider, Store, load_events, load_policy, service
    from consentgate.model.times import parse_time

    store, policy, at = Store(store_url), load_policy(None), parse_time("2023-09-13T00:00:00Z")
    decider = Decider(store, policy)
    try:
        before = service.impact(store, policy, subject="ben", at=at, decider=decider)
        assert before == service.impact(store, policy, subject="ben", at=at)
        load_events(store, io.BytesIO(json.dumps(BEN_WITHDRAWS).encode()), "withdrawal")
        after = service.impact(store, policy, subject="ben", at=at, decider=decider)
        assert after == service.impact(store, policy, subject="ben", at=at) != before
        assert "ben-chat-1" in after["datasets"][0]["items"]
    finally:
        store.dispose()


def test_a_decider_under_another_policy_is_refused(trained, store_url):
    from consentgate import Decider, InvalidInput, Store, service
    from consentgate.core import Policy

    store = Store(store_url)
    try:
        with pytest.raises(InvalidInput, match="another policy"):
            service.impact(store, Policy.default(), subject="ben",
                           decider=Decider(store, Policy(self_consent_only_regions=frozenset())))
    finally:
        store.dispose()


HEAVY = ("datasets", "duckdb", "ibis", "pandas", "polars", "pyspark", "torch")


def test_the_impact_command_imports_no_heavy_library(trained, store_url):
    script = ("import sys\nfrom consentgate.cli import main\n"
              "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
              f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script, "--db", store_url, "impact", "--subject", "guest-zoe",
                           "--at", AFTER, "--json"], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["datasets"]
    assert done.stderr.splitlines()[-1] == "[]"


@pytest.mark.parametrize("collecting", [True, False])
def test_impact_leaves_the_collector_as_it_found_it(trained, store_url, collecting):
    import gc

    from consentgate import Store, load_policy, service

    store = Store(store_url)
    (gc.enable if collecting else gc.disable)()
    try:
        assert service.impact(store, load_policy(None), subject="guest-zoe")["datasets"]
        assert gc.isenabled() is collecting
    finally:
        gc.enable()
        store.dispose()


def test_datasets_of_several_purposes_and_kinds_each_list_their_own_items(cli, examples, tmp_path):
    cli("load", str(examples / "seed-story.jsonl"), check=True)
    builds = {"train": ["--purpose", "ai.training"], "serve": ["--purpose", "service.provision"],
              "chats": ["--purpose", "ai.training", "--kinds", "chat"]}
    for name, options in builds.items():
        cli("dataset", "build", name, *options, "--at", "2023-09-02T00:00:00Z", "--out", str(tmp_path / name),
            check=True)
    erasure = {"type": "delete", "item": "ben-chat-1", "at": "2023-09-05T00:00:00Z"}
    cli("load", "-", input=json.dumps(erasure) + "\n" + json.dumps(WITHDRAWAL) + "\n", check=True)
    result = json.loads(cli("impact", "--subject", "ben", "--at", AFTER, "--json", check=True).stdout)
    found = {dataset["name"]: dataset["items"] for dataset in result["datasets"]}
    held = {name: set(pq.read_table(tmp_path / name / "manifest.parquet")["item_id"].to_pylist()) for name in builds}
    lost_for_training = {"ben-chat-1", "m-100-audio", "m-100-chat", "m-100-summary", "m-100-transcript"}
    assert found == {"train": sorted(held["train"] & lost_for_training), "serve": ["ben-chat-1"],
                     "chats": sorted(held["chats"] & lost_for_training)}
    assert found["chats"] == ["ben-chat-1", "m-100-chat"]


@pytest.mark.parametrize(("subject", "expected"), [("guest-zoe", ["m-100-chat"]), ("gus", [])])
def test_impact_of_one_item_of_one_subject(trained, subject, expected):
    result = _impact(trained, "--subject", subject, "--item", "m-100-chat")
    assert [item for dataset in result["datasets"] for item in dataset["items"]] == expected
