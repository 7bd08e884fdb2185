"""Report services: read the ledger, tier each customer as of the date, hand it to the domain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.engine import Connection, Engine

from bot.config import Settings
from bot.domain.ledger import CustomerLedger, Tier
from bot.domain.policy import PlanningPolicy
from bot.domain.reports import AGING_BUCKETS, Aging, AgingRow, KpiRow, aging, kpis
from bot.domain.tiers import assess
from bot.store.engine import require_schema
from bot.store.queries import iter_ledgers


def tier_on(as_of: date, ledger: CustomerLedger, policy: PlanningPolicy) -> Tier:
    """The customer's tier on ``as_of``, as every report tiers it (the ledger may reach past it)."""
    return assess(as_of, ledger, policy.scorecard, policy.compliance.tolerance).tier


def _tiered(connection: Connection, settings: Settings, as_of: date) -> Iterator[tuple[CustomerLedger, Tier]]:
    policy = settings.planning_policy()
    for ledger in iter_ledgers(connection, as_of):
        yield ledger, tier_on(as_of, ledger, policy)


@dataclass
class AgingReport:
    """An aging report ready to print or serialise."""

    aging: Aging
    bucket_names: tuple[str, ...] = AGING_BUCKETS

    @property
    def as_of(self) -> date:
        """Report date."""
        return self.aging.as_of

    @property
    def by_customer(self) -> list[AgingRow]:
        """Rows per customer and currency."""
        return self.aging.by_customer

    @property
    def by_tier(self) -> list[AgingRow]:
        """Rows per tier and currency."""
        return self.aging.by_tier

    @staticmethod
    def key_names(title: str) -> tuple[str, ...]:
        """Column names of the row keys for a table title."""
        return ("customer", "name", "tier") if title == "by customer" else ("tier",)

    def as_json(self) -> dict[str, object]:
        """JSON document (amounts as decimal strings)."""
        return {
            "as_of": self.as_of.isoformat(),
            "buckets": list(self.bucket_names),
            "by_tier": [r.as_json(("tier",)) for r in self.by_tier],
            "by_customer": [r.as_json(("customer", "name", "tier")) for r in self.by_customer],
        }


def aging_report(engine: Engine, settings: Settings, as_of: date) -> AgingReport:
    """Aging as of ``as_of``."""
    require_schema(engine)
    with engine.connect() as connection:
        return AgingReport(aging(as_of, _tiered(connection, settings, as_of)))


@dataclass
class KpiReport:
    """KPIs per tier over a period."""

    start: date
    end: date
    rows: list[KpiRow]

    def as_json(self) -> dict[str, object]:
        """JSON document."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": (self.end - self.start).days + 1,
            "tiers": [r.as_json() for r in self.rows],
        }


def kpi_report(engine: Engine, settings: Settings, end: date, days: int) -> KpiReport:
    """KPIs for the ``days`` ending on ``end``; tiers as of ``end``."""
    require_schema(engine)
    with engine.connect() as connection:
        rows = kpis(end, days, _tiered(connection, settings, end))
    return KpiReport(start=end - timedelta(days=days - 1), end=end, rows=rows)
