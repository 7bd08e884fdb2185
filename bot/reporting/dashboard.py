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

**Snapshots.** On 100,000 customers the computation takes half a minute, too long for a page. So
after every cycle and every import or sync, :func:`refresh_dashboard` computes it once and stores it
in ``dashboard_snapshot`` as JSON (:func:`to_json`, exact: amounts as decimal strings, instants
with their offset; :func:`from_json` gives back an equal :class:`Dashboard`). The page reads the
newest one (:func:`latest_snapshot`). Only the newest snapshot of each business date is kept, for
:data:`KEEP_DAYS` days.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.domain.reports import AGING_BUCKETS, AgingTally, KpiRow, KpiTally
from bot.reporting.operations import PENDING_STATES, CycleInfo, snapshot
from bot.reporting.receivables import tier_on
from bot.store import tables
from bot.store.engine import require_schema
from bot.store.queries import iter_ledgers

# `dunbot report kpi`'s default period: each history point is that command's answer on its date.
KPI_DAYS = 90
HISTORY_MONTHS = 12
# Stored dashboards: the newest of each business date, for this many days back from the newest.
KEEP_DAYS = 400
SNAPSHOT_FORMAT = 1  # the "format" of the stored JSON; a stored body of another format is not read

snapshot_t = tables.DashboardSnapshot.__table__  # type: ignore[attr-defined]
customer_t = tables.Customer.__table__  # type: ignore[attr-defined]


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


# --- stored snapshots -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredDashboard:
    """A dashboard read back from ``dashboard_snapshot``."""

    id: int
    computed_at: datetime
    board: Dashboard


def to_json(board: Dashboard) -> str:
    """``board`` as JSON text: decimals as strings, dates ISO, instants ISO with their offset."""
    return json.dumps(_board_json(board), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def from_json(text: str) -> Dashboard:
    """The :class:`Dashboard` that :func:`to_json` wrote (equal to it, field for field)."""
    data = json.loads(text)
    if data.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"dashboard snapshot format {data.get('format')!r}, expected {SNAPSHOT_FORMAT}")
    cycle = data["last_cycle"]
    return Dashboard(
        as_of=date.fromisoformat(data["as_of"]),
        now=datetime.fromisoformat(data["now"]),
        buckets=tuple(data["buckets"]),
        aging=tuple(
            TierAging(row["tier"], row["currency"], tuple(Decimal(a) for a in row["amounts"]))
            for row in data["aging"]
        ),
        kpi_days=int(data["kpi_days"]),
        history=tuple(
            KpiPoint(
                date.fromisoformat(point["end"]),
                tuple(_kpi_row(row) for row in point["by_tier"]),
                tuple(_kpi_row(row) for row in point["totals"]),
            )
            for point in data["history"]
        ),
        last_cycle=None
        if cycle is None
        else CycleInfo(
            worker=cycle["worker"],
            as_of=cycle["as_of"],
            started_at=datetime.fromisoformat(cycle["started_at"]),
            finished_at=datetime.fromisoformat(cycle["finished_at"]),
            ok=bool(cycle["ok"]),
            error=cycle["error"],
            messages_sent=int(cycle["messages_sent"]),
            messages_failed=int(cycle["messages_failed"]),
            messages_unknown=int(cycle["messages_unknown"]),
        ),
        outbox=tuple(
            OutboxState(
                state["state"],
                int(state["count"]),
                tuple((str(channel), int(count)) for channel, count in state["by_channel"]),
            )
            for state in data["outbox"]
        ),
    )


def store_snapshot(engine: Engine, board: Dashboard, computed_at: datetime) -> int:
    """Store ``board`` as the newest dashboard of its date; older ones of the same date, and any of a
    date more than :data:`KEEP_DAYS` days before it, are deleted. Returns the new row's id."""
    with engine.begin() as connection:
        inserted = connection.execute(
            snapshot_t.insert().values(as_of=board.as_of, computed_at=computed_at, body=to_json(board))
        )
        key = inserted.inserted_primary_key
        if key is None:  # pragma: no cover - every dialect we run gives an autoincrement id back
            raise RuntimeError("the database gave no id for the stored dashboard")
        new_id = int(key[0])
        connection.execute(
            snapshot_t.delete().where(
                sa.or_(
                    snapshot_t.c.as_of < board.as_of - timedelta(days=KEEP_DAYS),
                    sa.and_(snapshot_t.c.as_of == board.as_of, snapshot_t.c.id != new_id),
                )
            )
        )
    return new_id


def refresh_dashboard(engine: Engine, settings: Settings, as_of: date, now: datetime) -> Dashboard:
    """Compute the dashboard as of ``as_of`` and store it (after a cycle, an import, a sync)."""
    board = dashboard(engine, settings, as_of, now)
    store_snapshot(engine, board, now)
    return board


def latest_snapshot(engine: Engine, as_of: date) -> StoredDashboard | None:
    """The newest stored dashboard of a date on or before ``as_of``, or None."""
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(snapshot_t.c.id, snapshot_t.c.computed_at, snapshot_t.c.body)
            .where(snapshot_t.c.as_of <= as_of)
            .order_by(snapshot_t.c.as_of.desc(), snapshot_t.c.computed_at.desc(), snapshot_t.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    return StoredDashboard(id=int(row.id), computed_at=row.computed_at, board=from_json(row.body))


def customer_count(engine: Engine) -> int:
    """How many customers the ledger has (whether the page may compute the dashboard live)."""
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(customer_t)).scalar_one())


def _board_json(board: Dashboard) -> dict[str, Any]:
    cycle = board.last_cycle
    return {
        "format": SNAPSHOT_FORMAT,
        "as_of": board.as_of.isoformat(),
        "now": board.now.isoformat(),
        "buckets": list(board.buckets),
        "aging": [
            {"tier": row.tier, "currency": row.currency, "amounts": [str(a) for a in row.amounts]}
            for row in board.aging
        ],
        "kpi_days": board.kpi_days,
        "history": [
            {
                "end": point.end.isoformat(),
                "by_tier": [row.as_json() for row in point.by_tier],
                "totals": [row.as_json() for row in point.totals],
            }
            for point in board.history
        ],
        "last_cycle": None
        if cycle is None
        else {
            "worker": cycle.worker,
            "as_of": cycle.as_of,
            "started_at": cycle.started_at.isoformat(),
            "finished_at": cycle.finished_at.isoformat(),
            "ok": cycle.ok,
            "error": cycle.error,
            "messages_sent": cycle.messages_sent,
            "messages_failed": cycle.messages_failed,
            "messages_unknown": cycle.messages_unknown,
        },
        "outbox": [
            {"state": s.state, "count": s.count, "by_channel": [[c, n] for c, n in s.by_channel]}
            for s in board.outbox
        ],
    }


def _kpi_row(data: dict[str, Any]) -> KpiRow:
    def ratio(key: str) -> Decimal | None:
        value = data[key]
        return None if value is None else Decimal(value)

    return KpiRow(
        tier=data["tier"],
        currency=data["currency"],
        receivables=Decimal(data["receivables"]),
        overdue=Decimal(data["overdue"]),
        credit_sales=Decimal(data["credit_sales"]),
        beginning_receivables=Decimal(data["beginning_receivables"]),
        overdue_rate=ratio("overdue_rate"),
        dso=ratio("dso"),
        cei=ratio("cei"),
    )
