"""Events to rows and rows back to the records the log hashes.

Both directions go through :func:`record_doc`, so the JSON hashed when an event is stored
is exactly the JSON re-derived from its row when the log is verified.
"""

from __future__ import annotations

from functools import cache
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


def event_record(spec: RecordSpec, event: BaseModel) -> tuple[list[Any], bytes]:
    """The column values of an event (``spec.fields`` then ``extra``) and its canonical JSON.

    This is the import's hot path: the document comes from pydantic's serializer rather
    than from the row; a property test keeps it equal to :func:`record_doc` of the row,
    which is what the verifier re-derives.
    """
    doc = event.model_dump(mode="json", exclude_none=True)
    values: list[Any] = []
    for field, kind in spec.fields:
        value = doc.get(field)
        if value is not None:
            if kind is Kind.TIME:
                value = to_micros(getattr(event, field))
            elif kind is Kind.JSON:
                value = canonical_json(value).decode()
        values.append(value)
    extra = event.model_extra
    values.append(canonical_json({key: doc[key] for key in extra}).decode() if extra else None)
    return values, canonical_json(doc)


def record_doc(spec: RecordSpec, values: dict[str, Any] | tuple[Any, ...]) -> dict[str, Any]:
    """The JSON document of a stored record, from its column values.

    ``values`` is a row mapping or a tuple in the order of ``spec.fields`` then ``extra``.
    """
    if isinstance(values, dict):
        values = tuple(values[field] for field, _ in spec.fields) + (values.get("extra"),)
    names, times, jsons, bools = _layout(spec)
    doc: dict[str, Any] = {"type": spec.type}
    for name, value in zip(names, values):
        if value is not None:
            doc[name] = value
    for name in times:
        if name in doc:
            doc[name] = format_micros(doc[name])
    for name in jsons:
        if name in doc:
            doc[name] = _loads(doc[name])
    for name in bools:
        if name in doc:
            doc[name] = bool(doc[name])
    extra = values[-1]
    if extra is not None:
        doc.update(_loads(extra))
    return doc


@cache
def _layout(spec: RecordSpec) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    def named(kind: Kind) -> tuple[str, ...]:
        return tuple(field for field, field_kind in spec.fields if field_kind is kind)

    return tuple(field for field, _ in spec.fields), named(Kind.TIME), named(Kind.JSON), named(Kind.BOOL)


def record_key(spec: RecordSpec, doc: dict[str, Any], digest: str) -> str:
    """The key a log entry names a record by: its id, or its digest when it has none."""
    return str(doc[spec.key]) if spec.key else digest


def canonical_record(spec: RecordSpec, row: dict[str, Any]) -> tuple[bytes, str]:
    """The canonical JSON and digest of a record about to be stored."""
    canonical = canonical_json(record_doc(spec, row))
    return canonical, digest_of(canonical)
