"""The log's canonical JSON is RFC 8785's, on the fast path and off it."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st
from store_support import STORY

from consentgate.ledger import canonical_json
from consentgate.ledger.canonical import _fast_path_ok
from consentgate.model import parse_event

# Text of every kind JSON can carry: control characters, the BMP, astral planes (lone
# surrogates are not text, and the import refuses them).
TEXT = st.text(
    st.characters(max_codepoint=0x1F)
    | st.characters(exclude_categories=["Cs"])
    | st.characters(min_codepoint=0x10000)
)
SAFE = 2**53 - 1


def _json(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=25,
    )


ANY_JSON = _json(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    TEXT,
)
FAST_JSON = _json(
    st.none() | st.booleans() | st.integers(-SAFE, SAFE) | TEXT, st.text(st.characters(max_codepoint=0x7F))
)


def _outcome(encode: Any, value: Any) -> tuple[str, Any]:
    try:
        return "bytes", encode(value)
    except rfc8785.CanonicalizationError as error:
        return "refused", type(error)


@settings(max_examples=300, deadline=None)
@given(ANY_JSON)
@example({"\uffff": 1, "\U0001f600": 2})  # UTF-16 order puts the astral key first; code points do not
def test_canonical_json_is_rfc8785_on_any_json(value):
    assert _outcome(canonical_json, value) == _outcome(rfc8785.dumps, value)


@settings(max_examples=300, deadline=None)
@given(FAST_JSON)
def test_fast_path_equals_rfc8785(value):
    assert _fast_path_ok(value)
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [{"\uffff": 1, "\U0001f600": 2}, {"é": 1, "z": 2}, 2**53, -(2**53), 0.5, [1.0], {"a": [{"b": 1e21}]}],
    ids=["UTF-16 key order", "non-ASCII key", "2**53", "-2**53", "float", "float in a list", "deep float"],
)
def test_values_orjson_would_get_wrong_leave_the_fast_path(value):
    assert not _fast_path_ok(value)


@pytest.mark.parametrize("event", STORY, ids=[f"{i + 1}-{e['type']}" for i, e in enumerate(STORY)])
def test_typical_events_take_the_fast_path(event):
    doc = parse_event(event).model_dump(mode="json", exclude_none=True)
    assert _fast_path_ok(doc)
    assert canonical_json(doc) == rfc8785.dumps(doc)
