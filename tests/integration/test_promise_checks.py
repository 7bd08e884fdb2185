"""`dunbot promise` refuses what cannot be promised (issue 16): a past date, more than is owed, a
settled invoice. On SQLite and PostgreSQL; a refusal writes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.errors import InputError
from bot.outreach.collector import record_promise
from bot.store import tables

TODAY = date(2026, 6, 10)
NOW = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)
TOLERANCE = Decimal("1.00")


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    with Session(engine) as session:
        session.add(
            tables.Customer(id="C1", name="Acme", country="CN", timezone="Asia/Shanghai", language="en")
        )
        session.flush()
        for number, currency, amount, status in (
            ("I-OPEN", "CNY", "5000.00", "open"),
            ("I-PAID", "CNY", "300.00", "open"),
            ("I-NEARLY", "CNY", "300.00", "open"),
            ("I-OFF", "CNY", "700.00", "written_off"),
            ("I-JPY", "JPY", "120000", "open"),
            ("I-TENTHS", "CNY", "100.30", "open"),
        ):
            session.add(
                tables.Invoice(
                    number=number,
                    customer_id="C1",
                    currency=currency,
                    amount=Decimal(amount),
                    issue_date=date(2026, 4, 1),
                    due_date=date(2026, 5, 1),
                    status=status,
                )
            )
        session.flush()
        for reference, number, amount in (
            ("P-1", "I-OPEN", "1000.00"),
            ("P-2", "I-PAID", "300.00"),
            ("P-3", "I-NEARLY", "299.50"),
            # tenths that a float sum would not add up exactly (0.1 + 0.2 != 0.3)
            ("P-4", "I-TENTHS", "0.10"),
            ("P-5", "I-TENTHS", "0.20"),
        ):
            session.add(
                tables.Payment(
                    reference=reference,
                    invoice_number=number,
                    amount=Decimal(amount),
                    paid_on=date(2026, 5, 20),
                )
            )
        session.commit()
    return engine


def promise(engine: Engine, number: str, on: date, amount: str | None = None) -> None:
    value = Decimal(amount) if amount is not None else None
    record_promise(engine, number, on, value, "ops", NOW, made_on=TODAY, tolerance=TOLERANCE)


def state(engine: Engine) -> tuple[list[tuple[object, ...]], int]:
    with engine.connect() as connection:
        promises = connection.execute(
            sa.text("SELECT number, promise_date, promise_amount FROM invoice ORDER BY number")
        ).all()
        events = connection.execute(sa.text("SELECT count(*) FROM evidence_event")).scalar_one()
    return [tuple(row) for row in promises], int(events)


REFUSED = [
    ("yesterday", "I-OPEN", date(2026, 6, 9), None, "--date 2026-06-09 is in the past (today is 2026-06-10)"),
    (
        "above the outstanding",
        "I-OPEN",
        TODAY,
        "4000.01",
        "--amount 4,000.01 is more than invoice I-OPEN still owes (4,000.00 CNY)",
    ),
    (
        "paid",
        "I-PAID",
        TODAY,
        None,
        "invoice I-PAID is paid (outstanding 0.00 CNY); there is nothing to promise",
    ),
    (
        "paid to within the tolerance",
        "I-NEARLY",
        TODAY,
        None,
        "invoice I-NEARLY is paid (outstanding 0.50 CNY)",
    ),
    ("written off", "I-OFF", TODAY, None, "invoice I-OFF is written off; there is nothing to promise"),
    ("zero", "I-OPEN", TODAY, "0", "--amount must be positive"),
    ("a cent above, summed exactly", "I-TENTHS", TODAY, "100.01", "still owes (100.00 CNY)"),
    ("yen with decimals", "I-JPY", TODAY, "100.5", "--amount 100.5 has more decimals than JPY allows (0)"),
]


@pytest.mark.parametrize(("case", "number", "on", "amount", "expected"), REFUSED, ids=[c[0] for c in REFUSED])
def test_a_promise_that_cannot_be_kept_is_refused(
    ledger: Engine, case: str, number: str, on: date, amount: str | None, expected: str
) -> None:
    before = state(ledger)
    with pytest.raises(InputError) as caught:
        promise(ledger, number, on, amount)
    assert expected in str(caught.value)
    assert state(ledger) == before


def test_a_promise_for_today_of_all_that_is_owed_is_recorded(ledger: Engine) -> None:
    _, events = state(ledger)
    promise(ledger, "I-OPEN", TODAY, "4000.00")
    with ledger.connect() as connection:
        row = connection.execute(
            sa.text("SELECT promise_date, promise_amount FROM invoice WHERE number = 'I-OPEN'")
        ).one()
    assert (str(row.promise_date), Decimal(str(row.promise_amount))) == ("2026-06-10", Decimal("4000.00"))
    assert state(ledger)[1] == events + 1


def test_the_outstanding_is_summed_exactly(ledger: Engine) -> None:
    promise(ledger, "I-TENTHS", TODAY, "100.00")  # 100.30 - 0.10 - 0.20, to the cent
    with ledger.connect() as connection:
        amount = connection.execute(
            sa.text("SELECT promise_amount FROM invoice WHERE number = 'I-TENTHS'")
        ).scalar_one()
    assert Decimal(str(amount)) == Decimal("100.00")
