"""The day's plan read, never written: ``dunbot plan`` (``preview_plan``), its ``--json`` stream
(``write_plan_json``, also what bench/plan.py measures) and the plans one customer at a time.

Nothing here writes to the database; ``bot.outreach.planning.record_plan`` records a plan in a cycle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO

from sqlalchemy.engine import Connection, Engine

from bot.config import Settings
from bot.domain.decisions import CustomerPlan, DecisionStatus, PlanDecision
from bot.domain.ledger import Tier
from bot.domain.policy import PlanningPolicy
from bot.outreach.plan_json import write_json_array
from bot.outreach.plan_workers import can_fork, plan_slice, worker_count, write_in_parallel
from bot.store.engine import require_schema, shares_snapshots


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


def plans_on(connection: Connection, policy: PlanningPolicy, as_of: date) -> Iterator[CustomerPlan]:
    return plan_slice(connection, policy, as_of, None)


def collect_preview(
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
        return collect_preview(
            plans_on(connection, policy, as_of), as_of, keep, count_superseded=count_superseded
        )


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
        yield from plans_on(connection, policy, as_of)
