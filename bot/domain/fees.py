"""Late fees accrued under contract terms (DESIGN §4). Notices state them; nothing posts them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from bot.domain.ledger import Contract
from bot.domain.money import minor_unit, quantize
from bot.domain.policy import FeeTerms

_ZERO = Decimal(0)
_MAX_TERMS = 4096
# The terms of (contract, defaults) by the two objects' identity. A plan asks once per customer and
# contract, with the same few objects all along (building a FeeTerms each time was 1.5 % of planning
# a million invoices). An entry keeps both objects alive, so their ids cannot be reused by others.
_terms: dict[tuple[int, int], tuple[Contract, FeeTerms, FeeTerms]] = {}


def terms_for(contract: Contract | None, defaults: FeeTerms) -> FeeTerms:
    """The fee terms of ``contract``; every field it leaves unset (or no contract) takes ``defaults``."""
    if contract is None:
        return defaults
    known = _terms.get((id(contract), id(defaults)))
    if known is not None:
        return known[2]
    if len(_terms) >= _MAX_TERMS:
        _terms.clear()
    terms = _merged(contract, defaults)
    _terms[id(contract), id(defaults)] = (contract, defaults, terms)
    return terms


def _merged(contract: Contract, defaults: FeeTerms) -> FeeTerms:
    return FeeTerms(
        grace_days=defaults.grace_days if contract.grace_days is None else contract.grace_days,
        daily_rate=defaults.daily_rate if contract.daily_rate is None else contract.daily_rate,
        penalty_rate=defaults.penalty_rate if contract.penalty_rate is None else contract.penalty_rate,
        penalty_after_days=(
            defaults.penalty_after_days
            if contract.penalty_after_days is None
            else contract.penalty_after_days
        ),
    )


def late_fee(outstanding: Decimal, days_overdue: int, terms: FeeTerms, currency: str) -> Decimal:
    """Fee accrued on ``outstanding`` after ``days_overdue`` days (negative = not yet due).

    Daily interest for every day past the grace period plus a one-off penalty from
    ``penalty_after_days`` on. The sum is rounded once, HALF_UP, so that per-part rounding never
    drifts from the contract's arithmetic: 100,000.00 at day 40 -> 2,500.00 + 2,000.00 = 4,500.00.
    """
    if outstanding <= _ZERO:
        return quantize(_ZERO, currency)
    interest_days = days_overdue - terms.grace_days
    fee = outstanding * terms.daily_rate * (interest_days if interest_days > 0 else 0)
    if days_overdue >= terms.penalty_after_days:
        fee += outstanding * terms.penalty_rate
    # money.quantize without its call: once per open invoice of a plan.
    return fee.quantize(minor_unit(currency), ROUND_HALF_UP)
