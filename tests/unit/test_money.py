"""Money: minor units, HALF_UP rounding, formatting, strict parsing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain.money import format_amount, minor_units, parse_amount, quantize


@pytest.mark.parametrize(
    ("currency", "places"),
    [("CNY", 2), ("usd", 2), ("JPY", 0), ("KRW", 0), ("VND", 0), ("KWD", 3), ("BHD", 3), ("XYZ", 2)],
)
def test_minor_units_follow_iso_4217(currency: str, places: int) -> None:
    assert minor_units(currency) == places


def test_quantize_rounds_half_up_to_the_minor_unit() -> None:
    assert quantize(Decimal("2.345"), "CNY") == Decimal("2.35")
    assert quantize(Decimal("-2.345"), "CNY") == Decimal("-2.35")
    assert quantize(Decimal("2.5"), "JPY") == Decimal("3")
    assert quantize(Decimal("1.0005"), "KWD") == Decimal("1.001")
    assert str(quantize(Decimal(7), "CNY")) == "7.00"


def test_format_amount_groups_thousands() -> None:
    assert format_amount(Decimal("100000"), "CNY") == "100,000.00"
    assert format_amount(Decimal("1234567.5"), "JPY") == "1,234,568"
    assert format_amount(Decimal("0.5"), "KWD") == "0.500"
    assert format_amount(Decimal("-1234.5"), "EUR") == "-1,234.50"


@pytest.mark.parametrize(
    ("text", "value"),
    [("1234.56", "1234.56"), (" 100,000.00 ", "100000.00"), ("-3", "-3"), ("1,234", "1234"), ("0", "0")],
)
def test_parse_amount_accepts_plain_and_grouped_numbers(text: str, value: str) -> None:
    assert parse_amount(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "  ", "abc", "12a", "NaN", "inf", "-Infinity", "1,00", "1,2345.00"])
def test_parse_amount_rejects_what_is_not_a_finite_amount(text: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        parse_amount(text)
