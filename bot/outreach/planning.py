"""Planning a business day: read the ledger, ask the domain, and (in a cycle) record the result.

``preview_plan`` has no side effects (`dunbot plan`). ``record_plan`` is the planning half of a
cycle: in ONE transaction, under the planning lock, it writes step executions, outbox messages,
approval tasks and the evidence events, every insert guarded by a unique key so that running it
twice for the same day changes nothing.

The parts: ``bot.outreach.plan_preview`` plans without writing (``dunbot plan`` and ``--json``),
``bot.outreach.plan_recording`` records the step decisions, ``bot.outreach.plan_alerts`` the
customer's assessment and alerts, ``bot.outreach.plan_manual_tasks`` the collector tasks of
``manual`` decisions. This module holds the transaction that runs them, and re-exports the names
other code imports from it.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from bot.config import Settings
from bot.evidence.log import NewEvent, append_events
from bot.outreach.plan_alerts import alert_events, record_assessment
from bot.outreach.plan_manual_tasks import MANUAL_ASSIGNEE, record_demands_not_sent, record_manual_handling
from bot.outreach.plan_preview import (
    PlanPreview,
    collect_preview,
    iter_plans,
    plans_on,
    preview_plan,
    write_plan_json,
)
from bot.outreach.plan_recording import ACTOR, RecordedPlan, record_decisions
from bot.store.engine import require_schema
from bot.store.queries import customer_t

__all__ = [
    "ACTOR",
    "MANUAL_ASSIGNEE",
    "PLANNING_LOCK_KEY",
    "PlanPreview",
    "RecordedPlan",
    "iter_plans",
    "preview_plan",
    "record_plan",
    "write_plan_json",
]

# Only one planner at a time on a shared PostgreSQL database (DESIGN §5).
PLANNING_LOCK_KEY = 0x706C616E


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
        preview = collect_preview(plans_on(connection, policy, as_of), as_of)
        recorded = RecordedPlan(preview)
        events: list[NewEvent] = []
        recorded_tiers = {
            row.id: row.current_tier
            for row in connection.execute(sa.select(customer_t.c.id, customer_t.c.current_tier))
        }
        for plan in preview.plans:
            events.extend(record_assessment(connection, plan, recorded_tiers.get(plan.customer)))
            events.extend(alert_events(plan))
            events.extend(record_decisions(connection, plan, now, recorded))
            events.extend(record_manual_handling(connection, plan, now, recorded))
            events.extend(record_demands_not_sent(connection, plan, now, recorded))
        recorded.events = len(append_events(session, now, events))
        session.commit()
    return recorded
