"""What a reply changes (DESIGN §11), inside the transaction that records it as handled.

- *opt-out*: the reply's channel is opted out at once (:func:`bot.outreach.collector.opt_out_in`);
- *promise*: a promise with its date (and amount, allocated to the oldest invoices first) on the
  invoices it answers (:func:`bot.outreach.collector.promise_in`);
- *dispute*: a dispute opened on them (:func:`bot.outreach.collector.dispute_in`);
- *paid*: they are paused ``[inbound] paid_claim_days`` and a task asks to check the remittance;
- *auto-reply*: nothing; *bounce*: the message undelivered, the address recorded when the failure is
  hard, a task to fix the contact (:func:`bot.outreach.contacts.record_undeliverable`);
- *other*: a task with the text.

A reply that cannot be acted on as classified (a promise without a date, or for a day already past;
no open invoice to dispute) raises :class:`~bot.errors.InputError`: handling then gives it to a
collector to confirm instead. :func:`ask_confirmation` raises that collector's task.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session

from bot.config import Settings
from bot.domain.ledger import Channel, InvoiceStatus
from bot.errors import InputError
from bot.evidence.log import EventKind, NewEvent
from bot.outreach.collector import dispute_in, opt_out_in, promise_in
from bot.outreach.contacts import record_undeliverable
from bot.outreach.recording import collector_of, raise_task
from bot.replies.matching import Match
from bot.replies.model import Classification, Reply, ReplyKind
from bot.store import tables

invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]
payment_t = tables.Payment.__table__  # type: ignore[attr-defined]

# Kinds of the tasks replies raise.
REPLY_TASK = "reply"  # confirm what a reply is, or read one dunbot could not act on
REMITTANCE_TASK = "remittance"  # check the remittance of a customer who says it paid
TEXT_LIMIT = 4000  # characters of a reply's text kept in a task and an event


@dataclass(frozen=True, slots=True)
class Understood:
    """A reply read, matched and classified: everything acting on it needs."""

    inbound: int  # the inbound_message row
    raw_sha256: str
    reply: Reply
    match: Match
    classification: Classification
    attachments: dict[str, str]  # file name -> SHA-256 in the artifact store
    today: date  # the customer's date (the company's when no customer matched)


@dataclass
class Acted:
    """What acting did: in words, its events, the tasks raised and the invoices touched."""

    action: str
    events: list[NewEvent] = field(default_factory=list)
    tasks: list[int] = field(default_factory=list)
    invoices: tuple[str, ...] = ()


def act(session: Session, settings: Settings, understood: Understood, *, actor: str, now: datetime) -> Acted:
    """Do what ``understood``'s classification asks, for its matched customer, in ``session``'s
    transaction; raises :class:`InputError` when it cannot be done as classified."""
    customer = understood.match.customer
    if customer is None:
        raise InputError("no customer matched: a collector must say whose reply it is")
    kind = understood.classification.kind
    if kind is ReplyKind.OPT_OUT:
        return _opt_out(session, understood, customer, actor)
    if kind is ReplyKind.PROMISE:
        return _promise(session, settings, understood, customer, actor, now)
    if kind is ReplyKind.DISPUTE:
        return _dispute(session, settings, understood, customer, actor, now)
    if kind is ReplyKind.PAID:
        return _paid(session, settings, understood, customer, actor, now)
    if kind is ReplyKind.AUTO_REPLY:
        return Acted("nothing: an automatic reply")
    if kind is ReplyKind.BOUNCE:
        return _bounce(session, understood, customer, actor, now)
    return _other(session, understood, customer, actor, now)


def _opt_out(session: Session, understood: Understood, customer: str, actor: str) -> Acted:
    channel = Channel(understood.reply.channel)
    reason = f"reply {understood.inbound} from {understood.reply.sender}: {_excerpt(understood.reply, 200)}"
    event = opt_out_in(session, customer, channel, reason, actor)
    if event is None:
        return Acted(f"nothing: already opted out of {channel.value}")
    return Acted(f"opted out of {channel.value}", [event])


def _promise(
    session: Session, settings: Settings, understood: Understood, customer: str, actor: str, now: datetime
) -> Acted:
    found = understood.classification
    if found.promise_date is None:
        raise InputError("a promise without a date: a collector must say when the customer will pay")
    invoices = _open_invoices(session, settings, customer, understood.match.invoices)
    if not invoices:
        raise InputError(f"{customer} has no open invoice this promise could be for")
    tolerance = settings.compliance.tolerance
    allocated = _allocate(invoices, found.promise_amount)
    acted = Acted(f"promise to pay by {found.promise_date}")
    for invoice, amount in allocated:
        _, events = promise_in(
            session, invoice, found.promise_date, amount, actor, now, understood.today, tolerance
        )
        acted.events.extend(events)
    acted.invoices = tuple(i.number for i, _ in allocated)
    if found.promise_amount is not None:
        acted.action += f" ({found.promise_amount})"
    acted.action += f" on {', '.join(acted.invoices)}"
    return acted


def _allocate(
    invoices: list[tuple[tables.Invoice, Decimal]], amount: Decimal | None
) -> list[tuple[tables.Invoice, Decimal | None]]:
    """A promised amount spread over the invoices, oldest due first; None (the whole) for each when the
    customer named no amount. An amount above what they owe together is an :class:`InputError`."""
    if amount is None:
        return [(invoice, None) for invoice, _ in invoices]
    owed = sum((outstanding for _, outstanding in invoices), Decimal(0))
    if amount > owed:
        raise InputError(f"the promised {amount} is more than the invoices owe ({owed})")
    allocated: list[tuple[tables.Invoice, Decimal | None]] = []
    left = amount
    for invoice, outstanding in invoices:
        if left <= 0:
            break
        share = min(left, outstanding)
        allocated.append((invoice, share))
        left -= share
    return allocated


def _dispute(
    session: Session, settings: Settings, understood: Understood, customer: str, actor: str, now: datetime
) -> Acted:
    invoices = _open_invoices(session, settings, customer, understood.match.invoices)
    if not invoices:
        raise InputError(f"{customer} has no open invoice to dispute")
    reason = f"reply {understood.inbound} from {understood.reply.sender}: {_excerpt(understood.reply, 500)}"
    acted = Acted("")
    for invoice, _ in invoices:
        _, events = dispute_in(session, invoice, True, reason, actor, now)
        acted.events.extend(events)
    acted.invoices = tuple(i.number for i, _ in invoices)
    acted.action = f"dispute opened on {', '.join(acted.invoices)}"
    return acted


def _paid(
    session: Session, settings: Settings, understood: Understood, customer: str, actor: str, now: datetime
) -> Acted:
    invoices = _open_invoices(session, settings, customer, understood.match.invoices)
    until = understood.today + timedelta(days=settings.inbound.paid_claim_days)
    reason = f"the customer says it paid (reply {understood.inbound}); checking the remittance"
    acted = Acted("")
    for invoice, _ in invoices:
        previous = invoice.paused_until
        if previous is not None and previous >= until:
            continue  # paused longer already: a paid claim never shortens a pause
        invoice.paused_until, invoice.pause_reason = until, reason
        session.add(invoice)
        acted.events.append(
            NewEvent(
                kind=EventKind.PAUSE,
                actor=actor,
                customer=customer,
                invoices=(invoice.number,),
                data={"scope": "invoice", "until": until, "reason": reason, "previous_until": previous},
            )
        )
    acted.invoices = tuple(i.number for i, _ in invoices)
    attached = "\n".join(f"- {name}: artifact {digest}" for name, digest in understood.attachments.items())
    body = (
        f"{understood.reply.sender} says it paid:\n\n{_excerpt(understood.reply, TEXT_LIMIT)}\n\n"
        + (f"Attached (kept as evidence):\n{attached}\n\n" if attached else "Nothing attached.\n\n")
        + f"The invoices are paused until {until}: record the payment, or finish this task with what "
        "you found."
    )
    task = _task(
        session,
        acted.events,
        understood,
        customer,
        kind=REMITTANCE_TASK,
        invoices=acted.invoices,
        title=f"Check the remittance: {customer} says it paid {', '.join(acted.invoices) or 'its invoices'}",
        body=body,
        actor=actor,
        now=now,
    )
    acted.tasks = [task] if task is not None else []
    paused = f"{', '.join(acted.invoices)} paused until {until}" if acted.invoices else "no open invoice"
    acted.action = f"{paused}; a task to check the remittance"
    return acted


def _bounce(session: Session, understood: Understood, customer: str, actor: str, now: datetime) -> Acted:
    connection = session.connection()
    reports = [r for r in understood.reply.delivery_reports if r.action == "failed"]
    if not reports:
        return Acted("nothing: a delay report, the mail is still being tried")
    acted = Acted("")
    hard = False
    for report in reports:
        reason = f"{report.status} {report.diagnostic}".strip()
        recorded = record_undeliverable(
            connection,
            channel=Channel.EMAIL.value,
            address=report.recipient,
            customer_id=customer,
            message_id=understood.match.message,
            reason=f"bounced: {reason}",
            hard=report.hard,
            now=now,
            actor=actor,
            evidence={"report_sha256": understood.raw_sha256},
        )
        acted.events.extend(recorded)
        hard = hard or report.hard
        acted.tasks.extend(
            int(event.data["task"]) for event in recorded if event.kind == EventKind.TASK_CREATED
        )
    acted.invoices = understood.match.invoices
    message = f"message {understood.match.message}" if understood.match.message else "the message"
    acted.action = f"{message} undelivered" + (
        "; the address will not be used again; a task to fix the contact"
        if hard
        else "; a task to check the contact"
    )
    return acted


def _other(session: Session, understood: Understood, customer: str, actor: str, now: datetime) -> Acted:
    subject = understood.reply.subject or _excerpt(understood.reply, 60)
    acted = Acted("a task to read it")
    task = _task(
        session,
        acted.events,
        understood,
        customer,
        kind=REPLY_TASK,
        invoices=understood.match.invoices,
        title=f"Read the reply from {understood.reply.sender}: {subject}",
        body=_excerpt(understood.reply, TEXT_LIMIT),
        actor=actor,
        now=now,
    )
    acted.tasks = [task] if task is not None else []
    acted.invoices = understood.match.invoices
    return acted


def ask_confirmation(
    session: Session, understood: Understood, why: str, *, actor: str, now: datetime
) -> list[NewEvent]:
    """The task that asks a collector to confirm what the reply is (or whose it is): one for the
    matched customer, or one for each customer sharing the sender's address; none when nobody
    matched (the reply waits in the list of replies to confirm)."""
    events: list[NewEvent] = []
    customers = (understood.match.customer,) if understood.match.customer else understood.match.candidates
    found = understood.classification
    shared = (
        f"\nThe address is shared by {', '.join(understood.match.candidates)}: say whose reply it is."
        if understood.match.ambiguous
        else ""
    )
    body = (
        f"{why}.{shared}\nClassified as {found.kind.value} (confidence {found.confidence}); nothing was "
        f"done. Confirm what it is, or dismiss it (reply {understood.inbound}).\n\n"
        f"{_excerpt(understood.reply, TEXT_LIMIT)}"
    )
    for customer in customers:
        _task(
            session,
            events,
            understood,
            customer,
            kind=REPLY_TASK,
            invoices=understood.match.invoices if customer == understood.match.customer else (),
            title=f"Confirm the reply from {understood.reply.sender}: {found.kind.value}?",
            body=body,
            actor=actor,
            now=now,
            purpose="confirm",
        )
    return events


def _task(
    session: Session,
    events: list[NewEvent],
    understood: Understood,
    customer: str,
    *,
    kind: str,
    invoices: Sequence[str],
    title: str,
    body: str,
    actor: str,
    now: datetime,
    purpose: str = "act",
) -> int | None:
    connection = session.connection()
    return raise_task(
        connection,
        events,
        kind=kind,
        customer=customer,
        invoices=invoices,
        step=None,
        assignee=collector_of(connection, customer),
        title=title,
        body=body,
        dedupe_key=(
            f"{confirmation_prefix(understood.inbound)}{customer}"
            if purpose == "confirm"
            else f"reply:{understood.inbound}:{kind}:{customer}"
        ),
        actor=actor,
        now=now,
        event_data={"inbound": understood.inbound, "raw_sha256": understood.raw_sha256},
    )


def confirmation_prefix(inbound: int) -> str:
    """The dedupe keys of the confirmation tasks of reply ``inbound`` start with this."""
    return f"reply-confirm:{inbound}:"


def _open_invoices(
    session: Session, settings: Settings, customer: str, numbers: Sequence[str]
) -> list[tuple[tables.Invoice, Decimal]]:
    """The invoices a reply is about, still owed and not disputed, oldest due first, with what each
    owes: those of the message it answers, or every such invoice of the customer."""
    query = sa.select(tables.Invoice).where(
        tables.Invoice.customer_id == customer,  # type: ignore[arg-type]
        tables.Invoice.status == InvoiceStatus.OPEN.value,  # type: ignore[arg-type]
    )
    if numbers:
        query = query.where(tables.Invoice.number.in_(list(numbers)))  # type: ignore[attr-defined]
    invoices = list(session.execute(query).scalars())
    if not invoices:
        return []
    paid: dict[str, Decimal] = {}
    rows = session.connection().execute(
        sa.select(payment_t.c.invoice_number, payment_t.c.amount).where(
            payment_t.c.invoice_number.in_([i.number for i in invoices])
        )
    )
    for row in rows:  # summed here: SQLite keeps money as text, and its SUM goes through a float
        paid[row.invoice_number] = paid.get(row.invoice_number, Decimal(0)) + row.amount
    tolerance = settings.compliance.tolerance
    owed = [(i, i.amount - paid.get(i.number, Decimal(0))) for i in invoices]
    return sorted(
        ((i, o) for i, o in owed if o > tolerance), key=lambda pair: (pair[0].due_date, pair[0].number)
    )


def _excerpt(reply: Reply, limit: int) -> str:
    text = (reply.text or reply.full_text or reply.subject).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def details_of(understood: Understood, why: str | None) -> str:
    """The ``inbound_message.details`` JSON: what confirming the reply later needs."""
    found = understood.classification
    return json.dumps(
        {
            "promise_date": found.promise_date.isoformat() if found.promise_date else None,
            "promise_amount": str(found.promise_amount) if found.promise_amount is not None else None,
            "acknowledges_debt": found.acknowledges_debt,
            "remittance": found.remittance,
            "language": found.language,
            "reasons": list(found.reasons),
            "invoices": list(understood.match.invoices),
            "candidates": list(understood.match.candidates),
            "attachments": understood.attachments,
            "why_confirm": why,
        },
        ensure_ascii=False,
        sort_keys=True,
    )
