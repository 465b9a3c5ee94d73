"""`consentgate decide` as a user runs it: single, --json, --batch, --policy, errors."""

from __future__ import annotations

import json

import pytest

from consentgate.model.vocab import STANDALONE_REASONS


def _norm(reasons: list[dict]) -> set[tuple]:
    return {(r["code"], r.get("subject"), r.get("key"), r.get("source")) for r in reasons}


@pytest.fixture
def seeded(cli, examples):
    cli("load", str(examples / "seed-story.jsonl"), check=True)
    return cli


def test_batch_matches_every_public_expected_answer(seeded, examples):
    done = seeded("decide", "--batch", str(examples / "seed-story.queries.jsonl"), check=True)
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    expected = [json.loads(line) for line in (examples / "seed-story.expected.jsonl").read_text().splitlines()]
    assert len(answers) == len(expected)
    for answer, wanted in zip(answers, expected):
        assert (answer["item"], answer["allowed"]) == (wanted["item"], wanted["allowed"])
        assert _norm(answer["reasons"]) == _norm(wanted["reasons"]), wanted


def test_json_decision_has_the_contract_shape(seeded):
    done = seeded("decide", "m-100-audio", "ai.training", "--at", "2023-09-02T00:00:00Z", "--json")
    decision = json.loads(done.stdout)
    assert done.returncode == 0
    assert list(decision) == ["item", "purpose", "at", "allowed", "reasons", "basis", "policy"]
    assert decision["at"] == "2023-09-02T00:00:00Z" and decision["policy"].startswith("sha256:")
    assert {"terms": "2023-08-07", "section": "10.4"} in decision["basis"]


def test_denial_exits_1_and_prints_the_reasons(seeded):
    done = seeded("decide", "m-100-audio", "ai.training", "--at", "2023-08-25T00:00:00Z")
    assert done.returncode == 1
    assert done.stdout.startswith("DENIED") and "consent.missing" in done.stdout and "guest-zoe" in done.stdout


def test_unknown_item_is_a_standalone_denial(seeded):
    decision = json.loads(seeded("decide", "nope", "ai.training", "--json").stdout)
    assert [r["code"] for r in decision["reasons"]] == ["item.unknown"]
    assert "item.unknown" in STANDALONE_REASONS


def test_without_at_the_decision_is_as_of_now(seeded):
    decision = json.loads(seeded("decide", "gus-chat-1", "service.provision", "--json").stdout)
    assert decision["at"] > "2026-01-01"


def test_batch_reads_stdin_and_keeps_order(seeded):
    questions = [{"item": i, "purpose": "ai.training", "at": "2023-09-02T00:00:00Z"}
                 for i in ("sd-1", "m-100-chat", "x-unknown", "sd-1")]
    done = seeded("decide", "--batch", "-", input="".join(json.dumps(q) + "\n" for q in questions), check=True)
    assert [json.loads(line)["item"] for line in done.stdout.splitlines()] == [q["item"] for q in questions]


def test_a_large_batch_answers_as_its_questions_one_by_one(seeded, examples, tmp_path):
    # 40,000 questions or more are shared with a process started while they are parsed.
    asked = [json.loads(line) for line in (examples / "seed-story.queries.jsonl").read_text().splitlines()]
    repeated = (asked * (40_000 // len(asked) + 1))[:40_000]
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in repeated))
    done = seeded("decide", "--batch", str(path), check=True)
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    alone = [json.loads(line) for line in seeded("decide", "--batch", str(examples / "seed-story.queries.jsonl"),
                                                 check=True).stdout.splitlines()]
    assert len(answers) == 40_000
    assert answers == (alone * (40_000 // len(alone) + 1))[:40_000]


def test_batch_questions_without_at_share_the_batchs_moment(seeded):
    questions = [{"item": "sd-1", "purpose": "ai.training"}, {"item": "gus-chat-1", "purpose": "service.provision"},
                 {"item": "sd-1", "purpose": "ai.training", "at": "2023-09-02T00:00:00Z"}]
    done = seeded("decide", "--batch", "-", input="".join(json.dumps(q) + "\n" for q in questions), check=True)
    moments = [json.loads(line)["at"] for line in done.stdout.splitlines()]
    assert moments[0] == moments[1] > "2026-01-01"
    assert moments[2] == "2023-09-02T00:00:00Z"


@pytest.mark.parametrize("line, where", [
    ("not json", "line 2"),
    ('{"item": "sd-1"}', "`purpose`"),
    ('{"item": "sd-1", "purpose": "ai.training", "at": "last week"}', "`at`"),
    ('["sd-1"]', "line 2"),
])
def test_bad_batch_line_is_one_clear_line(seeded, line, where):
    good = '{"item": "sd-1", "purpose": "ai.training"}'
    done = seeded("decide", "--batch", "-", input=f"{good}\n{line}\n")
    assert done.returncode == 1 and where in done.stderr and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1


def test_bad_at_is_an_error_not_a_denial(seeded):
    done = seeded("decide", "sd-1", "ai.training", "--at", "2023-09-02")
    assert done.returncode == 1 and "--at" in done.stderr


def test_misuse_exits_2(seeded):
    assert seeded("decide", "only-an-item").returncode == 2


def test_policy_file_replaces_the_shipped_policy(seeded, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('[consent]\nself_consent_only_regions = []\n')
    args = ("decide", "m-300-audio", "ai.training", "--at", "2023-09-02T00:00:00Z", "--json")
    shipped = json.loads(seeded(*args).stdout)
    custom = json.loads(seeded("--policy", str(policy), *args).stdout)
    assert [r["code"] for r in shipped["reasons"]] == ["consent.not_self"]
    assert custom["allowed"] and custom["policy"] != shipped["policy"]


def test_unreadable_policy_file_is_one_clear_line(seeded, tmp_path):
    done = seeded("--policy", str(tmp_path / "missing.toml"), "decide", "sd-1", "ai.training")
    assert done.returncode == 1 and "policy" in done.stderr


def test_a_batch_is_written_out_whole_not_line_by_line(sqlite_store, examples, monkeypatch):
    # Output may be unbuffered (PYTHONUNBUFFERED, as many containers set): a write per
    # line would be a system call per decision.
    import io
    import sys
    from types import SimpleNamespace

    from consentgate import load_events
    from consentgate.cli._decide import run_batch

    load_events(sqlite_store, io.BytesIO((examples / "seed-story.jsonl").read_bytes()), "seed")
    writes: list[bytes] = []
    monkeypatch.setattr(sys, "stdout", SimpleNamespace(buffer=SimpleNamespace(write=writes.append)))
    questions = examples / "seed-story.queries.jsonl"
    run_batch(sqlite_store, None, str(questions))
    assert len(writes) == 1
    assert writes[0].count(b"\n") == len(questions.read_text().splitlines())
    assert [json.loads(line)["item"] for line in writes[0].splitlines()] == [
        json.loads(line)["item"] for line in questions.read_text().splitlines()]
