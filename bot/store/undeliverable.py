"""Contacts that bounced hard or that the carrier refused (``undeliverable_contact``), as the outbox
and "why it waits" ask about them: a message whose customer's CURRENT address or number on its
channel is in the table is not claimed; it waits until an import changes the contact. Written by
:func:`bot.outreach.contacts.record_undeliverable`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from bot.store import tables

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
message_t = tables.Message.__table__  # type: ignore[attr-defined]
undeliverable_t = tables.UndeliverableContact.__table__  # type: ignore[attr-defined]

# Channels whose contact can be blocked, and the customer column that holds it. A landline that
# refuses SMS (Twilio 30006) may still take a call: voice is not blocked by an SMS failure.
CONTACT_COLUMN = {"email": "email", "sms": "phone"}


def normalise_address(channel: str, address: str) -> str:
    """The form ``undeliverable_contact`` keys on: a lower-cased e-mail address, an E.164 number."""
    address = address.strip()
    return address.lower() if channel == "email" else address.replace(" ", "")


def blocked_contact(channel: str) -> ColumnElement[bool] | None:
    """A condition on ``message`` rows: the customer's current contact on ``channel`` is blocked.

    None for a channel that is never blocked. Used in the outbox's claim (such messages stay
    ``planned``, unclaimed) and wherever "why it waits" is told.
    """
    column = CONTACT_COLUMN.get(channel)
    if column is None:
        return None
    current = customer_t.c[column]
    address = sa.func.lower(current) if channel == "email" else current
    return sa.exists().where(
        customer_t.c.id == message_t.c.customer_id,
        undeliverable_t.c.channel == channel,
        undeliverable_t.c.address == address,
    )


def any_blocked_contact() -> ColumnElement[bool]:
    """A condition on ``message`` rows: the message's channel is one whose current contact is blocked."""
    return sa.or_(
        *(
            sa.and_(message_t.c.channel == channel, condition)
            for channel in CONTACT_COLUMN
            if (condition := blocked_contact(channel)) is not None
        )
    )


def undeliverable_reason(connection: Connection, channel: str, customer: Any) -> str | None:
    """Why a message on ``channel`` to ``customer`` (a ``customer`` row or domain value) cannot go:
    its current address is in ``undeliverable_contact``. None when it can."""
    column = CONTACT_COLUMN.get(channel)
    current = getattr(customer, column, None) if column else None
    if not current:
        return None
    address = normalise_address(channel, current)
    found = connection.execute(
        sa.select(undeliverable_t.c.reason, undeliverable_t.c.at).where(
            undeliverable_t.c.channel == channel, undeliverable_t.c.address == address
        )
    ).first()
    if found is None:
        return None
    return (
        f"{address} is undeliverable since {found.at:%Y-%m-%d} ({found.reason}); it waits until the "
        f"customer's {'e-mail address' if channel == 'email' else 'phone number'} is changed"
    )
