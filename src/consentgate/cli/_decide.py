"""Rendering decisions for the command line."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .. import service
from ..errors import InvalidInput
from ..model.times import parse_time


def parse_at(text: str | None, where: str = "--at") -> datetime | None:
    """An ``--at`` option's time, or None when it was not given."""
    return None if text is None else _time(text, where)


def _time(text: str | None, where: str) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        return parse_time(text)
    except ValueError as exc:
        raise InvalidInput(f"{where}: {exc} (got {text!r})") from None


def run_single(store: Any, policy_path: Path | None, item: str, purpose: str, at: str | None, as_json: bool) -> bool:
    """Decide one question and print it; return whether it was allowed."""
    policy = service.load_policy(policy_path)
    decision = service.decide_questions(store, [(item, purpose, _time(at, "--at"))], policy)[0]
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(decision.to_json()) + b"\n")
    else:
        print(render(decision.to_json()))
    return bool(decision.allowed)


def render(doc: dict[str, Any]) -> str:
    """A decision as a few readable lines."""
    verdict = "ALLOWED" if doc["allowed"] else "DENIED"
    lines = [f"{verdict}: {doc['item']} for {doc['purpose']} as of {doc['at']}"]
    lines += [f"  - {reason['code']}: {reason['message']}" for reason in doc["reasons"]]
    for basis in doc["basis"]:
        lines.append("  basis: " + ", ".join(f"{k} {v}" for k, v in basis.items()))
    return "\n".join(lines)


def _read(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


def _questions(raw: bytes, path: str) -> list[tuple[str, str, datetime]]:
    source = "<stdin>" if path == "-" else path
    questions = []
    times: dict[str, datetime] = {}  # a batch usually asks about a few times, many times over
    now = datetime.now(UTC)  # questions without a time are all asked as of the batch's start
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            query = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise InvalidInput(f"{source}, line {number}: not valid JSON") from None
        if not isinstance(query, dict):
            raise InvalidInput(f"{source}, line {number}: expected a JSON object")
        for field in ("item", "purpose"):
            if not isinstance(query.get(field), str) or not query[field]:
                raise InvalidInput(f"{source}, line {number}, field `{field}`: required, a non-empty string")
        at = query.get("at")
        moment = now if at is None else times.get(at) if isinstance(at, str) else None
        if moment is None:
            moment = _time(at, f"{source}, line {number}, field `at`")
            if isinstance(at, str):
                times[at] = moment
        questions.append((query["item"], query["purpose"], moment))
    return questions


def run_batch(store: Any, policy_path: Path | None, path: str) -> None:
    """Decide every question of a JSON Lines file; print one decision per line, in order."""
    policy = service.load_policy(policy_path)
    raw = _read(path)
    # Processes to share a large batch start now and get ready while it is parsed.
    workers = service.batch_workers(raw.count(b"\n"))
    with workers or nullcontext():
        questions = _questions(raw, path)
        out = sys.stdout.buffer
        for text in service.decide_questions_jsonl(store, questions, policy, pool=workers):
            out.write(text)
