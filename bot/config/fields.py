"""What every section of the config shares: the frozen base model that refuses unknown keys, exact
decimals (never TOML floats), and the timezone check."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import BaseModel, BeforeValidator, ConfigDict

# No rate, weight or amount in the config needs a digit beyond this many places either side of the
# point; an exponent of millions would overflow the first sum made with it.
_DECIMAL_DIGITS = 30


def _exact_decimal(value: Any) -> Any:
    # TOML floats would carry binary rounding into money: insist on strings or integers.
    if isinstance(value, float):
        raise ValueError(f'write decimals as strings, e.g. "{value}", so they stay exact')
    if isinstance(value, str):
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
        if not parsed.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        if parsed and not -_DECIMAL_DIGITS <= parsed.adjusted() <= _DECIMAL_DIGITS:
            raise ValueError(f"{value!r} is out of range")
        return parsed
    return value


ExactDecimal = Annotated[Decimal, BeforeValidator(_exact_decimal)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_timezone(value: str | None) -> str | None:
    if value is not None and value not in available_timezones():
        raise ValueError(f"unknown IANA timezone {value!r} (e.g. Asia/Shanghai, Europe/Berlin)")
    return value
