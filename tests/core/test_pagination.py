"""Cursors: what the server issues it reads back; anything else is a 422, never a crash."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plaza.core.errors import InvalidInput
from plaza.core.pagination import decode_cursor, encode_cursor


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_issued_cursors_round_trip(before_id: int) -> None:
    cursor = encode_cursor(before_id)
    assert decode_cursor(cursor) == before_id
    assert len(cursor) <= 200  # the query parameter's limit


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.integers().map(str)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)
cursors = (
    st.text(max_size=200)
    | json_values.map(_b64)
    | st.dictionaries(st.just("b"), json_values, min_size=1).map(_b64)
)


@given(cursors)
def test_any_other_text_is_a_cursor_or_a_422(cursor: str) -> None:
    refusal: InvalidInput | None = None
    value = None
    try:
        value = decode_cursor(cursor)
    except InvalidInput as refused:
        refusal = refused
    if refusal is not None:
        assert refusal.extra["errors"][0]["field"] == "query.cursor"
    else:
        assert value is not None
        assert 0 <= value < 2**63


def test_no_cursor_is_the_first_page() -> None:
    assert decode_cursor(None) is None


@pytest.mark.parametrize("before_id", [-1, 2**63, 10**30])
def test_out_of_range_cursors_are_refused(before_id: int) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(encode_cursor(before_id))
