"""The demo and the synthetic world generator, run as a user runs them."""

from __future__ import annotations

import io
import json

from consentgate.synth import WorldSize, write_world


def test_demo_tells_the_story_and_verifies_the_log(sqlite_cli):
    first = sqlite_cli("demo", "--no-serve", check=True).stdout
    assert "ALLOWED: standup-1-audio for ai.training" in first
    assert "consent.withdrawn" in first and "signal.reserved" in first and "consent.not_self" in first
    assert "The tamper-evident log verifies: 41 entries" in first
    second = sqlite_cli("demo", "--no-serve", check=True).stdout
    assert "0 new event(s)" in second and "41 event(s) were already stored" in second


def test_synth_is_deterministic_and_loads(sqlite_cli, tmp_path):
    out = tmp_path / "world.jsonl"
    args = ("synth", "--subjects", "20", "--items", "100", "--consents", "50", "--meetings", "10", "--out", str(out))
    sqlite_cli(*args, check=True)
    again = io.BytesIO()
    write_world(WorldSize(20, 100, 50, 10), again)
    assert out.read_bytes() == again.getvalue()
    loaded = sqlite_cli("load", str(out), check=True).stdout
    assert f"loaded {len(out.read_bytes().splitlines())} new event(s)" in loaded


def test_synth_world_has_every_kind_of_answer(sqlite_cli, tmp_path):
    out = tmp_path / "world.jsonl"
    sqlite_cli(
        "synth",
        "--subjects",
        "1000",
        "--items",
        "1200",
        "--consents",
        "1500",
        "--meetings",
        "100",
        "--out",
        str(out),
        check=True,
    )
    sqlite_cli("load", str(out), check=True)
    questions = "".join(
        json.dumps({"item": f"item-{n}", "purpose": "ai.training", "at": "2024-06-01T00:00:00Z"}) + "\n"
        for n in range(1200)
    )
    answers = [
        json.loads(x) for x in sqlite_cli("decide", "--batch", "-", input=questions, check=True).stdout.split("\n") if x
    ]
    codes = {r["code"] for a in answers for r in a["reasons"]}
    assert any(a["allowed"] for a in answers)
    assert {"consent.missing", "setting.off", "item.deleted", "signal.reserved", "terms.not_accepted"} <= codes
