"""Contacts that cannot be reached: a bounced e-mail address, an SMS number the carrier refused.

:func:`record_undeliverable` is called by whoever learns of it (the reply handling for an RFC 3464
DSN, the Twilio status callback for an SMS the carrier reported undeliverable): the message becomes
``undelivered``, a *hard* failure puts the address in ``undeliverable_contact``, and a task asks a
collector to fix the contact (one per address, however often it bounces).

While a customer's CURRENT address or number is in ``undeliverable_contact``, no message on that
channel is claimed for them (:mod:`bot.store.undeliverable`, asked by the outbox's claim and
re-check and by ``dunbot message show``): it waits, planned, and goes out once an import changes
the contact. The row is never removed: changing the contact back to the bad address blocks it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.evidence.log import EventKind, NewEvent
from bot.outreach.outbox_values import MessageState, message_t
from bot.outreach.recording import invoices_of, raise_task
from bot.store import tables
from bot.store.undeliverable import CONTACT_COLUMN, normalise_address, undeliverable_t

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]

# Twilio carrier errors in a status callback that say the number itself is bad (its docs, 2026):
# 30005 unknown destination handset (the number does not exist), 30006 landline or a carrier that
# cannot take SMS. 30003 (handset switched off or out of reach) is usually temporary: the message is
# undelivered and a collector checks the number, but the number is not blocked.
HARD_SMS_ERRORS = frozenset({"30005", "30006"})
SOFT_SMS_ERRORS = frozenset({"30003"})

_STATES_THAT_FAIL = (MessageState.SENT, MessageState.SENDING, MessageState.UNKNOWN)


def record_undeliverable(
    connection: Connection,
    *,
    channel: str,
    address: str,
    customer_id: str,
    message_id: int | None,
    reason: str,
    hard: bool,
    now: datetime,
    actor: str = "dunbot",
    evidence: Mapping[str, Any] | None = None,
) -> list[NewEvent]:
    """Record that ``address`` on ``channel`` did not take message ``message_id``; returns the events.

    ``evidence`` goes into the ``message_undeliverable`` event's data: name the raw report there as
    ``report_sha256`` (a DSN) or ``callback_sha256`` (a provider's callback) so a pack carries it.

    The message (when known and still ``sent``/``sending``/``unknown``) becomes ``undelivered``; a hard
    failure adds the address to ``undeliverable_contact`` (the first report is kept); one task per
    address asks the customer's collector to fix the contact. The events (``message_undeliverable``,
    and ``task_created`` when the task is new) are for the caller to append in its transaction.
    """
    if channel not in CONTACT_COLUMN:
        raise ValueError(f"no contact to block on channel {channel!r}: only e-mail and SMS")
    address = normalise_address(channel, address)
    events: list[NewEvent] = []
    invoices: tuple[str, ...] = ()
    state: str | None = None
    if message_id is not None:
        connection.execute(
            sa.update(message_t)
            .where(message_t.c.id == message_id, message_t.c.state.in_(_STATES_THAT_FAIL))
            .values(state=MessageState.UNDELIVERED, last_error=reason[:1000], updated_at=now)
        )
        state = connection.execute(sa.select(message_t.c.state).where(message_t.c.id == message_id)).scalar()
        invoices = invoices_of(connection, message_id)
    if hard:
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        connection.execute(
            insert(undeliverable_t)
            .values(
                channel=channel,
                address=address,
                customer_id=customer_id,
                message_id=message_id,
                reason=reason,
                at=now,
            )
            .on_conflict_do_nothing()
        )
    events.append(
        NewEvent(
            kind=EventKind.MESSAGE_UNDELIVERABLE,
            actor=actor,
            customer=customer_id,
            invoices=invoices,
            data={
                "message": message_id,
                "channel": channel,
                "recipient": address,
                "hard": hard,
                "state": state,
                "reason": reason,
                **(evidence or {}),
            },
            dedupe_key=f"message_undeliverable:{channel}:{address}:{message_id}",
        )
    )
    contact_task(
        connection,
        events,
        channel=channel,
        address=address,
        customer_id=customer_id,
        message_id=message_id,
        reason=reason,
        hard=hard,
        now=now,
    )
    return events


def contact_task(
    connection: Connection,
    events: list[NewEvent],
    *,
    channel: str,
    address: str,
    customer_id: str,
    message_id: int | None,
    reason: str,
    hard: bool,
    now: datetime,
) -> int | None:
    """The task that asks the customer's collector to fix ``address``: one per address (deduped),
    so a second bounce, or a message found waiting for the address, adds nothing."""
    invoices = invoices_of(connection, message_id) if message_id is not None else ()
    step = None
    if message_id is not None:
        step = connection.execute(sa.select(message_t.c.step).where(message_t.c.id == message_id)).scalar()
    label = "e-mail address" if channel == "email" else "mobile number"
    what = "bounced hard" if hard else "was not delivered"
    advice = (
        f"No further {channel} goes to {address} until the customer's {label} is changed "
        "(import the corrected customer); the waiting messages then go out."
        if hard
        else f"It is not blocked: check the {label} and correct it by import if it is wrong."
    )
    return raise_task(
        connection,
        events,
        kind="review",
        customer=customer_id,
        invoices=invoices,
        step=step,
        assignee=_collector_of(connection, customer_id),
        title=f"Fix the {label} of customer {customer_id}: {address} {what}",
        body=f"{reason}\n{advice}",
        dedupe_key=f"contact:{channel}:{address}",
        actor="dunbot",
        now=now,
        event_data={"message": message_id, "channel": channel, "recipient": address, "hard": hard},
    )


def _collector_of(connection: Connection, customer_id: str) -> str:
    """Who fixes a customer's contact: the collector it was given to, else its account manager."""
    row = connection.execute(
        sa.select(customer_t.c.assigned_to, customer_t.c.account_manager).where(
            customer_t.c.id == customer_id
        )
    ).first()
    if row is None:
        return "collector"
    return str(row.assigned_to or row.account_manager or "collector")
