"""The canonical JSON form that evidence hashes are computed over."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.evidence.canonical import ZERO_HASH, canonical_bytes, chain_hash, format_instant, sha256_hex


def test_sorted_keys_no_whitespace_and_utf8() -> None:
    assert (
        canonical_bytes({"b": 1, "a": "逾期", "c": [True, None]})
        == '{"a":"逾期","b":1,"c":[true,null]}'.encode()
    )


def test_money_and_dates_are_strings_never_floats() -> None:
    document = {"amount": Decimal("100000.50"), "due": date(2026, 5, 26)}
    assert canonical_bytes(document) == b'{"amount":"100000.50","due":"2026-05-26"}'
    with pytest.raises(TypeError, match="floats are not allowed"):
        canonical_bytes({"amount": 1.5})


def test_instants_are_utc_with_microseconds() -> None:
    shanghai = timezone(timedelta(hours=8))
    assert format_instant(datetime(2026, 6, 10, 9, 0, tzinfo=shanghai)) == "2026-06-10T01:00:00.000000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_instant(datetime(2026, 6, 10, 9, 0))


def test_the_chain_starts_from_zero_and_depends_on_order() -> None:
    first, second = bytes.fromhex(sha256_hex(b"a")), bytes.fromhex(sha256_hex(b"b"))
    assert bytes(32) == ZERO_HASH
    one = chain_hash(chain_hash(ZERO_HASH, first), second)
    other = chain_hash(chain_hash(ZERO_HASH, second), first)
    assert one != other and len(one) == 32


json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_canonical_form_is_a_fixed_point(document: dict[str, Any]) -> None:
    encoded = canonical_bytes(document)
    assert canonical_bytes(json.loads(encoded)) == encoded


@given(st.dictionaries(st.text(max_size=8), st.integers(), min_size=2, max_size=6))
def test_key_order_does_not_matter(document: dict[str, int]) -> None:
    reversed_document = dict(reversed(list(document.items())))
    assert canonical_bytes(reversed_document) == canonical_bytes(document)


def test_instant_format_is_fixed_width() -> None:
    assert len(format_instant(datetime(2026, 1, 1, tzinfo=UTC))) == len("2026-01-01T00:00:00.000000Z")
