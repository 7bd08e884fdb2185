"""Receivables reports: aging buckets and collection KPIs. Pure: ledgers and tiers in, rows out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from bot.domain.ledger import Customer, CustomerLedger, Invoice, InvoiceStatus, Tier

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
_TIER_ORDER = {t.value: i for i, t in enumerate(Tier)}
# An enum member read through its class costs a descriptor call; the tallies test it per invoice.
_WRITTEN_OFF = InvoiceStatus.WRITTEN_OFF


def aging_bucket(days_overdue: int) -> str:
    """The bucket of an invoice ``days_overdue`` days past its due date (≤ 0 is current)."""
    if days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "1-30"
    if days_overdue <= 60:
        return "31-60"
    if days_overdue <= 90:
        return "61-90"
    return "90+"


def handling_note(customer: Customer, as_of: date) -> str:
    """Why the ladder does not chase ``customer`` on ``as_of`` ("" when it does): collectors
    handle a do_not_contact customer by hand; a paused one waits for its date."""
    if customer.do_not_contact:
        return "do_not_contact: collectors handle it by hand"
    if customer.paused_until is not None and customer.paused_until >= as_of:
        return f"paused until {customer.paused_until}"
    return ""


def _collectable(invoice: Invoice, as_of: date) -> bool:
    # Written-off invoices are no longer receivables; disputed ones still are.
    return invoice.status is not _WRITTEN_OFF and invoice.issue_date <= as_of


@dataclass
class AgingRow:
    """Outstanding per bucket for one key (a customer or a tier) in one currency."""

    keys: tuple[str, ...]
    currency: str
    amounts: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(AGING_BUCKETS, Decimal(0)))
    # Why the bot does not chase this customer, when it does not ("do_not_contact", a pause).
    note: str = ""

    @property
    def total(self) -> Decimal:
        """Sum over the buckets."""
        return sum(self.amounts.values(), Decimal(0))

    def as_json(self, key_names: tuple[str, ...]) -> dict[str, object]:
        """Plain JSON with decimal strings."""
        document: dict[str, object] = dict(zip(key_names, self.keys, strict=True))
        document["currency"] = self.currency
        document.update({bucket: str(amount) for bucket, amount in self.amounts.items()})
        document["total"] = str(self.total)
        if self.note:
            document["note"] = self.note
        return document


@dataclass
class Aging:
    """Aging per customer and per tier, each split by currency (amounts never mix currencies)."""

    as_of: date
    by_customer: list[AgingRow]
    by_tier: list[AgingRow]


class AgingTally:
    """Aging built one ledger at a time, so one pass over the ledger can feed several reports."""

    def __init__(self, as_of: date, *, per_customer: bool = True) -> None:
        self.as_of = as_of
        self.per_customer = per_customer  # the dashboard needs only the tiers
        self._customers: dict[tuple[str, str, str, str], AgingRow] = {}
        self._tiers: dict[tuple[str, str], AgingRow] = {}

    def add(self, ledger: CustomerLedger, tier: Tier) -> None:
        """Bucket this customer's collectable invoices as of the tally's date."""
        as_of, c = self.as_of, ledger.customer
        for invoice in ledger.invoices:
            if not _collectable(invoice, as_of):
                continue
            outstanding = invoice.outstanding_as_of(as_of)
            if outstanding == 0:
                continue
            bucket = aging_bucket((as_of - invoice.due_date).days)
            if self.per_customer:
                row = self._customers.setdefault(
                    (c.id, c.name, tier.value, invoice.currency),
                    AgingRow((c.id, c.name, tier.value), invoice.currency, note=handling_note(c, as_of)),
                )
                row.amounts[bucket] += outstanding
            tier_row = self._tiers.setdefault(
                (tier.value, invoice.currency), AgingRow((tier.value,), invoice.currency)
            )
            tier_row.amounts[bucket] += outstanding

    def result(self) -> Aging:
        """The rows, customers by id and tiers in tier order, each then by currency."""
        customers, tiers = self._customers, self._tiers
        return Aging(
            as_of=self.as_of,
            by_customer=[customers[k] for k in sorted(customers)],
            by_tier=[tiers[k] for k in sorted(tiers, key=lambda k: (_TIER_ORDER[k[0]], k[1]))],
        )


def aging(as_of: date, ledgers: Iterable[tuple[CustomerLedger, Tier]]) -> Aging:
    """Bucket every collectable invoice's outstanding as of ``as_of``."""
    tally = AgingTally(as_of)
    for ledger, tier in ledgers:
        tally.add(ledger, tier)
    return tally.result()


