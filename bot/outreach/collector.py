"""What collectors record: disputes, promises to pay, calls, pauses and opt-outs. Each is one transaction,
and every fact it changes is an evidence event whose actor is the collector.

A promise or an opened dispute takes its invoice off the ladder, so the open call tasks about it
have nothing left to ask: a task whose every invoice is now promised or disputed is closed, a task
that still covers other invoices keeps them and drops this one. Either way an event says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.domain.ledger import AUTOMATED_CHANNELS, Channel, InvoiceStatus
from bot.domain.money import format_amount, minor_units
from bot.errors import InputError
from bot.evidence.log import EventKind, NewEvent, append_event, append_events
from bot.outreach.tasks import CALL_OUTCOMES, PROMISED, close_task
from bot.store import tables
from bot.store.engine import require_schema
from bot.store.tables import Customer, Invoice, Payment

payment_t = Payment.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]

# The kind of task the ladder's call steps (care_call, collection_call) raise.
CALL_TASK = "call"


@dataclass(frozen=True, slots=True)
class CallTaskChange:
    """What a promise or a dispute did to one open call task."""

    task: int
    step: str | None
    closed: bool  # True: done; False: still open for ``remaining``
    remaining: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PauseResult:
    """A recorded pause: of an invoice or of a whole customer."""

    scope: str  # "invoice" or "customer"
    target: str  # the invoice number or the customer id
    customer: str
    until: date
    previous_until: date | None


def _invoice(session: Session, number: str) -> Invoice:
    invoice = session.get(Invoice, number)
    if invoice is None:
        raise InputError(
            f"no invoice {number!r}: check the number "
            "(`dunbot log --customer ID` names a customer's invoices)"
        )
    return invoice


def _customer(session: Session, customer_id: str, *, lock: bool = False) -> Customer:
    customer = session.get(Customer, customer_id, with_for_update=lock)
    if customer is None:
        raise InputError(f"no customer {customer_id!r}: check the id (customers.csv `id` column)")
    return customer


def _require_reason(reason: str) -> None:
    if not reason.strip():
        raise InputError("--reason is required: say why, it goes into the evidence log")


def _outstanding(session: Session, invoice: Invoice) -> Decimal:
    # Summed here, not by SQL: SQLite keeps money as text, and its SUM would go through a float.
    query = sa.select(payment_t.c.amount).where(payment_t.c.invoice_number == invoice.number)
    paid = sum(session.execute(query).scalars(), Decimal(0))
    return max(Decimal(0), invoice.amount - paid)


def _check_promise(
    session: Session,
    invoice: Invoice,
    promised_on: date,
    amount: Decimal | None,
    made_on: date,
    tolerance: Decimal,
) -> None:
    """A promise is for a day not yet past, on an invoice still owed, of at most what is owed."""
    number, currency = invoice.number, invoice.currency
    if invoice.status == InvoiceStatus.WRITTEN_OFF:
        raise InputError(f"invoice {number} is written off; there is nothing to promise")
    outstanding = _outstanding(session, invoice)
    owed = f"{format_amount(outstanding, currency)} {currency}"
    if outstanding <= tolerance:
        raise InputError(f"invoice {number} is paid (outstanding {owed}); there is nothing to promise")
    if promised_on < made_on:
        raise InputError(
            f"--date {promised_on} is in the past (today is {made_on}); a promise is for today or later"
        )
    if amount is None:
        return
    if amount <= 0:
        raise InputError("--amount must be positive")
    places = minor_units(currency)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise InputError(f"--amount {amount} has more decimals than {currency} allows ({places})")
    if amount > outstanding:
        raise InputError(
            f"--amount {format_amount(amount, currency)} is more than invoice {number} still owes ({owed})"
        )


def record_promise(
    engine: Engine,
    number: str,
    promised_on: date,
    amount: Decimal | None,
    actor: str,
    now: datetime,
    *,
    made_on: date,
    tolerance: Decimal,
) -> list[CallTaskChange]:
    """Record a promise to pay: no dunning for the invoice until ``promised_on`` passes.

    The open call tasks about the invoice are closed (or, covering other invoices too, updated).
    ``made_on`` is the day the customer promised, in the company's timezone (today, at the command
    line): a promise for an earlier day, above the outstanding amount, or on an invoice paid (to
    within ``tolerance``) or written off is an :class:`InputError`, and nothing is written.
    """
    require_schema(engine)
    with Session(engine) as session:
        invoice = _invoice(session, number)
        changes, events = promise_in(session, invoice, promised_on, amount, actor, now, made_on, tolerance)
        append_events(session, now, events)
        session.commit()
    return changes


def promise_in(
    session: Session,
    invoice: Invoice,
    promised_on: date,
    amount: Decimal | None,
    actor: str,
    now: datetime,
    made_on: date,
    tolerance: Decimal,
) -> tuple[list[CallTaskChange], list[NewEvent]]:
    """:func:`record_promise` inside the caller's transaction: the invoice changed, the events to append."""
    number = invoice.number
    _check_promise(session, invoice, promised_on, amount, made_on, tolerance)
    invoice.promise_date = promised_on
    invoice.promise_amount = amount
    session.add(invoice)
    promised = NewEvent(
        kind=EventKind.PROMISE,
        actor=actor,
        customer=invoice.customer_id,
        invoices=(number,),
        data={"promised_on": promised_on, "amount": amount},
    )
    amount_text = f" ({amount})" if amount is not None else ""
    note = f"{number}: payment promised for {promised_on}{amount_text}, recorded by {actor}"
    changes, task_events = _settle_call_tasks(
        session, invoice.customer_id, number, "promised", note, actor, now
    )
    return changes, [promised, *task_events]


