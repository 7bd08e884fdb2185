"""Recording a plan's step decisions: step executions, outbox messages and approval tasks, each
insert guarded by a unique key (``insert_ignore``), with the evidence event of each step recorded.

Also what every part of recording a plan shares: who records (``ACTOR``), the tables written, the
count of what was written (``RecordedPlan``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.domain.decisions import CustomerPlan, DecisionStatus, ExecutionStatus, PlanDecision
from bot.domain.ledger import Channel
from bot.evidence.log import EventKind, NewEvent
from bot.outreach.plan_preview import PlanPreview
from bot.store import tables

ACTOR = "planner"

execution_t = tables.StepExecution.__table__  # type: ignore[attr-defined]
message_t = tables.Message.__table__  # type: ignore[attr-defined]
message_invoice_t = tables.MessageInvoice.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]


@dataclass
class RecordedPlan:
    """What ``record_plan`` wrote."""

    preview: PlanPreview
    executions: int = 0
    messages: int = 0
    tasks: int = 0
    events: int = 0


def insert_ignore(connection: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[Any]:
    """INSERT rows, skipping those that hit a unique key; returns the primary keys inserted."""
    if not rows:
        return []
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    inserted = []
    pk = next(iter(table.primary_key.columns))
    for row in rows:
        statement = dialect.insert(table).values(**row).on_conflict_do_nothing().returning(pk)
        value = connection.execute(statement).scalar()
        if value is not None:
            inserted.append(value)
    return inserted


_RECORDED_STATUS = {
    DecisionStatus.PLANNED: ExecutionStatus.PLANNED,
    DecisionStatus.SUPERSEDED: ExecutionStatus.SUPERSEDED,
    DecisionStatus.AWAITING_APPROVAL: ExecutionStatus.AWAITING_APPROVAL,
}

_EVENT_OF_STATUS = {
    DecisionStatus.PLANNED: EventKind.STEP_PLANNED,
    DecisionStatus.SUPERSEDED: EventKind.STEP_SUPERSEDED,
    DecisionStatus.AWAITING_APPROVAL: EventKind.APPROVAL_REQUESTED,
}


def record_decisions(
    connection: Connection, plan: CustomerPlan, now: datetime, recorded: RecordedPlan
) -> list[NewEvent]:
    """The step executions of ``plan``'s planned, superseded and awaiting-approval decisions, with
    their messages or approval task, and one event per step and status newly recorded."""
    events: list[NewEvent] = []
    # Deferred steps are not recorded: tomorrow's planning considers them afresh.
    groups: dict[tuple[str, DecisionStatus], list[PlanDecision]] = {}
    for decision in plan.decisions:
        if decision.status in _RECORDED_STATUS:
            groups.setdefault((decision.step, decision.status), []).append(decision)
    for (step, status), decisions in groups.items():
        rows = [
            {
                "invoice_number": d.invoice,
                "customer_id": d.customer,
                "tactic": d.tactic.value,
                "step": d.step,
                "status": _RECORDED_STATUS[status].value,
                "business_date": plan.as_of,
                "reason": d.reason,
                "created_at": now,
                "updated_at": now,
            }
            for d in decisions
        ]
        inserted = insert_ignore(connection, execution_t, rows)
        if not inserted:
            continue
        recorded.executions += len(inserted)
        invoice_numbers = tuple(
            sorted(
                connection.execute(
                    sa.select(execution_t.c.invoice_number).where(execution_t.c.id.in_(inserted))
                ).scalars()
            )
        )
        first = decisions[0]
        data: dict[str, Any] = {
            "as_of": plan.as_of,
            "step": step,
            "tactic": first.tactic,
            "tier": first.tier,
            "channels": list(first.channels),
            "reason": first.reason,
            "late_fees": {d.invoice: d.late_fee for d in decisions if d.invoice in invoice_numbers},
        }
        if status is DecisionStatus.PLANNED:
            data["messages"] = _record_messages(connection, plan, first, invoice_numbers, now, recorded)
        elif status is DecisionStatus.AWAITING_APPROVAL:
            data["task"] = _record_approval_task(connection, plan, first, invoice_numbers, now, recorded)
        events.append(
            NewEvent(
                kind=_EVENT_OF_STATUS[status],
                actor=ACTOR,
                customer=plan.customer,
                invoices=invoice_numbers,
                data=data,
                dedupe_key=f"step:{plan.customer}:{step}:{status.value}:{','.join(invoice_numbers)}",
            )
        )
    return events


def _record_messages(
    connection: Connection,
    plan: CustomerPlan,
    decision: PlanDecision,
    invoices: tuple[str, ...],
    now: datetime,
    recorded: RecordedPlan,
) -> list[int]:
    message_ids = []
    for channel in decision.channels:
        inserted = insert_ignore(
            connection,
            message_t,
            [
                {
                    "customer_id": plan.customer,
                    "step": decision.step,
                    "channel": Channel(channel).value,
                    "business_date": plan.as_of,
                    "state": "planned",
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        if not inserted:
            continue
        message_id = inserted[0]
        message_ids.append(message_id)
        connection.execute(
            sa.insert(message_invoice_t), [{"message_id": message_id, "invoice_number": n} for n in invoices]
        )
    recorded.messages += len(message_ids)
    return message_ids


def _record_approval_task(
    connection: Connection,
    plan: CustomerPlan,
    decision: PlanDecision,
    invoices: tuple[str, ...],
    now: datetime,
    recorded: RecordedPlan,
) -> int | None:
    inserted = insert_ignore(
        connection,
        task_t,
        [
            {
                "kind": "approval",
                "customer_id": plan.customer,
                "invoices": json.dumps(list(invoices)),
                "step": decision.step,
                "assignee": "collector",
                "title": f"Approve {decision.step} for {plan.customer} ({', '.join(invoices)})",
                "body": decision.reason,
                "status": "open",
                "dedupe_key": f"approval:{plan.customer}:{decision.step}:{','.join(invoices)}",
                "created_at": now,
            }
        ],
    )
    recorded.tasks += len(inserted)
    return inserted[0] if inserted else None
