"""Why a planned outbox message waits, read from the store: the facts the gates of
:mod:`bot.domain.waiting` look at (recent contacts, pauses, an open approval) and what the outbox's
re-check will cancel it for. Shared by `dunbot message show` and the console's customer page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.domain.decisions import ExecutionStatus
from bot.domain.ledger import AUTOMATED_CHANNELS, Channel
from bot.domain.policy import CompliancePolicy
from bot.domain.waiting import PendingMessage, WaitExplanation, explain_wait
from bot.store import tables
from bot.store.undeliverable import undeliverable_reason

message_t = tables.Message.__table__  # type: ignore[attr-defined]
invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]
execution_t = tables.StepExecution.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]

# Outbox states in which the customer may have been reached: they count against the caps (as in
# the outbox's own check).
_CONTACTED = ("sending", "sent", "delivered", "undelivered", "unknown")


def explain_planned(
    connection: Connection,
    row: Any,
    customer: Any,
    invoices: tuple[str, ...],
    policy: CompliancePolicy,
    now: datetime,
) -> tuple[WaitExplanation, str | None]:
    """For planned message ``row`` (a ``message`` row) of ``customer`` (its ``customer`` row) about
    ``invoices``: every gate that holds it and when it can go, and what the outbox's re-check will
    cancel it for instead (None when nothing)."""
    pending = _pending(connection, row, customer, invoices, now)
    will_cancel = _will_cancel(Channel(row.channel), customer)
    if pending.paused_until is not None and pending.paused_until >= row.business_date:
        # A pause through the day the message would reach the customer: the outbox's
        # re-check cancels it then (as for a promise), it does not hold it for later.
        why = f": {pending.pause_reason}" if pending.pause_reason else ""
        will_cancel = will_cancel or (
            f"paused until {pending.paused_until}{why}; the outbox's re-check cancels it"
        )
        pending = replace(pending, paused_until=None, pause_reason=None)
    return explain_wait(pending, policy, now), will_cancel


def _will_cancel(channel: Channel, customer: Any) -> str | None:
    """What the outbox's re-check will refuse the message for, as far as the customer row says."""
    if channel is Channel.TASK:
        return None
    if customer.do_not_contact:
        return "the customer is marked do-not-contact"
    if channel.value in {c for c in (customer.opted_out or "").split(",") if c}:
        return f"the customer opted out of {channel.value}"
    return None


def _pending(
    connection: Connection, row: Any, customer: Any, invoices: tuple[str, ...], now: datetime
) -> PendingMessage:
    recent = tuple(
        (Channel(r.channel), r.sent_at)
        for r in connection.execute(
            sa.select(message_t.c.channel, message_t.c.sent_at).where(
                message_t.c.customer_id == row.customer_id,
                message_t.c.id != row.id,
                message_t.c.state.in_(_CONTACTED),
                message_t.c.channel.in_([c.value for c in AUTOMATED_CHANNELS]),
                message_t.c.sent_at > now - timedelta(days=14),
            )
        )
        if r.sent_at is not None
    )
    paused_until, pause_reason = customer.paused_until, customer.pause_reason
    if invoices:
        pauses = connection.execute(
            sa.select(invoice_t.c.paused_until, invoice_t.c.pause_reason).where(
                invoice_t.c.number.in_(invoices)
            )
        ).all()
        # The message waits for its invoices only when every one of them is paused.
        if pauses and all(p.paused_until is not None for p in pauses):
            first_to_end = min(pauses, key=lambda p: p.paused_until)
            if paused_until is None or first_to_end.paused_until > paused_until:
                paused_until, pause_reason = first_to_end.paused_until, first_to_end.pause_reason
    approval = connection.execute(
        sa.select(task_t.c.id)
        .join(
            execution_t,
            sa.and_(execution_t.c.customer_id == task_t.c.customer_id, execution_t.c.step == task_t.c.step),
        )
        .where(
            task_t.c.customer_id == row.customer_id,
            task_t.c.step == row.step,
            task_t.c.kind == "approval",
            task_t.c.status == "open",
            execution_t.c.status == ExecutionStatus.AWAITING_APPROVAL,
            execution_t.c.invoice_number.in_(invoices),
        )
    ).scalar()
    return PendingMessage(
        channel=Channel(row.channel),
        business_date=row.business_date,
        timezone=customer.timezone,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        recent=recent,
        paused_until=paused_until,
        pause_reason=pause_reason,
        approval_task=int(approval) if approval is not None else None,
        undeliverable=undeliverable_reason(connection, row.channel, customer),
    )
