"""The planner's fast ledger reading gives the snapshots SQLAlchemy's typed rows give (issue 2).

``iter_ledgers`` reads invoices, payments and customers straight from the driver's cursor and
converts SQLite's text itself; here every snapshot is rebuilt from ordinary SQLAlchemy rows (Money,
Date and Boolean types doing the converting) and compared, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.domain.ledger import CustomerLedger, Invoice, InvoiceStatus, Payment, Promise
from bot.ingest.demo_ledger import generate_demo_ledger
from bot.ingest.service import ImportDefaults, import_file
from bot.store.queries import (
    customer_snapshot,
    customer_t,
    invoice_t,
    iter_ledgers,
    load_contracts,
    payment_t,
)

AS_OF = date(2026, 11, 23)
NOW = datetime(
    2026, 11, 23, 1, 0, tzinfo=UTC
)  # 09:00 in Shanghai on AS_OF: the ledger holds payments up to the day before


def _expected(engine: Engine, as_of: date) -> list[CustomerLedger]:
    with engine.connect() as connection:
        contracts = load_contracts(connection)
        customers = [customer_snapshot(row) for row in connection.execute(sa.select(customer_t))]
        payments: dict[str, list[Payment]] = {}
        for row in connection.execute(sa.select(payment_t).where(payment_t.c.paid_on <= as_of)):
            payments.setdefault(row.invoice_number, []).append(
                Payment(row.reference, row.invoice_number, row.amount, row.paid_on)
            )
        invoices: dict[str, list[Invoice]] = {}
        for row in connection.execute(
            sa.select(invoice_t).where(invoice_t.c.issue_date <= as_of).order_by(invoice_t.c.number)
        ):
            invoices.setdefault(row.customer_id, []).append(
                Invoice(
                    number=row.number,
                    customer_id=row.customer_id,
                    currency=row.currency,
                    amount=row.amount,
                    issue_date=row.issue_date,
                    due_date=row.due_date,
                    status=InvoiceStatus(row.status),
                    contract_ref=row.contract_ref,
                    payments=tuple(payments.get(row.number, ())),
                    promise=Promise(row.promise_date, row.promise_amount) if row.promise_date else None,
                )
            )
    ledgers = []
    for customer in sorted(customers, key=lambda c: c.id):
        own = tuple(invoices.get(customer.id, ()))
        used = {i.contract_ref for i in own if i.contract_ref}
        ledgers.append(CustomerLedger(customer, own, {r: contracts[r] for r in used if r in contracts}))
    return ledgers


def _normalised(ledger: CustomerLedger) -> CustomerLedger:
    # Payments of one invoice come in no particular order from either query.
    invoices = tuple(
        invoice._replace(payments=tuple(sorted(invoice.payments, key=lambda p: p.reference)))
        for invoice in ledger.invoices
    )
    return CustomerLedger(ledger.customer, invoices, dict(ledger.contracts))


def test_fast_reading_gives_the_typed_snapshots(engine: Engine, tmp_path: Path) -> None:
    files = generate_demo_ledger(tmp_path / "ledger", AS_OF)
    defaults = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")
    for entity in ("contracts", "customers", "invoices", "payments"):
        import_file(engine, entity, getattr(files, entity), defaults=defaults, now=NOW)
    with engine.begin() as connection:  # the odd fields the demo leaves empty
        connection.execute(
            sa.update(customer_t)
            .where(customer_t.c.id == "C-0001")
            .values(opted_out="sms,email", annual_revenue=Decimal("123456789.50"), do_not_contact=True)
        )
        connection.execute(
            sa.update(invoice_t)
            .where(invoice_t.c.number == sa.select(sa.func.min(invoice_t.c.number)).scalar_subquery())
            .values(promise_date=date(2026, 12, 1), promise_amount=Decimal("10.50"))
        )
        # A prepayment: paid before the plan date on an invoice issued after it. On AS_OF neither
        # exists (the payment query reads it, by the invoice's number alone, and must leave it out).
        prepaid = connection.execute(sa.select(sa.func.max(invoice_t.c.number))).scalar_one()
        connection.execute(
            sa.update(invoice_t)
            .where(invoice_t.c.number == prepaid)
            .values(issue_date=AS_OF + timedelta(days=3))
        )
        connection.execute(
            sa.insert(payment_t).values(
                reference="PREPAID-1",
                invoice_number=prepaid,
                amount=Decimal("5.00"),
                paid_on=AS_OF - timedelta(days=1),
            )
        )
    with engine.connect() as connection:
        read = [_normalised(ledger) for ledger in iter_ledgers(connection, AS_OF)]
    expected = [_normalised(ledger) for ledger in _expected(engine, AS_OF)]
    assert read == expected
    with engine.connect() as connection:  # as a planning worker reads its slice
        ids = [ledger.customer.id for ledger in expected]
        sliced = [
            _normalised(ledger)
            for ledger in iter_ledgers(connection, AS_OF, customer_range=(ids[1], ids[-1]))
        ]
    assert sliced == expected[1:]
    assert all(invoice.number != prepaid for ledger in read for invoice in ledger.invoices)
    first = read[0]
    assert first.customer.opted_out and first.customer.do_not_contact
    assert first.customer.annual_revenue == Decimal("123456789.50")
    assert any(
        invoice.promise and invoice.promise.amount == Decimal("10.50")
        for ledger in read
        for invoice in ledger.invoices
    )
    assert any(invoice.payments for ledger in read for invoice in ledger.invoices)
    assert all(isinstance(invoice.amount, Decimal) for ledger in read for invoice in ledger.invoices)
    assert all(isinstance(invoice.due_date, date) for ledger in read for invoice in ledger.invoices)