@dataclass(frozen=True, slots=True)
class PromiseTerms:
    """What a customer promised on a call: which invoice, by when, how much (None: what it owes)."""

    invoice: str
    on: date
    amount: Decimal | None


def log_call(
    engine: Engine,
    task_id: int,
    outcome: str,
    note: str,
    actor: str,
    now: datetime,
    *,
    promise: PromiseTerms | None = None,
    made_on: date,
    tolerance: Decimal,
) -> list[CallTaskChange]:
    """Finish a call task with what the call came to (:data:`bot.outreach.tasks.CALL_OUTCOMES`).

    A call that ended in a promise (outcome ``promised``) records the promise in the same
    transaction, checked as :func:`record_promise` checks it; the other open call tasks about that
    invoice are settled as a promise settles them. On any :class:`InputError` nothing is written.
    Returns the call tasks changed, this one first.
    """
    require_schema(engine)
    if outcome not in CALL_OUTCOMES:
        raise InputError(f"--outcome must be one of {', '.join(CALL_OUTCOMES)} for a call")
    if outcome == PROMISED and promise is None:
        raise InputError("--outcome promised needs the promise: give --promise-date DATE (and --amount)")
    if outcome != PROMISED and promise is not None:
        raise InputError(f"a promise goes with the outcome {PROMISED}, not {outcome}")
    with Session(engine) as session:
        task, events = close_task(session.connection(), task_id, note, actor, now, outcome=outcome)
        changes = [CallTaskChange(task.id, task.step, True, ())]
        if promise is not None:
            invoice = _invoice(session, promise.invoice)
            if invoice.customer_id != task.customer:
                raise InputError(f"invoice {promise.invoice} is not {task.customer}'s, whose call this was")
            settled, promised = promise_in(
                session, invoice, promise.on, promise.amount, actor, now, made_on, tolerance
            )
            changes.extend(settled)
            events = [promised[0], *events, *promised[1:]]
        append_events(session, now, events)
        session.commit()
    return changes


def set_dispute(
    engine: Engine, number: str, open_: bool, reason: str, actor: str, now: datetime
) -> list[CallTaskChange]:
    """Open or close a dispute: a disputed invoice is not dunned.

    Opening one closes (or updates) the open call tasks about the invoice.
    """
    require_schema(engine)
    _require_reason(reason)
    with Session(engine) as session:
        changes, events = dispute_in(session, _invoice(session, number), open_, reason, actor, now)
        append_events(session, now, events)
        session.commit()
    return changes


def dispute_in(
    session: Session, invoice: Invoice, open_: bool, reason: str, actor: str, now: datetime
) -> tuple[list[CallTaskChange], list[NewEvent]]:
    """:func:`set_dispute` inside the caller's transaction: the invoice changed, the events to append."""
    number = invoice.number
    if invoice.status == "written_off":
        raise InputError(f"invoice {number} is written off; there is nothing to dispute")
    wanted = "disputed" if open_ else "open"
    if invoice.status == wanted:
        state = "already disputed" if open_ else "not disputed"
        raise InputError(f"invoice {number} is {state}")
    invoice.status = wanted
    session.add(invoice)
    events = [
        NewEvent(
            kind=EventKind.DISPUTE,
            actor=actor,
            customer=invoice.customer_id,
            invoices=(number,),
            data={"action": "open" if open_ else "close", "reason": reason},
        )
    ]
    changes: list[CallTaskChange] = []
    if open_:
        note = f"{number}: disputed ({reason}), recorded by {actor}"
        changes, task_events = _settle_call_tasks(
            session, invoice.customer_id, number, "disputed", note, actor, now
        )
        events.extend(task_events)
    return changes, events


