"""What planning reads besides the ledger, per customer: recorded step executions, recent
contacts (for the caps) and the signed notices sent (for rule 2), merged with the ledger in
``iter_planning_inputs``, one customer at a time.

The ledger itself is read in ``bot.store.ledger_snapshots``, rows fast in ``bot.store.driver_rows``;
the names other code imports from here are re-exported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.domain.decisions import ContactRecord, ExecutionStatus
from bot.domain.ledger import Channel, CustomerLedger
from bot.store import tables
from bot.store.driver_rows import ByCustomer, driver_rows, stream_rows
from bot.store.ledger_snapshots import (
    CustomerRange,
    contract_t,
    customer_snapshot,
    customer_t,
    in_range,
    invoice_t,
    iter_ledgers,
    load_contracts,
    payment_t,
)

__all__ = [
    "IN_FLIGHT_STATES",
    "NOTICE_CHANNELS",
    "NOT_CONTACTED_STATES",
    "SENT_STATES",
    "CustomerRange",
    "contract_t",
    "customer_snapshot",
    "customer_t",
    "driver_rows",
    "execution_t",
    "invoice_t",
    "iter_ledgers",
    "iter_planning_inputs",
    "load_contacts",
    "load_contracts",
    "message_invoice_t",
    "message_t",
    "money",
    "payment_t",
]

# Outbox states that never reached the customer do not count against the caps.
NOT_CONTACTED_STATES = ("cancelled", "failed")

execution_t = tables.StepExecution.__table__  # type: ignore[attr-defined]
message_t = tables.Message.__table__  # type: ignore[attr-defined]
message_invoice_t = tables.MessageInvoice.__table__  # type: ignore[attr-defined]

_EXECUTION_STATUSES: dict[str, ExecutionStatus] = {status.value: status for status in ExecutionStatus}


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
        .where(*in_range(execution_t.c.customer_id, customer_range))
        .order_by(execution_t.c.customer_id)
    )
    execution_rows = ByCustomer(stream_rows(connection, statement))
    sent_rows = ByCustomer(stream_rows(connection, _notices_sent(as_of, customer_range)))
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
            *in_range(message_t.c.customer_id, customer_range),
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
        *in_range(message_t.c.customer_id, customer_range),
    )
    for row in connection.execute(statement):
        found[row.customer_id].append(ContactRecord(Channel(row.channel), row.business_date))
    return found


def money(value: Decimal | None) -> Decimal:
    """A nullable money column as a Decimal (None -> 0)."""
    return value if value is not None else Decimal(0)
