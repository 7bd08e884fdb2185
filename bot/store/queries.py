"""Read the ledger out of the database as domain snapshots, one customer at a time.

Planning a million invoices must not hold a million ORM objects: three ordered, streamed
queries (customers, invoices, payments) are merged by customer id, so memory stays bounded by
the largest customer, not the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, timedelta, tzinfo
from decimal import Decimal
from itertools import count, groupby
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
message_invoice_t = tables.MessageInvoice.__table__  # type: ignore[attr-defined]


def _stream(connection: Connection, statement: sa.Select[Any]) -> Iterator[sa.Row[Any]]:
    # Options on the statement, not the connection: Connection.execution_options() changes the
    # connection in place, and every later statement (UPDATEs too) would go through a cursor.
    yield from connection.execute(statement.execution_options(stream_results=True, yield_per=_STREAM_ROWS))


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


def _in_range(column: sa.ColumnElement[Any], customer_range: CustomerRange | None) -> list[Any]:
    if customer_range is None:
        return []
    # The database compares, as it orders: the slices of one ordered list of ids never overlap.
    return [column.between(*customer_range)]


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
    customers = customers.where(*_in_range(customer_t.c.id, customer_range))
    invoices = invoices.where(*_in_range(invoice_t.c.customer_id, customer_range))
    payments = payments.where(*_in_range(invoice_t.c.customer_id, customer_range))

    # A million invoices on a first plan: the driver's own rows, unpacked by position and grouped per
    # customer in C (itertools.groupby), not matched one by one.
    driver = _DriverRows(connection)
    money, day = driver.money, driver.day
    invoice_rows = _ByCustomer(driver.rows(invoices))
    payment_rows = _ByCustomer(driver.rows(payments))
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


def _unchanged(value: Any) -> Any:
    return value


class _DriverRows:
    """Rows of a Core statement straight from the DBAPI cursor, fetched in batches.

    For the million-row reads of planning: SQLAlchemy compiles the statement, but no Row objects
    are made and no result types run (about a third of the cost of reading). What the driver leaves
    as stored is converted by ``money`` and ``day``: on SQLite money is canonical text (see
    ``types.Money``) and dates ISO text; psycopg already returns Decimal and date. Other drivers
    go through SQLAlchemy's rows, converted as usual.
    """

    _names = count()

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        driver = connection.dialect.driver
        self._sqlite = driver == "pysqlite"
        self._direct = self._sqlite or driver == "psycopg"
        self.money: Callable[[Any], Decimal] = Decimal if self._sqlite else _unchanged
        self.day: Callable[[Any], date] = date.fromisoformat if self._sqlite else _unchanged

    def _bind(self, value: Any) -> Any:
        # What SQLAlchemy's Date type binds on SQLite; psycopg adapts dates itself.
        return value.isoformat() if self._sqlite and isinstance(value, date) else value

    def rows(self, statement: sa.Select[Any]) -> Iterator[Sequence[Any]]:
        """Every row of ``statement`` as a tuple, in the statement's order."""
        connection = self._connection
        if not self._direct:
            yield from _stream(connection, statement)
            return
        compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
        values = compiled.construct_params()
        params: Any
        if compiled.positiontup is not None:
            params = tuple(self._bind(values[name]) for name in compiled.positiontup)
        else:
            params = {name: self._bind(value) for name, value in values.items()}
        if not connection.in_transaction():
            connection.begin()  # the same transaction (and snapshot) as the Core queries beside it
        raw = connection.connection.driver_connection
        assert raw is not None
        # psycopg: a server-side cursor, so the rows stream instead of arriving all at once.
        cursor = raw.cursor() if self._sqlite else raw.cursor(name=f"dunbot_rows_{next(self._names)}")
        try:
            cursor.execute(compiled.string, params)
            if self._sqlite:  # row by row: sqlite3's fetchmany is 8-10 % slower than its iterator
                yield from cursor
            else:
                while batch := cursor.fetchmany(_STREAM_ROWS):
                    yield from batch
        finally:
            cursor.close()


def driver_rows(connection: Connection, statement: sa.Select[Any]) -> Iterator[Sequence[Any]]:
    """Every row of ``statement`` as the driver returns it (see ``_DriverRows``): a tuple in the
    statement's column order, values as stored (on SQLite an instant is ISO text without a zone)."""
    return _DriverRows(connection).rows(statement)


_INVOICE_STATUSES: dict[str, InvoiceStatus] = {status.value: status for status in InvoiceStatus}
_EXECUTION_STATUSES: dict[str, ExecutionStatus] = {status.value: status for status in ExecutionStatus}


class _ByCustomer:
    """Rows ordered by customer id (their first column), handed out one customer's at a time."""

    __slots__ = ("_customer", "_groups", "_rows")

    def __init__(self, rows: Iterator[Any]) -> None:
        self._groups = groupby(rows, itemgetter(0))
        self._customer: Any = None
        self._rows: Any = None
        self._advance()

    def _advance(self) -> None:
        self._customer, self._rows = next(self._groups, (None, None))

    def take(self, customer_id: str) -> list[Any]:
        """The rows of ``customer_id`` when they come next (the caller asks in id order)."""
        if self._rows is None or self._customer != customer_id:
            return []
        rows = list(self._rows)
        self._advance()
        return rows