def _settle_call_tasks(
    session: Session, customer: str, number: str, outcome: str, note: str, actor: str, now: datetime
) -> tuple[list[CallTaskChange], list[NewEvent]]:
    """Close the open call tasks that are only about ``number``; drop it from those about more."""
    connection = session.connection()
    rows = connection.execute(
        sa.select(task_t)
        .where(task_t.c.customer_id == customer, task_t.c.kind == CALL_TASK, task_t.c.status == "open")
        .order_by(task_t.c.id)
    ).all()
    changes: list[CallTaskChange] = []
    events: list[NewEvent] = []
    for row in rows:
        invoices = tuple(json.loads(str(row.invoices)))
        if number not in invoices:
            continue
        remaining = tuple(n for n in invoices if n != number)
        facts = {"task": row.id, "kind": row.kind, "step": row.step, "title": row.title, "note": note}
        if remaining:
            connection.execute(
                sa.update(task_t)
                .where(task_t.c.id == row.id, task_t.c.status == "open")
                .values(invoices=json.dumps(list(remaining)), body=f"{row.body}\n\n{note}".strip())
            )
            events.append(
                NewEvent(
                    kind=EventKind.TASK_UPDATED,
                    actor=actor,
                    customer=customer,
                    invoices=invoices,
                    data={**facts, "dropped": [number], "remaining": list(remaining)},
                )
            )
        else:
            connection.execute(
                sa.update(task_t)
                .where(task_t.c.id == row.id, task_t.c.status == "open")
                .values(status="done", outcome=outcome, note=note, done_at=now)
            )
            events.append(
                NewEvent(
                    kind=EventKind.TASK_DONE,
                    actor=actor,
                    customer=customer,
                    invoices=invoices,
                    data={**facts, "outcome": outcome, "tracking": None},
                    dedupe_key=f"task_done:{row.id}",
                )
            )
        changes.append(CallTaskChange(row.id, row.step, not remaining, remaining))
    return changes, events


def pause(
    engine: Engine,
    *,
    invoice: str | None,
    customer: str | None,
    until: date,
    reason: str,
    actor: str,
    now: datetime,
    today: date,
) -> PauseResult:
    """Pause one invoice, or every invoice of a customer, until ``until`` (inclusive).

    ``today`` is the company's date: a pause that ended before it would pause nothing.
    """
    require_schema(engine)
    if (invoice is None) == (customer is None):
        raise InputError("name exactly one: an INVOICE, or --customer ID")
    _require_reason(reason)
    if until < today:
        raise InputError(f"--until {until} is in the past (today is {today}): pause until today or later")
    with Session(engine) as session:
        target: Invoice | Customer
        numbers: tuple[str, ...]
        if invoice is not None:
            target = _invoice(session, invoice)
            scope, key, owner, numbers = "invoice", invoice, target.customer_id, (invoice,)
        else:
            assert customer is not None
            target = _customer(session, customer)
            scope, key, owner, numbers = "customer", customer, customer, ()
        previous = target.paused_until
        target.paused_until = until
        target.pause_reason = reason
        session.add(target)
        append_event(
            session,
            now,
            NewEvent(
                kind=EventKind.PAUSE,
                actor=actor,
                customer=owner,
                invoices=numbers,
                data={"scope": scope, "until": until, "reason": reason, "previous_until": previous},
            ),
        )
        session.commit()
    return PauseResult(scope, key, owner, until, previous)


def opt_out(
    engine: Engine, customer_id: str, channel: Channel, reason: str, actor: str, now: datetime
) -> bool:
    """Opt ``customer_id`` out of ``channel``; False (and nothing written) when it already was."""
    require_schema(engine)
    if channel not in AUTOMATED_CHANNELS:
        names = "|".join(sorted(c.value for c in AUTOMATED_CHANNELS))
        raise InputError(f"--channel must be one of {names}; tasks are not sent to customers")
    _require_reason(reason)
    with Session(engine) as session:
        event = opt_out_in(session, customer_id, channel, reason, actor)
        if event is None:
            return False
        append_event(session, now, event)
        session.commit()
    return True


def opt_out_in(
    session: Session, customer_id: str, channel: Channel, reason: str, actor: str
) -> NewEvent | None:
    """:func:`opt_out` inside the caller's transaction: the event to append, None when the customer
    already was opted out of ``channel`` (nothing changed)."""
    # Locked on PostgreSQL: two opt-outs at once (a mail provider retrying its one-click POST)
    # must not both find the channel open and log it twice.
    customer = _customer(session, customer_id, lock=True)
    channels = {c for c in customer.opted_out.split(",") if c}
    if channel.value in channels:
        return None
    customer.opted_out = ",".join(sorted(channels | {channel.value}))
    session.add(customer)
    recipient = {
        Channel.EMAIL: customer.email,
        Channel.SMS: customer.phone,
        Channel.VOICE: customer.phone,
        Channel.LETTER: customer.address,
    }[channel]
    return NewEvent(
        kind=EventKind.OPT_OUT,
        actor=actor,
        customer=customer_id,
        data={"channel": channel.value, "recipient": recipient, "reason": reason},
    )
