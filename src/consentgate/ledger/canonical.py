"""Canonical JSON (RFC 8785, JCS) for log entries.

``rfc8785`` is the reference encoder but runs about 30k events/s; orjson with sorted keys
produces the same bytes for JSON without floats, without integers beyond 2**53 and with
ASCII keys only (UTF-16 key order equals byte order there), at 20x the speed. Events take
the fast path when they qualify and the reference path otherwise; a property test proves
the two agree on every value the fast path accepts.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

_SAFE_INT = 2**53 - 1


def _fast_path_ok(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INT <= value <= _SAFE_INT
    if kind is dict:
        for key, item in value.items():
            if not key.isascii() or not _fast_path_ok(item):
                return False
        return True
    if kind is list:
        return all(_fast_path_ok(item) for item in value)
    return False


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical bytes of a JSON value.

    >>> canonical_json({"b": 1, "a": [True, None]})
    b'{"a":[true,null],"b":1}'
    """
    if _fast_path_ok(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return rfc8785.dumps(value)