def iter_planning_inputs(
    connection: Connection, as_of: date, *, customer_range: CustomerRange | None = None
) -> Iterator[
    tuple[
        CustomerLedger,
        dict[str, dict[str, ExecutionStatus]],
        list[ContactRecord],
        dict[str, dict[str, date | None]],
    ]
]:
    """Per customer: the ledger as of ``as_of``, its recorded step executions, recent contacts and
    the notices sent (see ``_notices_sent``).

    ``customer_range`` (first and last id, inclusive) reads only that slice of the customers.
    """
    contacts = load_contacts(connection, as_of, customer_range=customer_range)
    statement = (
        sa.select(
            execution_t.c.customer_id, execution_t.c.invoice_number, execution_t.c.step, execution_t.c.status
        )
        .where(*_in_range(execution_t.c.customer_id, customer_range))
        .order_by(execution_t.c.customer_id)
    )
    execution_rows = _ByCustomer(_stream(connection, statement))
    sent_rows = _ByCustomer(_stream(connection, _notices_sent(as_of, customer_range)))
    statuses = _EXECUTION_STATUSES
    for ledger in iter_ledgers(connection, as_of, customer_range=customer_range):
        customer_id = ledger.customer.id
        executions: dict[str, dict[str, ExecutionStatus]] = {}
        for _, invoice_number, step, status in execution_rows.take(customer_id):
            steps = executions.get(invoice_number)
            if steps is None:
                steps = executions[invoice_number] = {}
            steps[step] = statuses.get(status) or ExecutionStatus(status)
        sent: dict[str, dict[str, date | None]] = {}
        rows = sent_rows.take(customer_id)
        if rows:
            zone = _zone(ledger.customer.timezone)
            for _, invoice_number, step, first_sent_at, business_date in rows:
                # No business date: none of the step's notices has left, but one is still in flight.
                # The day it left, in the customer's timezone (later than its business date when the
                # service was down through the window). A send recorded after the plan date is a
                # cycle run for a past date: it left on its business date as far as that plan knows.
                on = business_date
                if first_sent_at is not None and business_date is not None:
                    local = first_sent_at.astimezone(zone).date()
                    if business_date < local <= as_of:
                        on = local
                sent.setdefault(invoice_number, {})[step] = on
        yield ledger, executions, contacts.get(customer_id, []), sent


# Outbox messages that left for the customer; undelivered (bounced) ones demanded nothing.
SENT_STATES = ("sent", "delivered")
# Outbox messages that may still reach `sent` (a transient failure is `planned` again, with backoff).
IN_FLIGHT_STATES = ("planned", "claimed", "sending")
# The channels a signed step's notice goes by (DESIGN §4: attached to the e-mail, queued as the letter).
NOTICE_CHANNELS = (Channel.EMAIL.value, Channel.LETTER.value)


def _notices_sent(as_of: date, customer_range: CustomerRange | None) -> sa.Select[Any]:
    """Per (customer, invoice, step): when its first e-mail or letter that went out was sent, and
    its business date, for the planner's rule 2 (a signed step's e-mail or letter is its signed
    demand); both NULL when none went out but one is still in flight (it may yet: the planner waits
    for it rather than hand the invoice to the collectors). One grouped query for the whole slice,
    in customer id order."""
    went_out = message_t.c.state.in_(SENT_STATES)
    return (
        sa.select(
            message_t.c.customer_id,
            message_invoice_t.c.invoice_number,
            message_t.c.step,
            sa.func.min(sa.case((went_out, message_t.c.sent_at))),
            sa.func.min(sa.case((went_out, message_t.c.business_date))),
        )
        .join(message_invoice_t, message_invoice_t.c.message_id == message_t.c.id)
        .where(
            message_t.c.state.in_(SENT_STATES + IN_FLIGHT_STATES),
            message_t.c.channel.in_(NOTICE_CHANNELS),
            message_t.c.business_date <= as_of,
            *_in_range(message_t.c.customer_id, customer_range),
        )
        .group_by(message_t.c.customer_id, message_invoice_t.c.invoice_number, message_t.c.step)
        .order_by(message_t.c.customer_id)
    )


_ZONES: dict[str, tzinfo] = {}


def _zone(name: str) -> tzinfo:
    zone = _ZONES.get(name)
    if zone is None:
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = UTC  # never stored (the import checks), but a plan must not fail on one customer
        _ZONES[name] = zone
    return zone


def load_contacts(
    connection: Connection, as_of: date, days: int = 7, *, customer_range: CustomerRange | None = None
) -> dict[str, list[ContactRecord]]:
    """customer id -> outbox messages of the last ``days`` business dates up to ``as_of`` (for caps)."""
    found: dict[str, list[ContactRecord]] = defaultdict(list)
    statement = sa.select(message_t.c.customer_id, message_t.c.channel, message_t.c.business_date).where(
        message_t.c.business_date > as_of - timedelta(days=days),
        message_t.c.business_date <= as_of,
        message_t.c.state.not_in(NOT_CONTACTED_STATES),
        *_in_range(message_t.c.customer_id, customer_range),
    )
    for row in connection.execute(statement):
        found[row.customer_id].append(ContactRecord(Channel(row.channel), row.business_date))
    return found


def money(value: Decimal | None) -> Decimal:
    """A nullable money column as a Decimal (None -> 0)."""
    return value if value is not None else Decimal(0)
