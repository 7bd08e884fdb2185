"""Money: minor units per currency, HALF_UP rounding, formatting and strict parsing.

Amounts are ``Decimal`` everywhere; a float never touches money.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

# ISO 4217 exponents that differ from the usual two decimal places.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
_DEFAULT_MINOR_UNITS = 2

# Thousands separators are accepted only in proper groups of three, so "1,00" (a European
# decimal comma) is rejected instead of silently read as one hundred.
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


def minor_units(currency: str) -> int:
    """Number of decimal places of ``currency`` (ISO 4217; 2 when the code is not listed)."""
    return _MINOR_UNITS.get(currency.strip().upper(), _DEFAULT_MINOR_UNITS)


@lru_cache(maxsize=256)
def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency`` as a Decimal exponent: 0.01 CNY, 1 JPY, 0.001 KWD."""
    return Decimal(1).scaleb(-minor_units(currency))


class _MinorUnitOf(dict[str, Decimal]):
    """currency -> ``minor_unit(currency)``, by a plain subscript: cheaper than the cached call, for
    loops over a million invoices."""

    __slots__ = ()

    def __missing__(self, currency: str) -> Decimal:
        unit = minor_unit(currency)
        if len(self) < 1024:
            self[currency] = unit
        return unit


MINOR_UNIT_OF: dict[str, Decimal] = _MinorUnitOf()

_exponent = minor_unit  # its former name, which tests/unit/reference_domain.py still imports


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` HALF_UP to the minor unit of ``currency``."""
    # Rounding passed by position: parsing the keyword costs as much as the rounding itself.
    return amount.quantize(minor_unit(currency), ROUND_HALF_UP)


def format_amount(amount: Decimal, currency: str) -> str:
    """Format for people with thousands separators: 100000 CNY -> "100,000.00", 1234567 JPY -> "1,234,567"."""
    places = minor_units(currency)
    return f"{quantize(amount, currency):,.{places}f}"


def parse_amount(text: str) -> Decimal:
    """Parse a decimal amount such as "1234.5" or "100,000.00".

    Raises ``ValueError`` naming the text when it is empty, not a number, NaN or infinite.
    """
    cleaned = text.strip()
    if not cleaned:
        raise ValueError("amount is empty; expected a number such as 1234.56")
    if "," in cleaned:
        if not _GROUPED.fullmatch(cleaned):
            raise ValueError(
                f"amount {text!r} has a misplaced comma; use '.' for decimals and ',' only between "
                "groups of three digits"
            )
        cleaned = cleaned.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"amount {text!r} is not a number; expected e.g. 1234.56") from None
    if not value.is_finite():
        raise ValueError(f"amount {text!r} is not a finite number")
    return value
