"""What collectors record: disputes and promises to pay. Each is one transaction and one event."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.errors import InputError
from bot.evidence.log import EventKind, NewEvent, append_event
from bot.store.engine import require_schema
from bot.store.tables import Invoice


def _invoice(session: Session, number: str) -> Invoice:
    invoice = session.get(Invoice, number)
    if invoice is None:
        raise InputError(
            f"no invoice {number!r}: check the number "
            "(`dunbot log --customer ID` names a customer's invoices)"
        )
    return invoice


def record_promise(
    engine: Engine, number: str, promised_on: date, amount: Decimal | None, actor: str, now: datetime
) -> None:
    """Record a promise to pay: no dunning for the invoice until ``promised_on`` passes."""
    require_schema(engine)
    if amount is not None and amount <= 0:
        raise InputError("--amount must be positive")
    with Session(engine) as session:
        invoice = _invoice(session, number)
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
