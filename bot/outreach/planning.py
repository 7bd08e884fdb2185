"""Planning a business day: read the ledger, ask the domain, and (in a cycle) record the result.

``preview_plan`` has no side effects (`dunbot plan`). ``record_plan`` is the planning half of a
cycle: in ONE transaction, under the planning lock, it writes step executions, outbox messages,
approval tasks and the evidence events, every insert guarded by a unique key so that running it
twice for the same day changes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from bot.config import Settings
from bot.domain.decisions import CustomerPlan, DecisionStatus, ExecutionStatus, PlanDecision
from bot.domain.ladder import lacks_demand
from bot.domain.ledger import Channel, Tier
from bot.domain.policy import PlanningPolicy
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.outreach.plan_json import write_json_array
from bot.outreach.plan_workers import can_fork, plan_slice, worker_count, write_in_parallel
from bot.store import tables
from bot.store.engine import require_schema, shares_snapshots
from bot.store.queries import customer_t

# Only one planner at a time on a shared PostgreSQL database (DESIGN §5).
PLANNING_LOCK_KEY = 0x706C616E

ACTOR = "planner"

execution_t = tables.StepExecution.__table__  # type: ignore[attr-defined]
message_t = tables.Message.__table__  # type: ignore[attr-defined]
message_invoice_t = tables.MessageInvoice.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]


@dataclass
class PlanPreview:
    """What the planner decided for one day, over every customer."""

    as_of: date
    plans: list[CustomerPlan] = field(default_factory=list)
    customers: int = 0
    customers_off_day: int = 0
    tiers: Counter[Tier] = field(default_factory=Counter)
    # Over every decision, also those not kept in ``plans`` when a limit was given.
    status_counts: Counter[str] = field(default_factory=Counter)
    decision_count: int = 0

    @property
    def decisions(self) -> list[PlanDecision]:
        """Every (invoice, step) decision, customers in id order."""
        return [d for plan in self.plans for d in plan.decisions]


def _plans(connection: Connection, policy: PlanningPolicy, as_of: date) -> Iterator[CustomerPlan]:
    return plan_slice(connection, policy, as_of, None)


def _collect(
    plans: Iterator[CustomerPlan], as_of: date, keep: int | None = None, *, count_superseded: bool = True
) -> PlanPreview:
    """Count everything; keep the customers' plans (all, or until ``keep`` decisions are kept, the
    superseded ones not counted when ``count_superseded`` is False: a table that hides them)."""
    preview = PlanPreview(as_of=as_of)
    kept = 0
    for plan in plans:
        preview.customers += 1
        if not plan.business_day:
            preview.customers_off_day += 1
            continue
        if plan.assessment is not None:
            preview.tiers[plan.assessment.tier] += 1
        counts = plan.status_counts()
        for status, count in counts.items():
            preview.status_counts[status.value] += count
        decisions = plan.decision_count
        preview.decision_count += decisions
        if keep is not None and kept >= keep:
            continue
        if decisions or plan.early_warnings or plan.broken_promises or plan.assessment:
            preview.plans.append(plan)
            kept += decisions if count_superseded else decisions - counts.get(DecisionStatus.SUPERSEDED, 0)
    return preview


def preview_plan(
    engine: Engine,
    settings: Settings,
    as_of: date,
    *,
    keep: int | None = None,
    count_superseded: bool = True,
) -> PlanPreview:
    """Plan ``as_of`` without writing anything; with ``keep``, hold only about that many decisions
    (not counting superseded ones unless ``count_superseded``)."""
    require_schema(engine)
    policy = settings.planning_policy()
    with engine.connect() as connection:
        return _collect(_plans(connection, policy, as_of), as_of, keep, count_superseded=count_superseded)


def write_plan_json(
    engine: Engine,
    settings: Settings,
    as_of: date,
    out: TextIO,
    *,
    workers: int | None = None,
    slice_customers: int | None = None,
) -> int:
    """`dunbot plan --json`: every decision of ``as_of`` as a JSON array on ``out``; returns how many.

    Streamed: decisions are written customer by customer, never all held at once. With more than
    one worker (``workers``, else ``[planning] workers``; 0 = one per core) and an ``out`` that is
    a real file or pipe, slices of ``slice_customers`` (else ``[planning] slice_customers``)
    customers are planned side by side in worker processes and written in customer-id order: the
    same bytes as planning them in one process.
    """
    require_schema(engine)
    policy = settings.planning_policy()

    def in_this_process(connection: Connection) -> int:
        return write_json_array(plan_slice(connection, policy, as_of, None), out)

    count = worker_count(settings.planning.workers if workers is None else workers)
    if count > 1 and can_fork() and shares_snapshots(engine) and _has_file_descriptor(out):
        return write_in_parallel(
            engine,
            settings,
            as_of,
            out,
            workers=count,
            slice_customers=slice_customers or settings.planning.slice_customers,
            serial=in_this_process,
        )
    with engine.connect() as connection:
        return in_this_process(connection)


def _has_file_descriptor(out: TextIO) -> bool:
    try:
        out.fileno()
    except (AttributeError, OSError, ValueError):  # io.StringIO, a test runner's capture
        return False
    return True


def iter_plans(engine: Engine, settings: Settings, as_of: date) -> Iterator[CustomerPlan]:
    """Every customer's plan for ``as_of``, one at a time: memory stays bounded by one customer."""
    require_schema(engine)
    policy = settings.planning_policy()
    with engine.connect() as connection:
        yield from _plans(connection, policy, as_of)


