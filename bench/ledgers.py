"""The benches' ledgers: customers, open invoices and payments, generated from a seed, and written
the ways the benches load them (driver bulk inserts, SQLAlchemy, the ORM, CSV for ``dunbot import``).

A :class:`LedgerSpec` says what differs between benches: how many customers in which segments
(tier, days overdue: fixed, or drawn per customer / per invoice), invoices per customer, the
text templates of ids, names, e-mail addresses, phone numbers and invoice numbers, the country,
time zone and language, amounts, and the shares of invoices with a contract or a part payment.
:func:`generate` draws from ``random.Random(seed)`` only for what the spec leaves to chance, in a
fixed order per invoice (due date, amount, contract, payment), so a spec always gives the same rows.

Templates are ``str.format`` strings over ``n`` (the customer's index), ``n8`` (``n`` modulo
10**8, for phone numbers) and, for invoices and payments, ``i`` (the invoice's index within its
customer).
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple


class CustomerRow(NamedTuple):
    id: str
    name: str
    country: str
    timezone: str
    language: str
    email: str | None
    phone: str | None
    address: str | None
    payment_terms_days: int
    open_lawsuits: int
    tier_override: str | None
    industry: str | None
    annual_revenue: str | None
    do_not_contact: bool
    credit_hold: bool
    credit_limit: str | None
    opted_out: str


class InvoiceRow(NamedTuple):
    number: str
    customer_id: str
    currency: str
    amount: str
    issue_date: str  # ISO dates, as the drivers and CSV take them
    due_date: str
    contract_ref: str | None


class PaymentRow(NamedTuple):
    reference: str
    invoice_number: str
    amount: str
    paid_on: str


@dataclass(frozen=True)
class Segment:
    """Consecutive customers sharing a tier and a due date.

    ``tier``: a tier (or None), or a tuple to draw one from per customer. ``days_overdue`` of every
    invoice on the spec's ``as_of`` (negative: not yet due): a number, or an inclusive range to draw
    from per invoice.
    """

    customers: int
    tier: str | tuple[str | None, ...] | None = None
    days_overdue: int | tuple[int, int] = 0


@dataclass(frozen=True)
class LedgerSpec:
    segments: tuple[Segment, ...]
    as_of: date
    invoices_per_customer: int = 1
    seed: int = 42
    first: int = 0  # the first customer's n
    customer_id: str = "C{n:07d}"
    name: str = "客户{n:07d}有限公司"
    email: str | None = "ap{n}@c{n}.com.cn"
    phone: str | None = "+86138{n8:08d}"
    address: str | None = "上海市浦东新区世纪大道 1 号"
    country: str = "CN"
    timezone: str = "Asia/Shanghai"
    language: str = "zh-CN"
    industry: str | None = None
    annual_revenue: str | None = None
    invoice_number: str = "I{n:07d}-{i:02d}"
    currency: str = "CNY"
    # whole units: a fixed amount plus ``amount_step`` per customer index, or a range drawn per invoice
    amount: int | tuple[int, int] = (1_000, 200_000)
    amount_step: int = 0
    terms_days: int = 30  # issued this many days before due
    contract_share: float = 0.0  # of invoices, referring to one of ``contracts`` contracts
    contracts: int = 5
    payment_share: float = 0.0  # of invoices, part-paid by ``payment_amount`` the day before due
    payment_reference: str = "P{n:07d}-{i:02d}"
    payment_amount: str = "500.00"

    @property
    def customers(self) -> int:
        return sum(segment.customers for segment in self.segments)


@dataclass
class Ledger:
    customers: list[CustomerRow]
    invoices: list[InvoiceRow]
    payments: list[PaymentRow]


def generate(spec: LedgerSpec) -> Ledger:
    """Every row of ``spec``'s ledger, customers in order of ``n``, invoices in order of ``i``."""
    rng = random.Random(spec.seed)
    ledger = Ledger([], [], [])
    n = spec.first
    for segment in spec.segments:
        for _ in range(segment.customers):
            _customer(spec, segment, n, rng, ledger)
            n += 1
    return ledger


def _customer(spec: LedgerSpec, segment: Segment, n: int, rng: random.Random, ledger: Ledger) -> None:
    fields = {"n": n, "n8": n % 10**8}
    cid = spec.customer_id.format(**fields)
    tier = rng.choice(segment.tier) if isinstance(segment.tier, tuple) else segment.tier
    ledger.customers.append(
        CustomerRow(
            cid,
            spec.name.format(**fields),
            spec.country,
            spec.timezone,
            spec.language,
            None if spec.email is None else spec.email.format(**fields),
            None if spec.phone is None else spec.phone.format(**fields),
            spec.address,
            30,
            0,
            tier,
            spec.industry,
            spec.annual_revenue,
            False,
            False,
            None,
            "",
        )
    )
    overdue, amount, as_of, currency = segment.days_overdue, spec.amount, spec.as_of, spec.currency
    draw_due, draw_amount = isinstance(overdue, tuple), isinstance(amount, tuple)
    contract_share, payment_share = spec.contract_share, spec.payment_share
    number_of, terms, day = spec.invoice_number.format, timedelta(days=spec.terms_days), timedelta(days=1)
    row = tuple.__new__  # a NamedTuple's own __new__ is a Python call; a million invoices feel it
    for i in range(spec.invoices_per_customer):
        number = number_of(i=i, **fields)
        due = as_of - timedelta(days=rng.randint(*overdue) if draw_due else overdue)  # type: ignore[misc]
        whole = rng.randint(*amount) if draw_amount else amount + spec.amount_step * n  # type: ignore[misc,operator]
        contract = None
        if contract_share and rng.random() < contract_share:
            contract = f"K-{rng.randint(1, spec.contracts)}"
        issued = (due - terms).isoformat()
        ledger.invoices.append(
            row(InvoiceRow, (number, cid, currency, f"{whole}.00", issued, due.isoformat(), contract))
        )
        if payment_share and rng.random() < payment_share:
            reference = spec.payment_reference.format(i=i, **fields)
            paid_on = (due - day).isoformat()
            ledger.payments.append(row(PaymentRow, (reference, number, spec.payment_amount, paid_on)))


