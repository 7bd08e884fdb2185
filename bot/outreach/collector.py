"""What collectors record: disputes and promises to pay. Each is one transaction and one event."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.domain.ledger import InvoiceStatus
from bot.domain.money import format_amount, minor_units
from bot.errors import InputError
from bot.evidence.log import EventKind, NewEvent, append_event
from bot.store.engine import require_schema
from bot.store.tables import Invoice, Payment

payment_t = Payment.__table__  # type: ignore[attr-defined]


def _invoice(session: Session, number: str) -> Invoice:
    invoice = session.get(Invoice, number)
    if invoice is None:
        raise InputError(
            f"no invoice {number!r}: check the number "
            "(`dunbot log --customer ID` names a customer's invoices)"
        )
    return invoice


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
) -> None:
    """Record a promise to pay: no dunning for the invoice until ``promised_on`` passes.

    ``made_on`` is the day the customer promised, in the company's timezone (today, at the command
    line): a promise for an earlier day, above the outstanding amount, or on an invoice paid (to
    within ``tolerance``) or written off is an :class:`InputError`, and nothing is written.
    """
    require_schema(engine)
    with Session(engine) as session:
        invoice = _invoice(session, number)
        _check_promise(session, invoice, promised_on, amount, made_on, tolerance)
        invoice.promise_date = promised_on
        invoice.promise_amount = amount
        session.add(invoice)
        append_event(
            session,
            now,
            NewEvent(
                kind=EventKind.PROMISE,
                actor=actor,
                customer=invoice.customer_id,
                invoices=(number,),
                data={"promised_on": promised_on, "amount": amount},
            ),
        )
        session.commit()


def set_dispute(engine: Engine, number: str, open_: bool, reason: str, actor: str, now: datetime) -> None:
    """Open or close a dispute: a disputed invoice is not dunned."""
    require_schema(engine)
    if not reason.strip():
        raise InputError("--reason is required: say why, it goes into the evidence log")
    with Session(engine) as session:
        invoice = _invoice(session, number)
        if invoice.status == "written_off":
            raise InputError(f"invoice {number} is written off; there is nothing to dispute")
        wanted = "disputed" if open_ else "open"
        if invoice.status == wanted:
            state = "already disputed" if open_ else "not disputed"
            raise InputError(f"invoice {number} is {state}")
        invoice.status = wanted
        session.add(invoice)
        append_event(
            session,
            now,
            NewEvent(
                kind=EventKind.DISPUTE,
                actor=actor,
                customer=invoice.customer_id,
                invoices=(number,),
                data={"action": "open" if open_ else "close", "reason": reason},
            ),
        )
        session.commit()
