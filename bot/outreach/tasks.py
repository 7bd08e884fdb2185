"""Collector work items: list them, finish them, and resolve messages whose fate was unknown.

Finishing a task is one transaction and one evidence event. A review task raised for a message in
state ``unknown`` can say what became of it (``delivered`` or ``not-delivered``): the message then
moves to ``sent`` or ``failed`` and a MESSAGE_RESOLVED event records who decided and why. Either way
dunbot never resends it by itself. A call task can say what the call came to (``CALL_OUTCOMES``); a
call that ended in a promise is logged with the promise (:func:`bot.outreach.collector.log_call`).
A posted letter's task records its registered-mail tracking number, in the event and as a small
artifact the event names (``tracking_sha256``): the letter's delivery proof in an evidence pack.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.errors import InputError
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.canonical import format_instant
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.store import tables
from bot.store.engine import require_schema

task_t = tables.Task.__table__  # type: ignore[attr-defined]
message_t = tables.Message.__table__  # type: ignore[attr-defined]
invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]
payment_t = tables.Payment.__table__  # type: ignore[attr-defined]

# What became of a message whose fate was unknown (a review task's outcome).
REVIEW_OUTCOMES = ("delivered", "not-delivered")
# What a call came to (a call task's outcome).
CALL_OUTCOMES = (
    "reached",  # spoke to the customer; the note says what was agreed
    "promised",  # the customer promised to pay: logged with the promise itself
    "no-answer",  # nobody picked up
    "voicemail",  # left a message
    "wrong-number",  # the number is not the customer's
    "refused",  # reached, and the customer will not pay
)
PROMISED = "promised"


@dataclass(frozen=True, slots=True)
class TaskView:
    """One task as collectors see it."""

    id: int
    kind: str
    customer: str
    invoices: tuple[str, ...]
    step: str | None
    assignee: str
    title: str
    body: str
    status: str
    outcome: str | None
    note: str | None
    created_at: datetime
    done_at: datetime | None
    # What the task is about, as of the day it is listed: the outstanding amount of its invoices per
    # currency, the earliest due date among them and how many days that lies behind.
    outstanding: tuple[tuple[str, Decimal], ...] = ()
    due_date: date | None = None
    days_overdue: int | None = None


def list_tasks(
    engine: Engine,
    *,
    assignee: str | None = None,
    include_done: bool = False,
    as_of: date | None = None,
    customer: str | None = None,
) -> list[TaskView]:
    """Open tasks (or all), oldest first; ``assignee`` filters to one person or team, ``customer``
    to one customer's tasks (the console's customer page).

    With ``as_of``, each task says what its invoices still owe, their earliest due date and the
    days overdue on that day.
    """
    require_schema(engine)
    query = sa.select(task_t).order_by(task_t.c.created_at, task_t.c.id)
    if not include_done:
        query = query.where(task_t.c.status == "open")
    if assignee is not None:
        query = query.where(task_t.c.assignee == assignee)
    if customer is not None:
        query = query.where(task_t.c.customer_id == customer)
    with engine.connect() as connection:
        tasks = [_view(row) for row in connection.execute(query)]
        if as_of is None or not tasks:
            return tasks
        invoices = _invoice_facts(connection, sorted({n for t in tasks for n in t.invoices}))
    return [_with_amounts(task, invoices, as_of) for task in tasks]


def _invoice_facts(connection: sa.Connection, numbers: list[str]) -> dict[str, tuple[str, Decimal, date]]:
    """number -> (currency, outstanding, due date)."""
    facts: dict[str, tuple[str, Decimal, date]] = {}
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        paid = (
            sa.select(payment_t.c.invoice_number, sa.func.sum(payment_t.c.amount).label("paid"))
            .where(payment_t.c.invoice_number.in_(chunk))
            .group_by(payment_t.c.invoice_number)
            .subquery()
        )
        query = (
            sa.select(
                invoice_t.c.number,
                invoice_t.c.currency,
                invoice_t.c.amount,
                invoice_t.c.due_date,
                paid.c.paid,
            )
            .outerjoin(paid, paid.c.invoice_number == invoice_t.c.number)
            .where(invoice_t.c.number.in_(chunk))
        )
        for row in connection.execute(query):
            outstanding = Decimal(row.amount) - Decimal(row.paid or 0)
            facts[row.number] = (row.currency, outstanding, row.due_date)
    return facts


def _with_amounts(task: TaskView, facts: dict[str, tuple[str, Decimal, date]], as_of: date) -> TaskView:
    known = [facts[n] for n in task.invoices if n in facts]
    if not known:
        return task
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, outstanding, _ in known:
        totals[currency] += outstanding
    due = min(due for _, _, due in known)
    return replace(
        task, outstanding=tuple(sorted(totals.items())), due_date=due, days_overdue=(as_of - due).days
    )


def _view(row: sa.Row[tuple[object, ...]]) -> TaskView:
    m = row._mapping
    return TaskView(
        id=int(m["id"]),
        kind=str(m["kind"]),
        customer=str(m["customer_id"]),
        invoices=tuple(json.loads(str(m["invoices"]))),
        step=m["step"],
        assignee=str(m["assignee"]),
        title=str(m["title"]),
        body=str(m["body"]),
        status=str(m["status"]),
        outcome=m["outcome"],
        note=m["note"],
        created_at=m["created_at"],
        done_at=m["done_at"],
    )


def finish_task(
    engine: Engine,
    task_id: int,
    note: str,
    actor: str,
    now: datetime,
    *,
    outcome: str | None = None,
    tracking: str | None = None,
    artifacts: ArtifactStore | None = None,
) -> TaskView:
    """Mark an open task done with a note; for a review of an unknown message, record its fate;
    for a call, what it came to; for a letter, the registered-mail tracking number (stored in
    ``artifacts`` too, which is then required)."""
    require_schema(engine)
    if outcome == PROMISED:
        raise InputError(
            "a call that ended in a promise is logged with the promise: add --promise-date DATE "
            "(and --amount, --invoice)"
        )
    with Session(engine) as session:
        _, events = close_task(
            session.connection(),
            task_id,
            note,
            actor,
            now,
            outcome=outcome,
            tracking=tracking,
            artifacts=artifacts,
        )
        append_events(session, now, events)
        session.commit()
    return list_task(engine, task_id)


def close_task(
    connection: sa.Connection,
    task_id: int,
    note: str,
    actor: str,
    now: datetime,
    *,
    outcome: str | None = None,
    tracking: str | None = None,
    artifacts: ArtifactStore | None = None,
) -> tuple[TaskView, list[NewEvent]]:
    """Mark the open task done inside the caller's transaction; the events to append (the caller
    appends them, with its own). A letter's tracking number is stored in ``artifacts`` first."""
    if not note.strip():
        raise InputError("--note is required: say what was done, it goes into the evidence log")
    if outcome is not None and outcome not in REVIEW_OUTCOMES + CALL_OUTCOMES:
        raise InputError(
            f"--outcome must be one of {', '.join(REVIEW_OUTCOMES)} (the review of a message) "
            f"or {', '.join(CALL_OUTCOMES)} (a call)"
        )
    row = connection.execute(sa.select(task_t).where(task_t.c.id == task_id)).first()
    if row is None:
        raise InputError(f"no task {task_id}: `dunbot tasks` lists the open ones")
    task = _view(row)
    if task.kind == "approval":
        raise InputError(
            f"task {task_id} asks for an approval: use `dunbot approve {task_id}` or "
            f"`dunbot reject {task_id} --reason ...`"
        )
    if task.status != "open":
        raise InputError(f"task {task_id} is already done (at {task.done_at:%Y-%m-%d %H:%M} UTC)")
    if tracking is not None and task.kind != "letter":
        raise InputError(f"--tracking is for posted letters; task {task_id} is a {task.kind} task")
    if task.kind == "letter" and not (tracking or "").strip():
        raise InputError(
            f"task {task_id} is a posted letter: give the registered-mail number with --tracking"
        )
    message_id = _reviewed_message(row)
    tracking_sha256 = None
    if tracking is not None:
        if artifacts is None:
            raise ValueError("a tracking number is kept as an artifact: pass the artifact store")
        tracking = tracking.strip()
        # Durable before the event that names it, as every artifact is.
        tracking_sha256 = artifacts.put(_tracking_record(row, tracking, actor, now))
    if outcome in REVIEW_OUTCOMES and message_id is None:
        raise InputError(
            f"--outcome applies only to the review of a message; task {task_id} is a {task.kind} task"
        )
    if outcome in CALL_OUTCOMES and task.kind != "call":
        raise InputError(f"--outcome {outcome} is for calls; task {task_id} is a {task.kind} task")
    connection.execute(
        sa.update(task_t)
        .where(task_t.c.id == task_id, task_t.c.status == "open")
        .values(
            status="done",
            outcome=outcome or (f"posted: {tracking}" if tracking else "done"),
            note=note,
            done_at=now,
        )
    )
    events = [
        NewEvent(
            kind=EventKind.TASK_DONE,
            actor=actor,
            customer=task.customer,
            invoices=task.invoices,
            data={
                "task": task_id,
                "kind": task.kind,
                "step": task.step,
                "title": task.title,
                "note": note,
                "outcome": outcome,
                "tracking": tracking,
                **({"tracking_sha256": tracking_sha256} if tracking_sha256 else {}),
            },
            dedupe_key=f"task_done:{task_id}",
        )
    ]
    if outcome in REVIEW_OUTCOMES and message_id is not None:
        assert outcome is not None
        events.extend(_resolve_message(connection, message_id, outcome, note, actor, now, task))
    return task, events


