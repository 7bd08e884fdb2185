"""A collector's note on a customer (and maybe some of its invoices): what was learnt, said or
agreed that no other record holds. A note changes nothing in the ledger; it is one evidence event
whose actor is the collector, so it stands in the customer's timeline and evidence pack."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.errors import InputError
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.store import tables
from bot.store.engine import require_schema

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]

# Long enough for a call's full account; a note is read on a page and printed in a pack.
NOTE_LIMIT = 4000


def add_note(
    engine: Engine,
    customer_id: str,
    text: str,
    *,
    invoices: Sequence[str] = (),
    actor: str,
    now: datetime,
) -> int:
    """Record ``text`` as a note on ``customer_id`` (about ``invoices``, which must be its own);
    returns the evidence event's seq. A blank or overlong note, an unknown customer or another
    customer's invoice is an :class:`InputError`, and nothing is written."""
    require_schema(engine)
    text = text.strip()
    if not text:
        raise InputError("--text is required: say what the note records")
    if len(text) > NOTE_LIMIT:
        raise InputError(f"--text is {len(text)} characters long; a note holds at most {NOTE_LIMIT}")
    numbers = tuple(dict.fromkeys(n.strip() for n in invoices if n.strip()))
    with Session(engine) as session:
        connection = session.connection()
        if (
            connection.execute(sa.select(customer_t.c.id).where(customer_t.c.id == customer_id)).first()
            is None
        ):
            raise InputError(f"no customer {customer_id!r}: check the id (customers.csv `id` column)")
        if numbers:
            rows = connection.execute(
                sa.select(invoice_t.c.number, invoice_t.c.customer_id).where(invoice_t.c.number.in_(numbers))
            )
            owners = {row.number: row.customer_id for row in rows}
            for number in numbers:
                if owners.get(number) != customer_id:
                    raise InputError(f"no invoice {number!r} of customer {customer_id}: check the number")
        (written,) = append_events(
            session,
            now,
            [
                NewEvent(
                    kind=EventKind.NOTE,
                    actor=actor,
                    customer=customer_id,
                    invoices=numbers,
                    data={"text": text},
                )
            ],
        )
        session.commit()
    return written.seq
