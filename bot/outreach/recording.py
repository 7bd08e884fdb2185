"""Recording an outbox message's outcome when no provider answered, and raising tasks.

What the re-check decided (``cancelled``; ``failed`` or blocked, with a review task), a task-channel
message handed to a collector as its task, and a message whose fate is unknown (an ambiguous answer,
or found ``sending`` after a crash): never resent, a review task asks a person. What a provider
answered is recorded by :mod:`bot.outreach.answers`, which raises its tasks here.

:func:`raise_task` is the one way a task is raised with its evidence: insert-if-absent on the task's
dedupe key, and a ``task_created`` event only when the row is new (the outbox's review and letter
tasks, the manual task of a rejected approval, the planner's manual tasks).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.channels.base import Outgoing
from bot.config import Settings
from bot.domain.ledger import Customer
from bot.domain.policy import Assignee, LadderStep
from bot.evidence.log import EventKind, NewEvent
from bot.outreach.outbox_values import Done, MessageState, Outcome, message_invoice_t, message_t, task_t
from bot.store import tables

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]


def raise_task(
    connection: Connection,
    events: list[NewEvent],
    *,
    kind: str,
    customer: str,
    invoices: Sequence[str],
    step: str | None,
    assignee: str,
    title: str,
    body: str,
    dedupe_key: str,
    actor: str,
    now: datetime,
    event_data: Mapping[str, Any],
    event_key: str | None = None,
) -> int | None:
    """Raise a task unless one with ``dedupe_key`` exists; returns its id, None when it existed.

    A new task appends its ``task_created`` event to ``events``, with data ``task``, ``kind``, then
    ``event_data``, then ``title`` (cut to 500 characters, as in the row); its dedupe key is
    ``event_key``, by default ``task_created:<dedupe_key>``.
    """
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    title = title[:500]
    task_id = connection.execute(
        insert(task_t)
        .values(
            kind=kind,
            customer_id=customer,
            invoices=json.dumps(list(invoices)),
            step=step,
            assignee=assignee,
            title=title,
            body=body,
            status="open",
            dedupe_key=dedupe_key,
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(task_t.c.id)
    ).scalar()
    if task_id is None:
        return None
    events.append(
        NewEvent(
            kind=EventKind.TASK_CREATED,
            actor=actor,
            customer=customer,
            invoices=tuple(invoices),
            data={"task": int(task_id), "kind": kind, **event_data, "title": title},
            dedupe_key=event_key or f"task_created:{dedupe_key}",
        )
    )
    return int(task_id)


def collector_of(connection: Connection, customer: str) -> str:
    """Who works ``customer`` (the assignee of the tasks its replies and bounces raise): a manager's
    reassignment, else the ledger's account manager, else the collectors' desk."""
    row = connection.execute(
        sa.select(customer_t.c.assigned_to, customer_t.c.account_manager).where(customer_t.c.id == customer)
    ).first()
    if row is not None and (row.assigned_to or row.account_manager):
        return str(row.assigned_to or row.account_manager)
    return Assignee.COLLECTOR.value


def invoices_of(connection: Connection, message_id: int) -> tuple[str, ...]:
    """The invoice numbers a message speaks of, sorted."""
    return tuple(
        sorted(
            connection.execute(
                sa.select(message_invoice_t.c.invoice_number).where(
                    message_invoice_t.c.message_id == message_id
                )
            ).scalars()
        )
    )


class Recorder:
    """Writes outcomes decided without a provider, and review tasks, inside a caller's transaction."""

    def __init__(self, settings: Settings, *, worker: str) -> None:
        self.settings = settings
        self.worker = worker

    def not_sent(
        self,
        connection: Connection,
        row: Any,
        state: MessageState,
        reason: str,
        now: datetime,
        events: list[NewEvent],
        *,
        task: bool = False,
        blocked: bool = False,
    ) -> Done:
        """The re-check's verdict: ``cancelled`` (no longer due) or ``failed`` (blocked: a person acts)."""
        connection.execute(
            sa.update(message_t)
            .where(message_t.c.id == row.id)
            .values(state=state, last_error=reason, lease_owner=None, lease_until=None, updated_at=now)
        )
        kind = EventKind.MESSAGE_CANCELLED if state is MessageState.CANCELLED else EventKind.MESSAGE_FAILED
        data: dict[str, Any] = {
            "message": row.id,
            "channel": row.channel,
            "step": row.step,
            "business_date": row.business_date,
            "reason": reason,
        }
        if blocked:
            data["blocked"] = True
        events.append(
            NewEvent(
                kind=kind,
                actor=self.worker,
                customer=row.customer_id,
                invoices=invoices_of(connection, row.id),
                data=data,
                dedupe_key=f"{kind.value}:{row.id}",
            )
        )
        if task:
            self.review_task(connection, row, f"Message not sent: {reason}", now, events)
        outcome = (
            Outcome.CANCELLED
            if state is MessageState.CANCELLED
            else Outcome.BLOCKED
            if blocked
            else Outcome.FAILED
        )
        return Done(row.step, row.channel, outcome)

    def task_message(
        self,
        connection: Connection,
        row: Any,
        outgoing: Outgoing,
        step: LadderStep,
        customer: Customer,
        now: datetime,
        events: list[NewEvent],
    ) -> Done:
        """A task-channel message is handed to a collector as a task: that is its sending."""
        assignee = _assignee(connection, step, customer)
        kind = _task_kind(step)
        task_id = connection.execute(
            sa.insert(task_t)
            .values(
                kind=kind,
                customer_id=row.customer_id,
                invoices=json.dumps(list(outgoing.invoices)),
                step=row.step,
                assignee=assignee,
                title=outgoing.subject,
                body=outgoing.text,
                status="open",
                dedupe_key=f"message:{row.id}",
                created_at=now,
            )
            .returning(task_t.c.id)
        ).scalar_one()
        connection.execute(
            sa.update(message_t)
            .where(message_t.c.id == row.id)
            .values(
                state=MessageState.SENT,
                recipient=assignee,
                provider_id=f"task:{task_id}",
                provider_status="open",
                attempts=row.attempts + 1,
                sent_at=now,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )
        events.append(
            NewEvent(
                kind=EventKind.TASK_CREATED,
                actor=self.worker,
                customer=row.customer_id,
                invoices=tuple(outgoing.invoices),
                data={
                    "task": task_id,
                    "message": row.id,
                    "kind": kind,
                    "step": row.step,
                    "assignee": assignee,
                    "title": outgoing.subject,
                },
                dedupe_key=f"task_created:message:{row.id}",
            )
        )
        return Done(row.step, row.channel, Outcome.SENT)

    def unknown(
        self,
        connection: Connection,
        row: Any,
        reason: str,
        now: datetime,
        events: list[NewEvent],
        stored: Mapping[str, str] | None = None,
    ) -> None:
        """The evidence of a message whose fate is unknown, and the review task that asks a person."""
        events.append(
            NewEvent(
                kind=EventKind.MESSAGE_UNKNOWN,
                actor=self.worker,
                customer=row.customer_id,
                invoices=invoices_of(connection, row.id),
                data={
                    "message": row.id,
                    "channel": row.channel,
                    "step": row.step,
                    "recipient": row.recipient,
                    "key": row.message_id,
                    "attempt": row.attempts,
                    "reason": reason,
                    "artifacts": dict(stored or {}),
                },
                dedupe_key=f"message_unknown:{row.id}",
            )
        )
        title = f"Check whether message {row.id} ({row.step}, {row.channel} to {row.recipient}) arrived"
        body = (
            f"{reason}.\nIt will not be resent automatically. Check with the provider or the customer, then "
            f"record the result: `dunbot task done <task> --note ...`."
        )
        self.review_task(connection, row, title, now, events, body=body)

    def review_task(
        self,
        connection: Connection,
        row: Any,
        title: str,
        now: datetime,
        events: list[NewEvent],
        *,
        body: str = "",
    ) -> None:
        """The review task of message ``row`` (one per message), for ``[outreach] review_assignee``."""
        raise_task(
            connection,
            events,
            kind="review",
            customer=row.customer_id,
            invoices=invoices_of(connection, row.id),
            step=row.step,
            assignee=self.settings.outreach.review_assignee,
            title=title,
            body=body or title,
            dedupe_key=f"review:message:{row.id}",
            actor=self.worker,
            now=now,
            event_data={"message": row.id},
            event_key=f"task_created:review:{row.id}",
        )


def _assignee(connection: Connection, step: LadderStep, customer: Customer) -> str:
    """Who a task step's task goes to. A customer a manager reassigned (``assigned_to``) goes to
    that person for the collector's and the account manager's steps alike; an account manager's
    step otherwise to the ledger's account manager; anything else to the step's desk."""
    if step.assignee not in (Assignee.ACCOUNT_MANAGER, Assignee.COLLECTOR):
        return step.assignee.value
    assigned = connection.execute(
        sa.select(customer_t.c.assigned_to).where(customer_t.c.id == customer.id)
    ).scalar()
    if assigned:
        return str(assigned)
    if step.assignee is Assignee.ACCOUNT_MANAGER and customer.account_manager:
        return customer.account_manager
    return step.assignee.value


def _task_kind(step: LadderStep) -> str:
    if step.assignee.value == "legal" or step.action.value == "legal_pack":
        return "legal"
    if step.assignee.value in ("finance",) or step.action.value == "recommend_credit_hold":
        return "review"
    return "call"