@dataclass
class KpiRow:
    """Collection KPIs for one tier in one currency over a period."""

    tier: str
    currency: str
    receivables: Decimal  # outstanding at the end of the period
    overdue: Decimal  # of which past due
    credit_sales: Decimal  # invoiced during the period
    beginning_receivables: Decimal
    overdue_rate: Decimal | None  # overdue / receivables, in %
    dso: Decimal | None  # receivables / credit sales × days
    cei: Decimal | None  # collection effectiveness index, in %

    def as_json(self) -> dict[str, object]:
        """Plain JSON with decimal strings (null where a ratio has no denominator)."""
        return {
            "tier": self.tier,
            "currency": self.currency,
            "receivables": str(self.receivables),
            "overdue": str(self.overdue),
            "credit_sales": str(self.credit_sales),
            "beginning_receivables": str(self.beginning_receivables),
            "overdue_rate": None if self.overdue_rate is None else str(self.overdue_rate),
            "dso": None if self.dso is None else str(self.dso),
            "cei": None if self.cei is None else str(self.cei),
        }


def _ratio(numerator: Decimal, denominator: Decimal, scale: Decimal) -> Decimal | None:
    if denominator == 0:
        return None
    return (numerator / denominator * scale).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


_SUMS = ("receivables", "overdue", "current", "sales", "beginning")


class KpiTally:
    """KPI sums built one ledger at a time, so one pass over the ledger can feed several periods."""

    def __init__(self, end: date, days: int) -> None:
        self.end = end
        self.days = days
        self._before = end - timedelta(days=days)  # the day before the period starts
        self._sums: dict[tuple[str, str], dict[str, Decimal]] = {}

    def add(self, ledger: CustomerLedger, tier: Tier) -> None:
        """Add this customer's invoices, under ``tier``."""
        end, before, sums, tier_name = self.end, self._before, self._sums, tier.value
        for invoice in ledger.invoices:
            if invoice.issue_date > end or invoice.status is _WRITTEN_OFF:
                continue
            s = sums.get((tier_name, invoice.currency))
            if s is None:
                s = sums[(tier_name, invoice.currency)] = dict.fromkeys(_SUMS, Decimal(0))
            outstanding = invoice.outstanding_as_of(end)
            s["receivables"] += outstanding
            if invoice.due_date < end:
                s["overdue"] += outstanding
            else:
                s["current"] += outstanding
            if invoice.issue_date > before:
                s["sales"] += invoice.amount
            else:
                s["beginning"] += invoice.outstanding_as_of(before)

    def rows(self) -> list[KpiRow]:
        """One row per tier and currency, in tier order."""
        ordered = sorted(self._sums.items(), key=lambda kv: (_TIER_ORDER[kv[0][0]], kv[0][1]))
        return [_kpi_row(tier, currency, s, self.days) for (tier, currency), s in ordered]

    def totals(self) -> list[KpiRow]:
        """One row per currency over every tier (tier ``"all"``): the ratios of the sums, not an
        average of the tiers' ratios."""
        by_currency: dict[str, dict[str, Decimal]] = {}
        for (_, currency), s in self._sums.items():
            total = by_currency.setdefault(currency, dict.fromkeys(_SUMS, Decimal(0)))
            for name in _SUMS:
                total[name] += s[name]
        return [_kpi_row("all", c, by_currency[c], self.days) for c in sorted(by_currency)]


def _kpi_row(tier: str, currency: str, s: dict[str, Decimal], days: int) -> KpiRow:
    collectable = s["beginning"] + s["sales"]
    return KpiRow(
        tier=tier,
        currency=currency,
        receivables=s["receivables"],
        overdue=s["overdue"],
        credit_sales=s["sales"],
        beginning_receivables=s["beginning"],
        overdue_rate=_ratio(s["overdue"], s["receivables"], Decimal(100)),
        dso=_ratio(s["receivables"], s["sales"], Decimal(days)),
        cei=_ratio(collectable - s["receivables"], collectable - s["current"], Decimal(100)),
    )


def kpis(end: date, days: int, ledgers: Iterable[tuple[CustomerLedger, Tier]]) -> list[KpiRow]:
    """Overdue rate, DSO and CEI per tier and currency for the ``days`` ending on ``end``.

    CEI = (beginning receivables + credit sales − ending receivables)
          / (beginning receivables + credit sales − ending current receivables) × 100.
    """
    tally = KpiTally(end, days)
    for ledger, tier in ledgers:
        tally.add(ledger, tier)
    return tally.rows()
