"""`dunbot approve` / `dunbot reject`: a collector decides on a step that waits for approval.

Approving writes the step's outbox messages (one per channel, dated the approval's business day)
in the same transaction that closes the task and records the decision; the next cycle sends them
through the usual re-check, window and caps. Rejecting closes the task and the step, and leaves
those invoices to the collectors (DESIGN §4 rule 2): a ``manual`` task is raised for them at once,
and the planner sends them nothing more and shows them ``manual`` from then on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.config import Settings
from bot.domain.decisions import ExecutionStatus
from bot.domain.ledger import Channel, Tactic
from bot.errors import InputError
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.outreach.planning import PLANNING_LOCK_KEY
from bot.outreach.recording import raise_task
from bot.store import tables
from bot.store.engine import require_schema

task_t = tables.Task.__table__  # type: ignore[attr-defined]
execution_t = tables.StepExecution.__table__  # type: ignore[attr-defined]
message_t = tables.Message.__table__  # type: ignore[attr-defined]
message_invoice_t = tables.MessageInvoice.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    """What a decision did."""

    task: int
    customer: str
    step: str
    invoices: tuple[str, ...]
    approved: bool
    messages: tuple[int, ...] = ()
    manual_task: int | None = None  # rejected: the task that leaves the invoices to the collectors


def decide(
    engine: Engine,
    settings: Settings,
    task_id: int,
    *,
    approve: bool,
    reason: str,
    actor: str,
    now: datetime,
    business_date: date,
) -> ApprovalResult:
    """Approve or reject approval task ``task_id``, in one transaction."""
    require_schema(engine)
    if not approve and not reason.strip():
        raise InputError("--reason is required when rejecting: it goes into the evidence log")
    with Session(engine) as session:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLANNING_LOCK_KEY})
        task = connection.execute(sa.select(task_t).where(task_t.c.id == task_id)).first()
        if task is None:
            raise InputError(f"no task {task_id}: `dunbot tasks` lists the open ones")
        if task.kind != "approval":
            raise InputError(
                f"task {task_id} is a {task.kind} task, not an approval; finish it with `dunbot task done`"
            )
        if task.status != "open":
            raise InputError(f"task {task_id} was already decided ({task.outcome or task.status})")
        invoices = tuple(json.loads(task.invoices))
        step = str(task.step)
        waiting = connection.execute(
            sa.select(execution_t.c.invoice_number, execution_t.c.tactic).where(
                execution_t.c.invoice_number.in_(invoices),
                execution_t.c.step == step,
                execution_t.c.status == ExecutionStatus.AWAITING_APPROVAL,
            )
        ).all()
        numbers = tuple(sorted(r.invoice_number for r in waiting))
        outcome = "approved" if approve else "rejected"
        connection.execute(
            sa.update(task_t)
            .where(task_t.c.id == task_id, task_t.c.status == "open")
            .values(status="done", outcome=outcome, note=reason or None, done_at=now)
        )
        connection.execute(
            sa.update(execution_t)
            .where(
                execution_t.c.invoice_number.in_(numbers),
                execution_t.c.step == step,
                execution_t.c.status == ExecutionStatus.AWAITING_APPROVAL,
            )
            .values(status=ExecutionStatus.APPROVED if approve else ExecutionStatus.REJECTED, updated_at=now)
        )
        messages: list[int] = []
        events: list[NewEvent] = []
        manual_task: int | None = None
        if not approve and numbers:
            manual_task = _raise_manual_task(connection, task, step, numbers, reason, actor, now, events)
        if approve and numbers:
            tactic = Tactic(waiting[0].tactic)
            channels = _channels(settings, tactic, step)
            messages = _write_messages(
                connection, str(task.customer_id), step, channels, numbers, business_date, now
            )
        append_events(
            session,
            now,
            [
                NewEvent(
                    kind=EventKind.APPROVAL,
                    actor=actor,
                    customer=str(task.customer_id),
                    invoices=numbers or invoices,
                    data={
                        "task": task_id,
                        "step": step,
                        "decision": outcome,
                        "reason": reason,
                        "messages": messages,
                        "business_date": business_date,
                    },
                    dedupe_key=f"approval:{task_id}",
                ),
                *events,
            ],
        )
        session.commit()
    return ApprovalResult(
        task_id, str(task.customer_id), step, numbers or invoices, approve, tuple(messages), manual_task
    )


def _raise_manual_task(
    connection: sa.Connection,
    approval: sa.Row[Any],
    step: str,
    invoices: tuple[str, ...],
    reason: str,
    actor: str,
    now: datetime,
    events: list[NewEvent],
) -> int | None:
    """The collectors' task for invoices whose legal step was rejected: never silently forgotten."""
    customer = str(approval.customer_id)
    body = (
        f"{step} was rejected ({reason.strip()}). dunbot sends these invoices nothing more; decide "
        "how to collect them and record what you did with `dunbot task done`."
    )
    return raise_task(
        connection,
        events,
        kind="manual",
        customer=customer,
        invoices=invoices,
        step=step,
        assignee=str(approval.assignee) or "collector",
        title=f"Handle {', '.join(invoices)} of {customer} by hand: {step} was rejected",
        body=body,
        dedupe_key=f"manual:rejected:{approval.id}",
        actor=actor,
        now=now,
        event_data={"reason": f"{step} rejected"},
    )


def _channels(settings: Settings, tactic: Tactic, step: str) -> tuple[Channel, ...]:
    for candidate in settings.ladder.get(tactic, ()):
        if candidate.name == step:
            return candidate.channels
    raise InputError(
        f"step {step!r} is no longer in the {tactic.value} ladder of the config; reject the task instead"
    )


def _write_messages(
    connection: sa.Connection,
    customer: str,
    step: str,
    channels: tuple[Channel, ...],
    invoices: tuple[str, ...],
    business_date: date,
    now: datetime,
) -> list[int]:
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    written = []
    for channel in channels:
        message_id = connection.execute(
            insert(message_t)
            .values(
                customer_id=customer,
                step=step,
                channel=channel.value,
                business_date=business_date,
                state="planned",
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
            .returning(message_t.c.id)
        ).scalar()
        if message_id is None:
            continue
        connection.execute(
            sa.insert(message_invoice_t), [{"message_id": message_id, "invoice_number": n} for n in invoices]
        )
        written.append(int(message_id))
    return written