@dataclass
class RecordedPlan:
    """What ``record_plan`` wrote."""

    preview: PlanPreview
    executions: int = 0
    messages: int = 0
    tasks: int = 0
    events: int = 0


def _insert_ignore(connection: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[Any]:
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


def _lock_planning(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLANNING_LOCK_KEY})


def record_plan(engine: Engine, settings: Settings, as_of: date, now: datetime) -> RecordedPlan:
    """Plan ``as_of`` and record it (idempotent per day): the planning half of a cycle."""
    require_schema(engine)
    policy = settings.planning_policy()
    with Session(engine) as session:
        connection = session.connection()
        _lock_planning(connection)
        preview = _collect(_plans(connection, policy, as_of), as_of)
        recorded = RecordedPlan(preview)
        events: list[NewEvent] = []
        recorded_tiers = {
            row.id: row.current_tier
            for row in connection.execute(sa.select(customer_t.c.id, customer_t.c.current_tier))
        }
        for plan in preview.plans:
            events.extend(_record_assessment(connection, plan, recorded_tiers.get(plan.customer)))
            events.extend(_alert_events(plan))
            events.extend(_record_decisions(connection, plan, now, recorded))
            events.extend(_record_manual_handling(connection, plan, now, recorded))
            events.extend(_record_demands_not_sent(connection, plan, now, recorded))
        recorded.events = len(append_events(session, now, events))
        session.commit()
    return recorded


def _record_assessment(connection: Connection, plan: CustomerPlan, current: str | None) -> list[NewEvent]:
    assessment = plan.assessment
    if assessment is None or current == assessment.tier.value:
        return []
    connection.execute(
        sa.update(customer_t)
        .where(customer_t.c.id == plan.customer)
        .values(current_tier=assessment.tier.value)
    )
    return [
        NewEvent(
            kind=EventKind.TIER_CHANGE,
            actor=ACTOR,
            customer=plan.customer,
            data={
                "as_of": plan.as_of,
                "from": current,
                "to": assessment.tier,
                "score": assessment.score,
                "scored_tier": assessment.scored_tier,
                "overridden": assessment.overridden,
                "trend_overdue": assessment.trend_overdue,
                "components": dict(assessment.components),
                "reason": assessment.reason,
            },
            dedupe_key=f"tier:{plan.customer}:{plan.as_of}:{current}->{assessment.tier.value}",
        )
    ]


def _alert_events(plan: CustomerPlan) -> list[NewEvent]:
    events = [
        NewEvent(
            kind=EventKind.ALERT,
            actor=ACTOR,
            customer=w.customer,
            invoices=(w.invoice,),
            data={
                "alert": "early_warning",
                "as_of": plan.as_of,
                "days_overdue": w.days_overdue,
                "threshold_days": w.threshold_days,
                "recommend_credit_hold": w.recommend_credit_hold,
            },
            dedupe_key=f"early_warning:{w.invoice}",
        )
        for w in plan.early_warnings
    ]
    assessment = plan.assessment
    if assessment is not None and assessment.trend_invoices:
        # DESIGN §3: the trend is an evidence event of its own, also when the tier does not move
        # (an override, or already the lowest tier). Once per pair of invoices: the same two late
        # invoices are not news tomorrow; a later pair is.
        events.append(
            NewEvent(
                kind=EventKind.ALERT,
                actor=ACTOR,
                customer=plan.customer,
                invoices=assessment.trend_invoices,
                data={
                    "alert": "trend_overdue",
                    "as_of": plan.as_of,
                    "tier": assessment.tier,
                    "scored_tier": assessment.scored_tier,
                    "overridden": assessment.overridden,
                    "reason": assessment.reason,
                },
                # invoice numbers are unique and may hold any character: a JSON list names the pair
                dedupe_key="trend_overdue:" + json.dumps(assessment.trend_invoices, ensure_ascii=False),
            )
        )
    events += [
        NewEvent(
            kind=EventKind.BROKEN_PROMISE,
            actor=ACTOR,
            customer=b.customer,
            invoices=(b.invoice,),
            data={
                "as_of": plan.as_of,
                "promised_on": b.promised_on,
                "promised_amount": b.promised_amount,
                "outstanding": b.outstanding,
            },
            dedupe_key=f"broken_promise:{b.invoice}:{b.promised_on}",
        )
        for b in plan.broken_promises
    ]
    return events


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


def _record_decisions(
    connection: Connection, plan: CustomerPlan, now: datetime, recorded: RecordedPlan
) -> list[NewEvent]:
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
        inserted = _insert_ignore(connection, execution_t, rows)
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


