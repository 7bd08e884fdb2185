"""A message that did not reach its recipient (DESIGN §11): an e-mail's bounce (RFC 3464 DSN), an SMS
a provider reported undeliverable. One function records it, inside the caller's transaction, for
every source: reply handling (bounces) and Twilio's status callbacks (SMS).

- the message moves to ``undelivered`` (unless it already is), with a ``message_delivered`` event;
- a hard failure (the address or number does not exist) is an ``undeliverable_contact`` row and a
  ``contact_undeliverable`` event: no further message goes to that address until the customer's
  contact changes (the rule is the planner's, reading :func:`undeliverable_addresses`);
- a ``contact`` task asks a collector to fix the customer's contact details.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.evidence.log import EventKind, NewEvent
from bot.outreach.outbox_values import MessageState, message_t
from bot.outreach.recording import collector_of, invoices_of, raise_task
from bot.store import tables

undeliverable_t = tables.UndeliverableContact.__table__  # type: ignore[attr-defined]

# The task that asks a collector to fix a customer's e-mail address or phone number.
CONTACT_TASK = "contact"
# States a message may be found undelivered from: it left (or may have left) dunbot.
_REACHABLE = (MessageState.SENDING, MessageState.SENT, MessageState.DELIVERED, MessageState.UNKNOWN)


@dataclass(frozen=True, slots=True)
class Undeliverable:
    """What :func:`record_undeliverable` changed."""

    message_marked: bool  # the message moved to ``undelivered`` now
    contact_recorded: bool  # the address is now in ``undeliverable_contact`` (hard failures)
    task: int | None  # the contact task raised, None when one existed


def record_undeliverable(
    connection: Connection,
    events: list[NewEvent],
    *,
    customer: str,
    channel: str,
    address: str,
    message: int | None,
    hard: bool,
    reason: str,
    actor: str,
    now: datetime,
    evidence: Mapping[str, Any],
) -> Undeliverable:
    """Record that ``address`` (an e-mail address or E.164 number, on ``channel``) did not receive
    ``message`` (None: the message is not known), appending the events to ``events``.

    ``hard``: the address itself is bad (a 5.x.x DSN, an unknown number), so it is recorded and not
    used again until the contact changes; a soft failure marks the message only. ``evidence`` goes
    into the events' data: name the raw report there as ``report_sha256`` (the DSN) or
    ``callback_sha256`` (Twilio's callback) so an evidence pack carries it.
    """
    address = address.strip().lower() if "@" in address else address.strip()
    invoices: tuple[str, ...] = ()
    marked = False
    if message is not None:
        invoices = invoices_of(connection, message)
        marked = bool(
            connection.execute(
                sa.update(message_t)
                .where(message_t.c.id == message, message_t.c.state.in_([s.value for s in _REACHABLE]))
                .values(state=MessageState.UNDELIVERED, last_error=reason, updated_at=now)
            ).rowcount
        )
        if marked:
            events.append(
                NewEvent(
                    kind=EventKind.MESSAGE_DELIVERED,
                    actor=actor,
                    customer=customer,
                    invoices=invoices,
                    data={
                        "message": message,
                        "channel": channel,
                        "recipient": address,
                        "status": "bounced" if hard else "not delivered",
                        "state": MessageState.UNDELIVERED.value,
                        "reason": reason,
                        **evidence,
                    },
                    dedupe_key=f"undelivered:{message}",
                )
            )
    recorded = False
    if hard and address:
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        values = {"customer_id": customer, "message_id": message, "reason": reason[:2000], "at": now}
        connection.execute(
            insert(undeliverable_t)
            .values(channel=channel, address=address, **values)
            .on_conflict_do_update(index_elements=["channel", "address"], set_=values)
        )
        recorded = True
        events.append(
            NewEvent(
                kind=EventKind.CONTACT_UNDELIVERABLE,
                actor=actor,
                customer=customer,
                invoices=invoices,
                data={
                    "channel": channel,
                    "address": address,
                    "message": message,
                    "reason": reason,
                    **evidence,
                },
            )
        )
    what = "bounced hard" if hard else "was not delivered"
    task = raise_task(
        connection,
        events,
        kind=CONTACT_TASK,
        customer=customer,
        invoices=invoices,
        step=None,
        assignee=collector_of(connection, customer),
        title=f"Fix the {channel} contact of {customer}: {address} {what}",
        body=(
            f"{reason}\n"
            + (
                f"No further {channel} goes to {address} until the customer's contact changes: correct it "
                "in the ledger (or ask the customer for a working one)."
                if hard
                else "Check the address or number with the customer."
            )
        ),
        dedupe_key=f"contact:{channel}:{address}:{message if message is not None else now.date()}",
        actor=actor,
        now=now,
        event_data={"message": message, "channel": channel, "address": address},
    )
    return Undeliverable(marked, recorded, task)


def undeliverable_addresses(connection: Connection, customer: str) -> dict[str, set[str]]:
    """channel -> the addresses and numbers of ``customer`` recorded as undeliverable."""
    found: dict[str, set[str]] = {}
    rows = connection.execute(
        sa.select(undeliverable_t.c.channel, undeliverable_t.c.address).where(
            undeliverable_t.c.customer_id == customer
        )
    )
    for row in rows:
        found.setdefault(str(row.channel), set()).add(str(row.address))
    return found
