"""The console dashboard's numbers (DESIGN §10): aging per tier, overdue rate, DSO and CEI over time,
the last cycle and the outbox's states. Read only; the charts are drawn by :mod:`bot.web.charts`.

Nothing here is a second definition: aging and the KPIs are the tallies behind ``dunbot report
aging`` and ``dunbot report kpi`` (:mod:`bot.domain.reports`), the cycle and the outbox come from the
operations snapshot behind ``dunbot status`` and ``/metrics`` (:mod:`bot.reporting.operations`).

**History.** Each point of the DSO/CEI series is what ``dunbot report kpi --as-of D`` prints for its
date D (the default 90-day period), computed from one read of the ledger as of the dashboard's date:
the domain already reads a ledger as of an earlier date — an invoice issued after D does not exist
yet, a payment dated after D has not been made (``Invoice.outstanding_as_of``, ``settled_on``), and
each customer is tiered by the scorecard as of D. So one pass over the customers feeds every point,
instead of one pass per point. What the ledger does not keep a history of is, for the past points as
for ``report kpi --as-of``, taken as it stands today: an invoice's status (written off, disputed) and
a customer's tier override.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.domain.reports import AGING_BUCKETS, AgingTally, KpiRow, KpiTally
from bot.reporting.operations import PENDING_STATES, CycleInfo, snapshot
from bot.reporting.receivables import tier_on
from bot.store.engine import require_schema
from bot.store.queries import iter_ledgers

# `dunbot report kpi`'s default period: each history point is that command's answer on its date.
KPI_DAYS = 90
HISTORY_MONTHS = 12


@dataclass(frozen=True, slots=True)
class TierAging:
    """Outstanding per aging bucket for one tier in one currency (``report aging``'s "by tier" row)."""

    tier: str
    currency: str
    amounts: tuple[Decimal, ...]  # in the order of ``Dashboard.buckets``

    @property
    def total(self) -> Decimal:
        """Sum over the buckets."""
        return sum(self.amounts, Decimal(0))


@dataclass(frozen=True, slots=True)
class KpiPoint:
    """The KPIs for the ``days`` ending on ``end``, as ``dunbot report kpi --as-of end`` gives them."""

    end: date
    by_tier: tuple[KpiRow, ...]  # per tier and currency, tiers as of ``end``
    totals: tuple[KpiRow, ...]  # per currency over every tier (tier "all")


@dataclass(frozen=True, slots=True)
class OutboxState:
    """How many outbox messages are in one state, and through which channels."""

    state: str
    count: int
    by_channel: tuple[tuple[str, int], ...]  # (channel, count), channels in name order


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Everything the dashboard page shows, as of one business date and one instant."""

    as_of: date
    now: datetime
    buckets: tuple[str, ...]
    aging: tuple[TierAging, ...]  # tiers in tier order, then currency
    kpi_days: int
    history: tuple[KpiPoint, ...]  # oldest first; the last point is ``as_of``
    last_cycle: CycleInfo | None  # the most recently finished cycle_run, if any
    outbox: tuple[OutboxState, ...]  # pending states first, then the rest by name

    @property
    def today(self) -> KpiPoint:
        """The KPIs as of the dashboard's date (its overdue rate is the dashboard's)."""
        return self.history[-1]

    @property
    def currencies(self) -> tuple[str, ...]:
        """Every currency with receivables now or at a history point, in name order."""
        found = {row.currency for row in self.aging}
        found.update(row.currency for point in self.history for row in point.totals)
        return tuple(sorted(found))

    @property
    def cycle_ran_today(self) -> bool:
        """Whether the last cycle was for the dashboard's business date."""
        return self.last_cycle is not None and self.last_cycle.as_of == self.as_of.isoformat()

    @property
    def is_empty(self) -> bool:
        """No receivables, no history, no cycle and no messages: nothing to draw yet."""
        return (
            not self.aging
            and not any(point.by_tier for point in self.history)
            and self.last_cycle is None
            and not self.outbox
        )


def history_dates(as_of: date, months: int = HISTORY_MONTHS) -> tuple[date, ...]:
    """The last ``months`` month-ends on or before ``as_of``, oldest first, then ``as_of`` itself
    unless it is one of them."""
    ends: list[date] = []
    month_end = as_of if (as_of + timedelta(days=1)).day == 1 else as_of.replace(day=1) - timedelta(days=1)
    while len(ends) < months:
        ends.append(month_end)
        month_end = month_end.replace(day=1) - timedelta(days=1)
    ends.reverse()
    if not ends or ends[-1] != as_of:
        ends.append(as_of)
    return tuple(ends)


def dashboard(
    engine: Engine,
    settings: Settings,
    as_of: date,
    now: datetime,
    *,
    months: int = HISTORY_MONTHS,
    kpi_days: int = KPI_DAYS,
) -> Dashboard:
    """The dashboard as of the business date ``as_of`` (aging, KPIs) and the instant ``now`` (outbox).

    One read of the ledger as of ``as_of`` feeds the aging and every history point (see the module
    docstring); each customer is tiered once per point.
    """
    require_schema(engine)
    policy = settings.planning_policy()
    dates = history_dates(as_of, months)
    aging = AgingTally(as_of, per_customer=False)
    tallies = [KpiTally(end, kpi_days) for end in dates]
    with engine.connect() as connection:
        for ledger in iter_ledgers(connection, as_of):
            tiers = {end: tier_on(end, ledger, policy) for end in dates}
            aging.add(ledger, tiers[as_of])
            for tally in tallies:
                tally.add(ledger, tiers[tally.end])
    operations = snapshot(engine, now)
    return Dashboard(
        as_of=as_of,
        now=now,
        buckets=AGING_BUCKETS,
        aging=tuple(
            TierAging(row.keys[0], row.currency, tuple(row.amounts[b] for b in AGING_BUCKETS))
            for row in aging.result().by_tier
        ),
        kpi_days=kpi_days,
        history=tuple(KpiPoint(t.end, tuple(t.rows()), tuple(t.totals())) for t in tallies),
        last_cycle=operations.last_cycle,
        outbox=_outbox(operations.messages),
    )


def _outbox(messages: dict[tuple[str, str], int]) -> tuple[OutboxState, ...]:
    by_state: dict[str, dict[str, int]] = {}
    for (channel, state), count in messages.items():
        by_state.setdefault(state, {})[channel] = count
    order = {state: index for index, state in enumerate(PENDING_STATES)}
    states = sorted(by_state, key=lambda state: (order.get(state, len(order)), state))
    return tuple(
        OutboxState(state, sum(by_state[state].values()), tuple(sorted(by_state[state].items())))
        for state in states
    )
