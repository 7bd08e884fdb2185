"""Aging buckets and collection KPIs, checked by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from bot.domain.ledger import Customer, CustomerLedger, Invoice, InvoiceStatus, Language, Payment, Tier
from bot.domain.reports import aging, aging_bucket, kpis

AS_OF = date(2026, 6, 30)


def _customer(cid: str = "C1") -> Customer:
    return Customer(
        id=cid, name=f"Customer {cid}", country="CN", timezone="Asia/Shanghai", language=Language.ZH_CN
    )


def _invoice(number: str, amount: str, due_days_ago: int, paid: str | None = None, **kw: object) -> Invoice:
    due = AS_OF - timedelta(days=due_days_ago)
    payments = (Payment(f"P-{number}", number, Decimal(paid), due),) if paid else ()
    return Invoice(
        number=number,
        customer_id="C1",
        currency=str(kw.get("currency", "CNY")),
        amount=Decimal(amount),
        issue_date=due - timedelta(days=30),
        due_date=due,
        payments=payments,
        status=kw.get("status", InvoiceStatus.OPEN),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-5, "current"),
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
    ],
)
def test_bucket_edges(days: int, bucket: str) -> None:
    assert aging_bucket(days) == bucket


def test_aging_sums_outstanding_per_bucket_and_currency() -> None:
    ledger = CustomerLedger(
        _customer(),
        (
            _invoice("I1", "100.00", -3),
            _invoice("I2", "200.00", 10, paid="50.00"),  # 150 outstanding
            _invoice("I3", "300.00", 45),
            _invoice("I4", "400.00", 120, currency="USD"),
            _invoice("I5", "500.00", 120, status=InvoiceStatus.WRITTEN_OFF),
            _invoice("I6", "600.00", 70, paid="600.00"),  # paid: not a receivable
        ),
    )
    report = aging(AS_OF, [(ledger, Tier.COOPERATIVE)])
    cny = next(r for r in report.by_tier if r.currency == "CNY")
    usd = next(r for r in report.by_tier if r.currency == "USD")
    assert cny.amounts == {
        "current": Decimal("100.00"),
        "1-30": Decimal("150.00"),
        "31-60": Decimal("300.00"),
        "61-90": Decimal(0),
        "90+": Decimal(0),
    }
    assert cny.total == Decimal("550.00")
    assert usd.amounts["90+"] == Decimal("400.00")
    assert [r.keys for r in report.by_customer] == [("C1", "Customer C1", "cooperative")] * 2
    assert report.by_customer[0].as_json(("customer", "name", "tier"))["total"] == "550.00"


def test_kpis_by_hand() -> None:
    # Period: the 30 days ending AS_OF. One invoice from before the period (1,000, due before,
    # 400 paid in the period), one issued in the period (500, not yet due, unpaid).
    old = Invoice(
        number="OLD",
        customer_id="C1",
        currency="CNY",
        amount=Decimal("1000.00"),
        issue_date=AS_OF - timedelta(days=90),
        due_date=AS_OF - timedelta(days=60),
        payments=(Payment("P1", "OLD", Decimal("400.00"), AS_OF - timedelta(days=5)),),
    )
    new = Invoice(
        number="NEW",
        customer_id="C1",
        currency="CNY",
        amount=Decimal("500.00"),
        issue_date=AS_OF - timedelta(days=10),
        due_date=AS_OF + timedelta(days=20),
    )
    (row,) = kpis(AS_OF, 30, [(CustomerLedger(_customer(), (old, new)), Tier.STRATEGIC)])
    assert row.receivables == Decimal("1100.00")
    assert row.overdue == Decimal("600.00")
    assert row.credit_sales == Decimal("500.00")
    assert row.beginning_receivables == Decimal("1000.00")
    assert row.overdue_rate == Decimal("54.5")  # 600 / 1100
    assert row.dso == Decimal("66.0")  # 1100 / 500 × 30
    # CEI = (1000 + 500 − 1100) / (1000 + 500 − 500) = 400 / 1000
    assert row.cei == Decimal("40.0")


def test_kpis_without_sales_have_no_dso() -> None:
    (row,) = kpis(AS_OF, 30, [(CustomerLedger(_customer(), (_invoice("I1", "100.00", 60),)), Tier.CAUTIOUS)])
    assert row.dso is None
    assert row.as_json()["dso"] is None