def _tracking_record(row: sa.Row[tuple[object, ...]], tracking: str, actor: str, now: datetime) -> bytes:
    """The registered-mail number as recorded, with the letter it is for: the postal service's own
    records can be asked about that number."""
    key = str(row._mapping["dedupe_key"] or "")
    record = {
        "task": row._mapping["id"],
        "letter": row._mapping["title"],
        "message": int(key.rsplit(":", 1)[1]) if key.startswith("letter:message:") else None,
        "tracking": tracking,
        "recorded_by": actor,
        "recorded_at": format_instant(now),
    }
    return (json.dumps(record, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")


def list_task(engine: Engine, task_id: int) -> TaskView:
    with engine.connect() as connection:
        return _view(connection.execute(sa.select(task_t).where(task_t.c.id == task_id)).one())


def _reviewed_message(row: sa.Row[tuple[object, ...]]) -> int | None:
    key = str(row._mapping["dedupe_key"] or "")
    if key.startswith("review:message:"):
        return int(key.rsplit(":", 1)[1])
    return None


def _resolve_message(
    connection: sa.Connection,
    message_id: int,
    outcome: str,
    note: str,
    actor: str,
    now: datetime,
    task: TaskView,
) -> list[NewEvent]:
    message = connection.execute(sa.select(message_t).where(message_t.c.id == message_id)).one()
    if message.state != "unknown":
        raise InputError(
            f"message {message_id} is {message.state}, not unknown: finish the task without --outcome"
        )
    state = "sent" if outcome == "delivered" else "failed"
    connection.execute(
        sa.update(message_t)
        .where(message_t.c.id == message_id, message_t.c.state == "unknown")
        .values(state=state, last_error=None if state == "sent" else message.last_error, updated_at=now)
    )
    return [
        NewEvent(
            kind=EventKind.MESSAGE_RESOLVED,
            actor=actor,
            customer=task.customer,
            invoices=task.invoices,
            data={
                "message": message_id,
                "channel": message.channel,
                "step": message.step,
                "key": message.message_id,
                "outcome": outcome,
                "state": state,
                "note": note,
                "task": task.id,
            },
            dedupe_key=f"message_resolved:{message_id}",
        )
    ]
