"""Late fees accrued under contract terms (DESIGN §4). Notices state them; nothing posts them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from bot.domain.ledger import Contract
from bot.domain.money import MINOR_UNIT_OF, quantize
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


_MAX_DAYS = 4096


class AccrualRates(dict[int, Decimal]):
    """Days overdue -> what one unit of outstanding has accrued under ``terms``, worked out once per
    day count: a plan asks for the same few hundred day counts a million times.

    ``outstanding × rate`` is the exact ``outstanding × daily rate × interest days (+ penalty rate)``
    of ``late_fee`` (Decimal products and sums of a few dozen digits are exact), before rounding.
    """

    __slots__ = ("terms",)

    def __init__(self, terms: FeeTerms) -> None:
        super().__init__()
        self.terms = terms

    def __missing__(self, days_overdue: int) -> Decimal:
        terms = self.terms
        interest_days = days_overdue - terms.grace_days
        rate = terms.daily_rate * (interest_days if interest_days > 0 else 0)
        if days_overdue >= terms.penalty_after_days:
            rate += terms.penalty_rate
        if len(self) < _MAX_DAYS:
            self[days_overdue] = rate
        return rate


_rates: dict[int, tuple[FeeTerms, AccrualRates]] = {}


def accrual_rates(terms: FeeTerms) -> AccrualRates:
    """The (shared, growing) ``AccrualRates`` of ``terms``, by the object's identity like ``terms_for``."""
    known = _rates.get(id(terms))
    if known is not None:
        return known[1]
    if len(_rates) >= _MAX_TERMS:
        _rates.clear()
    rates = AccrualRates(terms)
    _rates[id(terms)] = (terms, rates)
    return rates


def late_fee(outstanding: Decimal, days_overdue: int, terms: FeeTerms, currency: str) -> Decimal:
    """Fee accrued on ``outstanding`` after ``days_overdue`` days (negative = not yet due).

    Daily interest for every day past the grace period plus a one-off penalty from
    ``penalty_after_days`` on. The sum is rounded once, HALF_UP, so that per-part rounding never
    drifts from the contract's arithmetic: 100,000.00 at day 40 -> 2,500.00 + 2,000.00 = 4,500.00.
    """
    if outstanding <= _ZERO:
        return quantize(_ZERO, currency)
    # What the planner inlines for each open invoice (ladder.plan_customer).
    return (outstanding * accrual_rates(terms)[days_overdue]).quantize(MINOR_UNIT_OF[currency], ROUND_HALF_UP)
