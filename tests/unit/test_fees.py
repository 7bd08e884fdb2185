"""Late fees (DESIGN §4): interest after grace plus a one-off penalty, rounded once."""

from __future__ import annotations

from decimal import Decimal

import pytest
import reference_domain
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.fees import AccrualRates, late_fee, terms_for
from bot.domain.ledger import Contract
from bot.domain.policy import FeeTerms

DEFAULTS = FeeTerms()


def test_worked_example_of_the_design() -> None:
    # 100,000.00 at day 40: 25 days × 0.1 % = 2,500.00, plus 2 % penalty = 2,000.00.
    assert late_fee(Decimal("100000.00"), 40, DEFAULTS, "CNY") == Decimal("4500.00")


@pytest.mark.parametrize(
    ("days", "fee"),
    [(-7, "0.00"), (0, "0.00"), (15, "0.00"), (16, "100.00"), (29, "1400.00"), (30, "3500.00")],
)
def test_interest_starts_after_grace_and_penalty_at_penalty_day(days: int, fee: str) -> None:
    assert late_fee(Decimal("100000.00"), days, DEFAULTS, "CNY") == Decimal(fee)


def test_fee_is_rounded_once_half_up() -> None:
    # Per-part rounding would give 0.01 + 0.01; the sum 0.0150 rounds once to 0.02.
    terms = FeeTerms(
        grace_days=0, daily_rate=Decimal("0.0015"), penalty_rate=Decimal("0.0015"), penalty_after_days=1
    )
    assert late_fee(Decimal("5.00"), 1, terms, "CNY") == Decimal("0.02")


def test_fee_uses_the_currency_minor_unit() -> None:
    assert late_fee(Decimal("100000"), 40, DEFAULTS, "JPY") == Decimal("4500")
    assert late_fee(Decimal("1000.000"), 16, DEFAULTS, "KWD") == Decimal("1.000")


def test_nothing_outstanding_means_no_fee() -> None:
    assert late_fee(Decimal("0"), 90, DEFAULTS, "CNY") == Decimal("0.00")


def test_terms_for_without_contract_are_the_defaults() -> None:
    assert terms_for(None, DEFAULTS) == DEFAULTS


def test_terms_for_takes_each_unset_contract_field_from_defaults() -> None:
    contract = Contract(ref="K1", grace_days=0, penalty_rate=Decimal("0.05"))
    terms = terms_for(contract, DEFAULTS)
    assert terms == FeeTerms(
        grace_days=0,
        daily_rate=DEFAULTS.daily_rate,
        penalty_rate=Decimal("0.05"),
        penalty_after_days=DEFAULTS.penalty_after_days,
    )


_RATES = st.decimals(min_value=0, max_value=Decimal("0.1"), places=6)


@given(
    outstanding=st.decimals(min_value=Decimal("-1000"), max_value=Decimal("999999999999.99"), places=2),
    days=st.integers(min_value=-400, max_value=4000),
    terms=st.builds(
        FeeTerms,
        grace_days=st.integers(min_value=0, max_value=120),
        daily_rate=_RATES,
        penalty_rate=_RATES,
        penalty_after_days=st.integers(min_value=0, max_value=365),
    ),
    currency=st.sampled_from(["CNY", "JPY", "KWD", "USD"]),
)
def test_fee_through_the_days_accrual_rate_is_the_contract_arithmetic(
    outstanding: Decimal, days: int, terms: FeeTerms, currency: str
) -> None:
    # outstanding × (daily rate × interest days + penalty rate), rounded once, is exactly the
    # design's outstanding × daily rate × interest days + outstanding × penalty rate, rounded once.
    assert str(late_fee(outstanding, days, terms, currency)) == str(
        reference_domain.late_fee(outstanding, days, terms, currency)
    )


def test_accrual_rates_remember_each_day_count() -> None:
    rates = AccrualRates(DEFAULTS)
    assert rates[40] == Decimal("0.045") and rates[10] == 0
    assert set(rates) == {40, 10}
