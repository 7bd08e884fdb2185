"""Read the ledger out of the database as domain snapshots, one customer at a time.

Planning a million invoices must not hold a million ORM objects: three ordered, streamed
queries (customers, invoices, payments) are merged by customer id, so memory stays bounded by
the largest customer, not the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.domain.decisions import ContactRecord, ExecutionStatus
from bot.domain.ledger import (
    Channel,
    Contract,
    Customer,
    CustomerLedger,
    Invoice,
    InvoiceStatus,
    Language,
    Payment,
    Promise,
    Tier,
)
from bot.store import tables

_STREAM_ROWS = 5000

# Outbox states that never reached the customer do not count against the caps.
NOT_CONTACTED_STATES = ("cancelled", "failed")

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
contract_t = tables.Contract.__table__  # type: ignore[attr-defined]
invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]
payment_t = tables.Payment.__table__  # type: ignore[attr-defined]
execution_t = tables.StepExecution.__table__  # type: ignore[attr-defined]
message_t = tables.Message.__table__  # type: ignore[attr-defined]


def _stream(connection: Connection, statement: sa.Select[Any]) -> Iterator[sa.Row[Any]]:
    # Options on the statement, not the connection: Connection.execution_options() changes the
    # connection in place, and every later statement (UPDATEs too) would go through a cursor.
    yield from connection.execute(statement.execution_options(stream_results=True, yield_per=_STREAM_ROWS))


def customer_snapshot(row: sa.Row[Any] | Mapping[str, Any]) -> Customer:
    """A domain Customer from a customer row."""
    m = row._mapping if isinstance(row, sa.Row) else row
    opted_out = frozenset(Channel(c) for c in (m["opted_out"] or "").split(",") if c)
    return Customer(
        id=m["id"],
        name=m["name"],
        country=m["country"],
        timezone=m["timezone"],
        language=Language(m["language"]),
        payment_terms_days=m["payment_terms_days"],
        tier_override=Tier(m["tier_override"]) if m["tier_override"] else None,
        email=m["email"],
        phone=m["phone"],
        address=m["address"],
        account_manager=m["account_manager"],
        industry=m["industry"],
        annual_revenue=m["annual_revenue"],
        open_lawsuits=m["open_lawsuits"],
        do_not_contact=bool(m["do_not_contact"]),
        credit_hold=bool(m["credit_hold"]),
        opted_out=opted_out,
    )


def load_contracts(connection: Connection, customer_ids: Sequence[str] | None = None) -> dict[str, Contract]:
    """Every contract (few, shared by many invoices), or those the customers' invoices name."""
    statement = sa.select(contract_t)
    if customer_ids is not None:
        named = sa.select(invoice_t.c.contract_ref).where(invoice_t.c.customer_id.in_(customer_ids))
        statement = statement.where(contract_t.c.ref.in_(named))
    return {
        row.ref: Contract(
            ref=row.ref,
            grace_days=row.grace_days,
            daily_rate=row.daily_rate,
            penalty_rate=row.penalty_rate,
            penalty_after_days=row.penalty_after_days,
            jurisdiction=row.jurisdiction,
        )
        for row in connection.execute(statement)
    }


