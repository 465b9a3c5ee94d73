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


_SCALARS = frozenset({str, bool, type(None)})


def _fast_path_ok(value: Any) -> bool:
    # Runs once per stored or verified event, so it avoids a call per scalar: most
    # values are strings and cost one set lookup.
    kind = type(value)
    if kind is dict:
        if not "".join(value).isascii():
            return False
        values: Any = value.values()
    elif kind is list:
        values = value
    elif kind in _SCALARS:
        return True
    elif kind is int:
        return bool(-_SAFE_INT <= value <= _SAFE_INT)
    else:
        return False
    for item in values:
        item_kind = type(item)
        if item_kind in _SCALARS:
            continue
        if item_kind is int:
            if not -_SAFE_INT <= item <= _SAFE_INT:
                return False
        elif not _fast_path_ok(item):
            return False
    return True


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical bytes of a JSON value.

    >>> canonical_json({"b": 1, "a": [True, None]})
    b'{"a":[true,null],"b":1}'
    """
    if _fast_path_ok(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return rfc8785.dumps(value)
