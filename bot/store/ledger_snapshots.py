"""The ledger as domain snapshots: customers, contracts, and ``iter_ledgers``, every customer with
their invoices and payments in customer id order.

Planning a million invoices must not hold a million ORM objects: three ordered, streamed
queries (customers, invoices, payments) are merged by customer id, so memory stays bounded by
the largest customer, not the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

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
from bot.store.driver_rows import ByCustomer, DriverRows

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
contract_t = tables.Contract.__table__  # type: ignore[attr-defined]
invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]
payment_t = tables.Payment.__table__  # type: ignore[attr-defined]

_NO_CHANNELS: frozenset[Channel] = frozenset()
_LANGUAGES: dict[str, Language] = {language.value: language for language in Language}
_TIERS: dict[str, Tier] = {tier.value: tier for tier in Tier}


# The customer columns a snapshot is built from, in the order _customer takes them.
_CUSTOMER_COLUMNS = (
    "id",
    "name",
    "country",
    "timezone",
    "language",
    "payment_terms_days",
    "tier_override",
    "email",
    "phone",
    "address",
    "account_manager",
    "industry",
    "annual_revenue",
    "open_lawsuits",
    "do_not_contact",
    "credit_hold",
    "opted_out",
    "paused_until",
)


def _customer(
    id: str,
    name: str,
    country: str,
    timezone: str,
    language: str,
    payment_terms_days: int,
    tier: str | None,
    email: str | None,
    phone: str | None,
    address: str | None,
    account_manager: str | None,
    industry: str | None,
    annual_revenue: Decimal | None,
    open_lawsuits: int,
    do_not_contact: Any,
    credit_hold: Any,
    opted_out_text: str | None,
    paused_until: date | None,
) -> Customer:
    opted_out = (
        frozenset(Channel(c) for c in opted_out_text.split(",") if c) if opted_out_text else _NO_CHANNELS
    )
    # Customer's fields in order, by tuple.__new__ like the invoices in iter_ledgers.
    return tuple.__new__(
        Customer,
        (
            id,
            name,
            country,
            timezone,
            _LANGUAGES.get(language) or Language(language),
            payment_terms_days,
            (_TIERS.get(tier) or Tier(tier)) if tier else None,
            email,
            phone,
            address,
            account_manager,
            industry,
            annual_revenue,
            open_lawsuits,
            bool(do_not_contact),
            bool(credit_hold),
            opted_out,
            paused_until,
        ),
    )


def customer_snapshot(row: sa.Row[Any] | Mapping[str, Any]) -> Customer:
    """A domain Customer from a customer row."""
    m = row._mapping if isinstance(row, sa.Row) else row
    return _customer(*(m[column] for column in _CUSTOMER_COLUMNS))


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


CustomerRange = tuple[str, str]  # the first and the last customer id of a slice, inclusive


def in_range(column: sa.ColumnElement[Any], customer_range: CustomerRange | None) -> list[Any]:
    if customer_range is None:
        return []
    # The database compares, as it orders: the slices of one ordered list of ids never overlap.
    return [column.between(*customer_range)]


_INVOICE_STATUSES: dict[str, InvoiceStatus] = {status.value: status for status in InvoiceStatus}


def iter_ledgers(
    connection: Connection,
    as_of: date | None = None,
    customer_ids: Sequence[str] | None = None,
    *,
    customer_range: CustomerRange | None = None,
) -> Iterator[CustomerLedger]:
    """Every customer with their invoices and payments, in customer id order.

    With ``as_of``, invoices issued later are left out (the domain also filters payments by date,
    but later payments are not even read). ``customer_ids`` or ``customer_range`` (first and last
    id, inclusive) read only some customers.
    """
    contracts = load_contracts(connection, customer_ids)
    customers = sa.select(*(customer_t.c[column] for column in _CUSTOMER_COLUMNS)).order_by(customer_t.c.id)
    invoices = sa.select(
        invoice_t.c.customer_id,
        invoice_t.c.number,
        invoice_t.c.currency,
        invoice_t.c.amount,
        invoice_t.c.issue_date,
        invoice_t.c.due_date,
        invoice_t.c.status,
        invoice_t.c.contract_ref,
        invoice_t.c.promise_date,
        invoice_t.c.promise_amount,
        invoice_t.c.paused_until,
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
        # The invoice's number, not the payment's (equal by the join): ix_invoice_customer_number
        # then gives the order and the database sorts nothing.
        .order_by(invoice_t.c.customer_id, invoice_t.c.number)
    )
    if as_of is not None:
        invoices = invoices.where(invoice_t.c.issue_date <= as_of)
        # Not the invoice's issue date: a payment of an invoice issued later is read and left out
        # with its invoice below, and without that column ix_invoice_customer_number covers the
        # join (no lookup of every invoice of the slice in the table).
        payments = payments.where(payment_t.c.paid_on <= as_of)
    if customer_ids is not None:
        customers = customers.where(customer_t.c.id.in_(customer_ids))
        invoices = invoices.where(invoice_t.c.customer_id.in_(customer_ids))
        payments = payments.where(invoice_t.c.customer_id.in_(customer_ids))
    customers = customers.where(*in_range(customer_t.c.id, customer_range))
    invoices = invoices.where(*in_range(invoice_t.c.customer_id, customer_range))
    payments = payments.where(*in_range(invoice_t.c.customer_id, customer_range))

    # A million invoices on a first plan: the driver's own rows, unpacked by position and grouped per
    # customer in C (itertools.groupby), not matched one by one.
    driver = DriverRows(connection)
    money, day = driver.money, driver.day
    invoice_rows = ByCustomer(driver.rows(invoices))
    payment_rows = ByCustomer(driver.rows(payments))
    statuses = _INVOICE_STATUSES
    new_tuple = tuple.__new__  # an Invoice, a Payment or a CustomerLedger from its fields in order
    for row in driver.rows(customers):
        revenue = row[12]
        customer = _customer(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
            row[8],
            row[9],
            row[10],
            row[11],
            None if revenue is None else money(revenue),
            row[13],
            row[14],
            row[15],
            row[16],
            None if row[17] is None else day(row[17]),
        )
        customer_id = customer.id
        by_invoice: dict[str, list[Payment]] = {}
        for _, reference, invoice_number, amount, paid_on in payment_rows.take(customer_id):
            payment = new_tuple(Payment, (reference, invoice_number, money(amount), day(paid_on)))
            listed = by_invoice.get(invoice_number)
            if listed is None:
                by_invoice[invoice_number] = [payment]
            else:
                listed.append(payment)
        snapshots = tuple(
            [
                # Invoice's own fields in order, built by tuple.__new__: a NamedTuple's generated
                # __new__ is a Python call, twice the cost, a million times over.
                new_tuple(
                    Invoice,
                    (
                        number,
                        owner,
                        currency,
                        money(amount),
                        day(issue_date),
                        day(due_date),
                        statuses.get(status) or InvoiceStatus(status),
                        contract_ref,
                        tuple(by_invoice[number]) if number in by_invoice else (),
                        Promise(day(promise_date), None if promise_amount is None else money(promise_amount))
                        if promise_date
                        else None,
                        None if paused_until is None else day(paused_until),
                    ),
                )
                for (
                    owner,
                    number,
                    currency,
                    amount,
                    issue_date,
                    due_date,
                    status,
                    contract_ref,
                    promise_date,
                    promise_amount,
                    paused_until,
                ) in invoice_rows.take(customer_id)
            ]
        )
        used = {i.contract_ref for i in snapshots if i.contract_ref}
        own_contracts = {ref: contracts[ref] for ref in used if ref in contracts}
        yield new_tuple(CustomerLedger, (customer, snapshots, own_contracts))