def iter_ledgers(
    connection: Connection,
    as_of: date | None = None,
    customer_ids: Sequence[str] | None = None,
) -> Iterator[CustomerLedger]:
    """Every customer with their invoices and payments, in customer id order.

    With ``as_of``, invoices issued later are left out (the domain also filters payments by date,
    but later payments are not even read).
    """
    contracts = load_contracts(connection, customer_ids)
    customers = sa.select(customer_t).order_by(customer_t.c.id)
    invoices = sa.select(
        invoice_t.c.number,
        invoice_t.c.customer_id,
        invoice_t.c.currency,
        invoice_t.c.amount,
        invoice_t.c.issue_date,
        invoice_t.c.due_date,
        invoice_t.c.status,
        invoice_t.c.contract_ref,
        invoice_t.c.promise_date,
        invoice_t.c.promise_amount,
    ).order_by(invoice_t.c.customer_id, invoice_t.c.number)
    payments = (
        sa.select(
            invoice_t.c.customer_id,
            payment_t.c.reference,
            payment_t.c.invoice_number,
            payment_t.c.amount,
            payment_t.c.paid_on,
        )
        .join(invoice_t, invoice_t.c.number == payment_t.c.invoice_number)
        .order_by(invoice_t.c.customer_id, payment_t.c.invoice_number)
    )
    if as_of is not None:
        invoices = invoices.where(invoice_t.c.issue_date <= as_of)
        payments = payments.where(payment_t.c.paid_on <= as_of, invoice_t.c.issue_date <= as_of)
    if customer_ids is not None:
        customers = customers.where(customer_t.c.id.in_(customer_ids))
        invoices = invoices.where(invoice_t.c.customer_id.in_(customer_ids))
        payments = payments.where(invoice_t.c.customer_id.in_(customer_ids))

    invoice_rows = _Peekable(_stream(connection, invoices))
    payment_rows = _Peekable(_stream(connection, payments))
    for customer_row in _stream(connection, customers):
        customer = customer_snapshot(customer_row)
        by_invoice: dict[str, list[Payment]] = defaultdict(list)
        for p in payment_rows.take_while(lambda r, cid=customer.id: r.customer_id == cid):
            by_invoice[p.invoice_number].append(Payment(p.reference, p.invoice_number, p.amount, p.paid_on))
        snapshots = tuple(
            Invoice(
                number=r.number,
                customer_id=r.customer_id,
                currency=r.currency,
                amount=r.amount,
                issue_date=r.issue_date,
                due_date=r.due_date,
                status=InvoiceStatus(r.status),
                contract_ref=r.contract_ref,
                payments=tuple(by_invoice.get(r.number, ())),
                promise=Promise(r.promise_date, r.promise_amount) if r.promise_date else None,
            )
            for r in invoice_rows.take_while(lambda r, cid=customer.id: r.customer_id == cid)
        )
        used = {i.contract_ref for i in snapshots if i.contract_ref}
        yield CustomerLedger(customer, snapshots, {ref: contracts[ref] for ref in used if ref in contracts})


class _Peekable:
    """An iterator over rows ordered by customer id that hands out one customer's rows at a time."""

    def __init__(self, rows: Iterator[Any]) -> None:
        self._rows = rows
        self._head: Any = next(rows, None)

    def take_while(self, belongs: Any) -> Iterator[Any]:
        # Rows of customers that no longer exist (ordered before this one) are skipped.
        while self._head is not None and belongs(self._head):
            yield self._head
            self._head = next(self._rows, None)


def iter_planning_inputs(
    connection: Connection, as_of: date
) -> Iterator[tuple[CustomerLedger, dict[str, dict[str, ExecutionStatus]], list[ContactRecord]]]:
    """Per customer: the ledger as of ``as_of``, its recorded step executions and recent contacts."""
    contacts = load_contacts(connection, as_of)
    statement = sa.select(
        execution_t.c.customer_id, execution_t.c.invoice_number, execution_t.c.step, execution_t.c.status
    ).order_by(execution_t.c.customer_id)
    execution_rows = _Peekable(_stream(connection, statement))
    for ledger in iter_ledgers(connection, as_of):
        customer_id = ledger.customer.id
        executions: dict[str, dict[str, ExecutionStatus]] = defaultdict(dict)
        for row in execution_rows.take_while(lambda r, cid=customer_id: r.customer_id == cid):
            executions[row.invoice_number][row.step] = ExecutionStatus(row.status)
        yield ledger, executions, contacts.get(customer_id, [])


def load_contacts(connection: Connection, as_of: date, days: int = 7) -> dict[str, list[ContactRecord]]:
    """customer id -> outbox messages of the last ``days`` business dates up to ``as_of`` (for caps)."""
    found: dict[str, list[ContactRecord]] = defaultdict(list)
    statement = sa.select(message_t.c.customer_id, message_t.c.channel, message_t.c.business_date).where(
        message_t.c.business_date > as_of - timedelta(days=days),
        message_t.c.business_date <= as_of,
        message_t.c.state.not_in(NOT_CONTACTED_STATES),
    )
    for row in connection.execute(statement):
        found[row.customer_id].append(ContactRecord(Channel(row.channel), row.business_date))
    return found


def money(value: Decimal | None) -> Decimal:
    """A nullable money column as a Decimal (None -> 0)."""
    return value if value is not None else Decimal(0)
