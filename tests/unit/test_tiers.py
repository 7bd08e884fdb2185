"""The credit scorecard, tiers, trend overdue and early warnings (DESIGN §3)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from domain_factories import TUESDAY, customer_at, make_customer, make_invoice, make_ledger

from bot.domain.ledger import Customer, Invoice, InvoiceStatus, Tier
from bot.domain.policy import ScorecardPolicy
from bot.domain.tiers import assess, early_warnings

SCORECARD = ScorecardPolicy(industry_risk={"retail": "low", "construction": "high", "logistics": "medium"})
TOLERANCE = Decimal("1.00")
AS_OF = TUESDAY


def paid_invoice(number: str, due_days_ago: int, days_late: int, amount: str = "1000.00") -> Invoice:
    """An invoice due ``due_days_ago`` before AS_OF and paid in full ``days_late`` after its due date."""
    due = AS_OF - timedelta(days=due_days_ago)
    return make_invoice(number, due, amount, payments=((amount, due + timedelta(days=days_late)),))


def history(*days_late: int) -> tuple[Invoice, ...]:
    """Paid invoices due 100, 110, ... days before AS_OF, paid that many days late."""
    return tuple(paid_invoice(f"H{i}", 100 + 10 * i, late) for i, late in enumerate(days_late))


def best_customer(**overrides: object) -> Customer:
    """Large, low-risk, no lawsuits: 15 + 15 + 10 before payment behaviour."""
    fields: dict[str, object] = {"annual_revenue": Decimal(200_000_000), "industry": "Retail"}
    fields.update(overrides)
    return make_customer(**fields)


def test_new_customer_gets_half_marks_for_history_and_lateness() -> None:
    result = assess(AS_OF, make_ledger(), SCORECARD, TOLERANCE)
    assert result.components == {
        "history": Decimal(20),
        "lateness": Decimal(10),
        "scale": Decimal(5),  # revenue unknown
        "industry": Decimal(8),  # industry unknown counts as medium
        "legal": Decimal(10),
    }
    assert result.score == Decimal(53)
    assert result.tier is Tier.COOPERATIVE
    assert not result.overridden


def test_perfect_payer_scores_one_hundred() -> None:
    result = assess(AS_OF, make_ledger(*history(0, 0, -3), customer=best_customer()), SCORECARD, TOLERANCE)
    assert result.score == Decimal(100)
    assert result.tier is Tier.STRATEGIC
    assert result.score == sum(result.components.values())


def test_history_is_the_on_time_ratio() -> None:
    result = assess(AS_OF, make_ledger(*history(0, 0, 10, 20)), SCORECARD, TOLERANCE)
    assert result.components["history"] == Decimal(20)  # 2 of 4 on time


def test_lateness_falls_with_average_days_late_and_floors_at_zero() -> None:
    thirty = assess(AS_OF, make_ledger(*history(30, 30, 30)), SCORECARD, TOLERANCE)
    assert thirty.components["history"] == Decimal(0)
    assert thirty.components["lateness"] == Decimal(10)  # 20 × (1 − 30/60)
    very_late = assess(AS_OF, make_ledger(*history(90, 90, 90)), SCORECARD, TOLERANCE)
    assert very_late.components["lateness"] == Decimal(0)


def test_early_payments_count_as_zero_days_late() -> None:
    result = assess(AS_OF, make_ledger(*history(-20, -20, 30)), SCORECARD, TOLERANCE)
    assert result.components["lateness"] == Decimal("16.67")  # 20 × (1 − 10/60), to the cent


@pytest.mark.parametrize(
    ("revenue", "points"),
    [(None, 5), (Decimal(9_999_999), 5), (Decimal(10_000_000), 10), (Decimal(100_000_000), 15)],
)
def test_scale_by_annual_revenue(revenue: Decimal | None, points: int) -> None:
    ledger = make_ledger(customer=make_customer(annual_revenue=revenue))
    assert assess(AS_OF, ledger, SCORECARD, TOLERANCE).components["scale"] == Decimal(points)


@pytest.mark.parametrize(
    ("industry", "points"),
    [("retail", 15), ("  RETAIL ", 15), ("logistics", 8), (None, 8), ("construction", 0)],
)
def test_industry_risk_from_the_config_table(industry: str | None, points: int) -> None:
    ledger = make_ledger(customer=make_customer(industry=industry))
    assert assess(AS_OF, ledger, SCORECARD, TOLERANCE).components["industry"] == Decimal(points)


def test_legal_points_only_without_open_lawsuits() -> None:
    ledger = make_ledger(customer=make_customer(open_lawsuits=1))
    assert assess(AS_OF, ledger, SCORECARD, TOLERANCE).components["legal"] == Decimal(0)


def test_threshold_75_is_strategic_and_50_is_cooperative() -> None:
    # 40 + 20 + 5 + 0 + 10 = 75
    at_75 = make_ledger(*history(0, 0, 0), customer=make_customer(industry="construction"))
    assert assess(AS_OF, at_75, SCORECARD, TOLERANCE).tier is Tier.STRATEGIC
    # 40 + 20 + 5 + 0 + 0 = 65
    at_65 = make_ledger(*history(0, 0, 0), customer=make_customer(industry="construction", open_lawsuits=2))
    assert assess(AS_OF, at_65, SCORECARD, TOLERANCE).tier is Tier.COOPERATIVE
    # 20 + 10 + 10 + 0 + 10 = 50
    at_50 = make_ledger(customer=make_customer(industry="construction", annual_revenue=Decimal(10**7)))
    result = assess(AS_OF, at_50, SCORECARD, TOLERANCE)
    assert (result.score, result.tier) == (Decimal(50), Tier.COOPERATIVE)
    # 20 + 10 + 5 + 0 + 10 = 45
    at_45 = make_ledger(customer=make_customer(industry="construction"))
    assert assess(AS_OF, at_45, SCORECARD, TOLERANCE).tier is Tier.CAUTIOUS


def test_fewer_than_three_paid_gives_half_marks_even_when_late() -> None:
    result = assess(AS_OF, make_ledger(*history(50, 50)), SCORECARD, TOLERANCE)
    assert (result.components["history"], result.components["lateness"]) == (Decimal(20), Decimal(10))
    assert "fewer than 3" in result.reason


def test_only_payments_in_the_last_365_days_count() -> None:
    old = paid_invoice("OLD", due_days_ago=500, days_late=0)  # paid 500 days ago
    edge = paid_invoice("EDGE", due_days_ago=364, days_late=0)  # paid exactly 364 days ago: inside
    ledger = make_ledger(old, edge, *history(0))
    result = assess(AS_OF, ledger, SCORECARD, TOLERANCE)
    assert result.components["history"] == Decimal(20)  # only 2 paid in the window
    assert assess(AS_OF, make_ledger(edge, *history(0, 0)), SCORECARD, TOLERANCE).components[
        "history"
    ] == Decimal(40)


def test_paid_means_settled_to_within_tolerance() -> None:
    due = AS_OF - timedelta(days=100)
    almost = make_invoice("ALMOST", due, "1000.00", payments=(("999.00", due),))  # 1.00 left: paid
    short = make_invoice("SHORT", due, "1000.00", payments=(("998.00", due),))  # 2.00 left: not paid
    with_almost = assess(AS_OF, make_ledger(almost, *history(0, 0)), SCORECARD, TOLERANCE)
    with_short = assess(AS_OF, make_ledger(short, *history(0, 0)), SCORECARD, TOLERANCE)
    assert with_almost.components["history"] == Decimal(40)
    assert with_short.components["history"] == Decimal(20)


def test_ledger_is_read_as_of_the_plan_date() -> None:
    # Three invoices paid on time, but the third payment lands the day after the plan date.
    due = AS_OF - timedelta(days=5)
    tomorrow_paid = make_invoice("LATER", due, payments=(("1000.00", AS_OF + timedelta(days=1)),))
    result = assess(AS_OF, make_ledger(tomorrow_paid, *history(0, 0)), SCORECARD, TOLERANCE)
    assert result.components["history"] == Decimal(20)
    # An invoice issued after the plan date cannot be part of a trend.
    future = make_invoice("FUTURE", AS_OF - timedelta(days=3), issued=AS_OF + timedelta(days=1))
    overdue = make_invoice("OVERDUE", AS_OF - timedelta(days=10))
    assert not assess(AS_OF, make_ledger(overdue, future), SCORECARD, TOLERANCE).trend_overdue


def test_override_is_never_moved_by_the_trend() -> None:
    overdue = (make_invoice("O1", AS_OF - timedelta(days=20)), make_invoice("O2", AS_OF - timedelta(days=10)))
    result = assess(AS_OF, make_ledger(*overdue, customer=customer_at(Tier.STRATEGIC)), SCORECARD, TOLERANCE)
    assert result.tier is Tier.STRATEGIC
    assert result.overridden
    assert result.score is None
    assert result.trend_overdue  # still reported so the alert is raised
    assert result.trend_invoices == ("O1", "O2")
    assert "override" in result.reason


def test_trend_overdue_two_still_overdue_moves_down_one_tier() -> None:
    overdue = (make_invoice("O1", AS_OF - timedelta(days=20)), make_invoice("O2", AS_OF - timedelta(days=10)))
    result = assess(
        AS_OF, make_ledger(*history(0, 0, 0), *overdue, customer=best_customer()), SCORECARD, TOLERANCE
    )
    assert result.scored_tier is Tier.STRATEGIC
    assert result.tier is Tier.COOPERATIVE
    assert result.trend_overdue
    assert result.trend_invoices == ("O1", "O2")  # the latest last
    assert "trend overdue" in result.reason


def test_trend_overdue_two_paid_late_moves_down_one_tier() -> None:
    # History of six: four on time long ago, then the two most recent both paid late.
    ledger = make_ledger(
        *history(0, 0, 0, 0),
        paid_invoice("L1", due_days_ago=40, days_late=5),
        paid_invoice("L2", due_days_ago=20, days_late=3),
        customer=best_customer(),
    )
    result = assess(AS_OF, ledger, SCORECARD, TOLERANCE)
    assert result.trend_overdue
    assert result.trend_invoices == ("L1", "L2")
    assert (result.scored_tier, result.tier) == (Tier.STRATEGIC, Tier.COOPERATIVE)


def test_one_recent_invoice_on_time_breaks_the_trend() -> None:
    ledger = make_ledger(
        *history(0, 0, 0),
        make_invoice("LATE", AS_OF - timedelta(days=20)),
        paid_invoice("ONTIME", due_days_ago=10, days_late=0),
        customer=best_customer(),
    )
    result = assess(AS_OF, ledger, SCORECARD, TOLERANCE)
    assert not result.trend_overdue
    assert result.trend_invoices == ()
    assert result.tier is Tier.STRATEGIC


def test_invoices_not_yet_due_do_not_make_a_trend() -> None:
    ledger = make_ledger(
        make_invoice("DUE_TODAY", AS_OF),
        make_invoice("NEXT_WEEK", AS_OF + timedelta(days=7)),
        customer=best_customer(),
    )
    assert not assess(AS_OF, ledger, SCORECARD, TOLERANCE).trend_overdue


def test_cautious_customer_with_trend_stays_cautious() -> None:
    overdue = (make_invoice("O1", AS_OF - timedelta(days=20)), make_invoice("O2", AS_OF - timedelta(days=10)))
    ledger = make_ledger(*overdue, customer=make_customer(industry="construction"))
    result = assess(AS_OF, ledger, SCORECARD, TOLERANCE)
    assert (result.scored_tier, result.tier, result.trend_overdue) == (Tier.CAUTIOUS, Tier.CAUTIOUS, True)


def test_early_warning_beyond_one_and_a_half_times_the_terms() -> None:
    customer = make_customer(payment_terms_days=30)  # threshold 45 days
    ledger = make_ledger(
        make_invoice("AT45", AS_OF - timedelta(days=45)),
        make_invoice("AT46", AS_OF - timedelta(days=46)),
        make_invoice("PAID", AS_OF - timedelta(days=60), payments=(("1000.00", AS_OF),)),
        make_invoice("DISPUTED", AS_OF - timedelta(days=60), status=InvoiceStatus.DISPUTED),
        make_invoice(
            "REPAID_LATER", AS_OF - timedelta(days=60), payments=(("1000.00", AS_OF + timedelta(1)),)
        ),
        customer=customer,
    )
    warnings = early_warnings(AS_OF, ledger, SCORECARD, TOLERANCE)
    assert [w.invoice for w in warnings] == ["AT46", "REPAID_LATER"]
    assert warnings[0].days_overdue == 46
    assert warnings[0].threshold_days == Decimal(45)
    assert warnings[0].recommend_credit_hold


def test_early_warning_with_a_fractional_threshold_counts_whole_days() -> None:
    customer = make_customer(payment_terms_days=31)  # threshold 46.5 days
    ledger = make_ledger(
        make_invoice("AT46", AS_OF - timedelta(days=46)),
        make_invoice("AT47", AS_OF - timedelta(days=47)),
        make_invoice("NOT_YET_ISSUED", AS_OF - timedelta(days=60), issued=AS_OF + timedelta(days=1)),
        customer=customer,
    )
    warnings = early_warnings(AS_OF, ledger, SCORECARD, TOLERANCE)
    assert [(w.invoice, w.threshold_days) for w in warnings] == [("AT47", Decimal("46.5"))]


def test_early_warning_is_raised_for_override_tiers_too() -> None:
    ledger = make_ledger(
        make_invoice("OLD", AS_OF - timedelta(days=100)), customer=customer_at(Tier.STRATEGIC)
    )
    assert len(early_warnings(AS_OF, ledger, SCORECARD, TOLERANCE)) == 1


def test_assessment_on_a_date_before_any_invoice() -> None:
    ledger = make_ledger(*history(0, 0, 0))
    result = assess(date(2020, 1, 1), ledger, SCORECARD, TOLERANCE)
    assert result.components["history"] == Decimal(20)