# Who handles what the bot must not send (the collections team, like review tasks).
MANUAL_ASSIGNEE = "collector"


def _record_manual_handling(
    connection: Connection, plan: CustomerPlan, now: datetime, recorded: RecordedPlan
) -> list[NewEvent]:
    """A do_not_contact customer with overdue invoices gets ONE open collector task, not one a day.

    The task is raised the first day the plan decides its invoices ``manual``; while it is open no
    other is, and once a collector closed it, another comes only for an invoice that none of the
    customer's earlier tasks named (one that fell overdue since). The plan keeps showing them all,
    with why. A rejected legal step raises its own task when it is rejected (``approval.decide``).
    """
    if not plan.do_not_contact:
        return []
    manual = [d for d in plan.decisions if d.status is DecisionStatus.MANUAL]
    if not manual:
        return []
    invoices = tuple(d.invoice for d in manual)
    first_key = f"manual:do_not_contact:{plan.customer}"
    earlier = connection.execute(
        sa.select(task_t.c.status, task_t.c.invoices).where(
            task_t.c.customer_id == plan.customer,
            sa.or_(
                task_t.c.dedupe_key == first_key,
                sa.func.substr(task_t.c.dedupe_key, 1, len(first_key) + 1) == f"{first_key}:",
            ),
        )
    ).all()
    if any(row.status == "open" for row in earlier):
        return []
    covered = {number for row in earlier for number in json.loads(row.invoices)}
    fresh = [number for number in invoices if number not in covered]
    if not fresh:
        return []
    # The first task keeps the customer's own key; a later one is named by an invoice no task named.
    dedupe_key = f"{first_key}:{fresh[0]}" if earlier else first_key
    lines = [
        f"{d.invoice}: {d.outstanding} {d.currency} outstanding, {d.days_overdue} days overdue"
        for d in manual
    ]
    title = (
        f"Handle {plan.customer} by hand: do_not_contact, {len(manual)} overdue invoice(s) "
        f"({', '.join(invoices)})"
    )[:500]
    body = (
        f"{plan.customer} is marked do_not_contact, so dunbot sends it nothing. Decide how to collect "
        "these invoices (or clear do_not_contact in the customer file):\n" + "\n".join(lines)
    )
    inserted = _insert_ignore(
        connection,
        task_t,
        [
            {
                "kind": "manual",
                "customer_id": plan.customer,
                "invoices": json.dumps(list(invoices)),
                "step": None,
                "assignee": MANUAL_ASSIGNEE,
                "title": title,
                "body": body,
                "status": "open",
                "dedupe_key": dedupe_key,
                "created_at": now,
            }
        ],
    )
    if not inserted:
        return []
    recorded.tasks += 1
    return [
        NewEvent(
            kind=EventKind.TASK_CREATED,
            actor=ACTOR,
            customer=plan.customer,
            invoices=invoices,
            data={"task": inserted[0], "kind": "manual", "reason": "do_not_contact", "title": title},
            dedupe_key=f"task_created:{dedupe_key}",
        )
    ]


def _record_demands_not_sent(
    connection: Connection, plan: CustomerPlan, now: datetime, recorded: RecordedPlan
) -> list[NewEvent]:
    """An invoice whose legal step is due while the signed demand placed for it never went out (and
    none is still in the outbox) is ``manual`` (rule 2): ONE collector task per invoice, raised the
    first day and never again (the plan keeps showing it, with why)."""
    if plan.do_not_contact:
        return []  # its customer's one task covers it
    manual = DecisionStatus.MANUAL
    events: list[NewEvent] = []
    for invoice in plan.invoices:
        placement = invoice.placement
        if placement.status is not manual or not lacks_demand(placement):
            continue
        number = invoice.invoice
        step = plan.ladder[placement.step_index].name
        title = f"Send the first demand for {number} by hand, or decide: {step} is due"[:500]
        body = (
            f"{number} of {plan.customer}: {invoice.outstanding} {invoice.currency} outstanding, "
            f"{invoice.days_overdue} days overdue. {placement.reason}. {step} needs a signed demand "
            "sent first; once one has gone out, it is placed again after the lead time."
        )
        dedupe = f"manual:no_demand:{number}"
        inserted = _insert_ignore(
            connection,
            task_t,
            [
                {
                    "kind": "manual",
                    "customer_id": plan.customer,
                    "invoices": json.dumps([number]),
                    "step": step,
                    "assignee": MANUAL_ASSIGNEE,
                    "title": title,
                    "body": body,
                    "status": "open",
                    "dedupe_key": dedupe,
                    "created_at": now,
                }
            ],
        )
        if not inserted:
            continue
        recorded.tasks += 1
        events.append(
            NewEvent(
                kind=EventKind.TASK_CREATED,
                actor=ACTOR,
                customer=plan.customer,
                invoices=(number,),
                data={"task": inserted[0], "kind": "manual", "reason": "no_demand", "title": title},
                dedupe_key=f"task_created:{dedupe}",
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
        inserted = _insert_ignore(
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
    inserted = _insert_ignore(
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