def contract_rows(count: int) -> list[tuple[Any, ...]]:
    """The contracts ``K-1`` … ``K-count`` that invoices refer to (grace, rates, penalty, court)."""
    return [(f"K-{k}", 10 + k, "0.0005", "0.02", 30 + k, "上海") for k in range(1, count + 1)]


# --- writing ---------------------------------------------------------------------------------------

CUSTOMER_COLUMNS = ", ".join(CustomerRow._fields)
INVOICE_COLUMNS = ", ".join((*InvoiceRow._fields, "status"))
PAYMENT_COLUMNS = ", ".join(PaymentRow._fields)
CONTRACT_COLUMNS = "ref, grace_days, daily_rate, penalty_rate, penalty_after_days, jurisdiction"


def write_sqlite(path: str, ledger: Ledger, contracts: int = 0) -> None:
    """Bulk inserts with the ``sqlite3`` driver into a migrated database, then ``ANALYZE``."""
    with sqlite3.connect(path) as connection:
        connection.executemany(
            f"INSERT INTO contract ({CONTRACT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", contract_rows(contracts)
        )
        connection.executemany(
            f"INSERT INTO customer ({CUSTOMER_COLUMNS}) VALUES ({', '.join('?' * 17)})", ledger.customers
        )
        connection.executemany(
            f"INSERT INTO invoice ({INVOICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 'open')", ledger.invoices
        )
        connection.executemany(
            f"INSERT INTO payment ({PAYMENT_COLUMNS}) VALUES (?, ?, ?, ?)", ledger.payments
        )
        connection.execute("ANALYZE")


def write_postgres(libpq_url: str, ledger: Ledger, contracts: int = 0) -> None:
    """``COPY`` with ``psycopg`` into a migrated schema (``libpq_url`` sets its search path), then
    ``ANALYZE``."""
    import psycopg

    with psycopg.connect(libpq_url) as connection, connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO contract ({CONTRACT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
            contract_rows(contracts),
        )
        with cursor.copy(f"COPY customer ({CUSTOMER_COLUMNS}) FROM STDIN") as copy:
            for row in ledger.customers:
                copy.write_row(row)
        with cursor.copy(f"COPY invoice ({INVOICE_COLUMNS}) FROM STDIN") as copy:
            for invoice in ledger.invoices:
                copy.write_row((*invoice, "open"))
        with cursor.copy(f"COPY payment ({PAYMENT_COLUMNS}) FROM STDIN") as copy:
            for payment in ledger.payments:
                copy.write_row(payment)
        cursor.execute("ANALYZE")


def insert_rows(connection: Any, ledger: Ledger) -> None:
    """SQLAlchemy inserts of customers and invoices (typed values) on ``connection``."""
    import sqlalchemy as sa

    from bot.store import tables

    customers = [
        {
            **row._asdict(),
            "annual_revenue": _decimal(row.annual_revenue),
            "credit_limit": _decimal(row.credit_limit),
        }
        for row in ledger.customers
    ]
    invoices = [
        {
            **row._asdict(),
            "amount": Decimal(row.amount),
            "issue_date": date.fromisoformat(row.issue_date),
            "due_date": date.fromisoformat(row.due_date),
            "status": "open",
        }
        for row in ledger.invoices
    ]
    connection.execute(sa.insert(tables.Customer.__table__), customers)  # type: ignore[attr-defined]
    connection.execute(sa.insert(tables.Invoice.__table__), invoices)  # type: ignore[attr-defined]


def customer_models(ledger: Ledger) -> Iterator[Any]:
    """The customers as ``tables.Customer`` objects, for an ORM session."""
    from bot.store import tables

    for row in ledger.customers:
        values = row._asdict()
        values["annual_revenue"] = _decimal(row.annual_revenue)
        values["credit_limit"] = _decimal(row.credit_limit)
        yield tables.Customer(**values)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


CSV_CUSTOMER_HEADER = (
    "id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,"
    "payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact"
)
CSV_INVOICE_HEADER = "number,customer_id,currency,amount,issue_date,due_date,contract_ref,status"


def customer_csv(customers: Iterable[CustomerRow]) -> str:
    """The customers as ``dunbot import customers`` reads them (no field needs quoting here)."""
    lines = [CSV_CUSTOMER_HEADER]
    for c in customers:
        fields = (c.id, c.name, "", c.tier_override, c.country, c.timezone, c.language, c.email, c.phone,
                  c.address, "", c.payment_terms_days, c.credit_limit, c.industry, c.annual_revenue,
                  c.open_lawsuits, "true" if c.do_not_contact else "false")  # fmt: skip
        lines.append(",".join("" if f is None else str(f) for f in fields))
    return "\n".join(lines) + "\n"


def invoice_csv(invoices: Iterable[InvoiceRow]) -> str:
    """The invoices as ``dunbot import invoices`` reads them, all open."""
    lines = [CSV_INVOICE_HEADER]
    for i in invoices:
        fields = (
            i.number,
            i.customer_id,
            i.currency,
            i.amount,
            i.issue_date,
            i.due_date,
            i.contract_ref,
            "open",
        )
        lines.append(",".join("" if f is None else str(f) for f in fields))
    return "\n".join(lines) + "\n"
