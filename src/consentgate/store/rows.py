"""Events to rows and rows back to the records the log hashes.

Both directions go through :func:`record_doc`, so the JSON hashed when an event is stored
is exactly the JSON re-derived from its row when the log is verified.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from ..ledger import canonical_json, digest_of
from ..model.times import format_micros, to_micros
from .schema import Kind, RecordSpec

_loads = orjson.loads


def _json_text(value: Any) -> str:
    return canonical_json(to_jsonable_python(value, exclude_none=True)).decode()


def event_row(spec: RecordSpec, event: BaseModel) -> dict[str, Any]:
    """The column values of an event (without ``seq`` and ``digest``)."""
    row: dict[str, Any] = {}
    for field, kind in spec.fields:
        value = getattr(event, field)
        if value is not None:
            if kind is Kind.TIME:
                value = to_micros(value)
            elif kind is Kind.JSON:
                value = _json_text(value)
        row[field] = value
    extra = event.model_extra
    row["extra"] = _json_text(extra) if extra else None
    return row


def record_doc(spec: RecordSpec, values: dict[str, Any] | tuple[Any, ...]) -> dict[str, Any]:
    """The JSON document of a stored record, from its column values.

    ``values`` is a row mapping or a tuple in the order of ``spec.fields`` then ``extra``.
    """
    if isinstance(values, dict):
        values = tuple(values[field] for field, _ in spec.fields) + (values.get("extra"),)
    doc: dict[str, Any] = {"type": spec.type}
    for (field, kind), value in zip(spec.fields, values):
        if value is None:
            continue
        if kind is Kind.TIME:
            value = format_micros(value)
        elif kind is Kind.JSON:
            value = _loads(value)
        elif kind is Kind.BOOL:
            value = bool(value)
        doc[field] = value
    extra = values[-1]
    if extra is not None:
        doc.update(_loads(extra))
    return doc


def record_key(spec: RecordSpec, doc: dict[str, Any], digest: str) -> str:
    """The key a log entry names a record by: its id, or its digest when it has none."""
    return str(doc[spec.key]) if spec.key else digest


def canonical_record(spec: RecordSpec, row: dict[str, Any]) -> tuple[bytes, str]:
    """The canonical JSON and digest of a record about to be stored."""
    canonical = canonical_json(record_doc(spec, row))
    return canonical, digest_of(canonical)
