"""Rich renderings of plans and reports for people (the CLI and the demo print with these)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

out = Console(soft_wrap=False)


def print_plan(preview: Any, limit: int | None = None) -> None:
    """A Rich table of a plan (the first ``limit`` decisions) and a summary line."""
    table = Table(title=f"Dunning plan for {preview.as_of}", show_lines=False)
    for column, justify in (
        ("invoice", "left"),
        ("customer", "left"),
        ("tier", "left"),
        ("step", "left"),
        ("days", "right"),
        ("channels", "left"),
        ("late fee", "right"),
        ("status", "left"),
        ("reason", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    styles = {"planned": "green", "superseded": "dim", "deferred": "yellow", "awaiting_approval": "magenta"}
    decisions = preview.decisions
    for d in decisions[:limit] if limit is not None else decisions:
        table.add_row(
            d.invoice,
            d.customer,
            d.tier.value,
            d.step,
            str(d.days_overdue),
            ", ".join(c.value for c in d.channels),
            f"{d.late_fee} {d.currency}",
            f"[{styles.get(d.status.value, '')}]{d.status.value}[/]",
            d.reason,
        )
    if limit is not None and len(decisions) > limit:
        table.caption = f"first {limit} of {len(decisions)} decisions; `dunbot plan` shows them all"
    out.print(table)
    counts: dict[str, int] = {}
    for d in preview.decisions:
        counts[d.status.value] = counts.get(d.status.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing due"
    tiers = ", ".join(f"{n} {t.value}" for t, n in sorted(preview.tiers.items())) or "none"
    out.print(
        f"{preview.customers} customer(s) ({preview.customers_off_day} not on a business day); "
        f"tiers: {tiers}; decisions: {summary}"
    )


def print_aging(report: Any) -> None:
    """Rich tables of an aging report."""
    buckets = report.bucket_names
    for title, rows in (("by tier", report.by_tier), ("by customer", report.by_customer)):
        table = Table(title=f"Aging {title} as of {report.as_of}")
        for column in (*report.key_names(title), "currency", *buckets, "total"):
            table.add_column(column, justify="right" if column in (*buckets, "total") else "left")
        for row in rows:
            table.add_row(
                *row.keys, row.currency, *(f"{row.amounts[b]:,}" for b in buckets), f"{row.total:,}"
            )
        out.print(table)


def print_kpi(report: Any, days: int) -> None:
    """A Rich table of a KPI report."""
    table = Table(title=f"KPIs for {report.start} – {report.end} ({days} days)")
    for column in ("tier", "currency", "receivables", "overdue", "overdue rate", "DSO (days)", "CEI"):
        table.add_column(column, justify="left" if column in ("tier", "currency") else "right")
    for row in report.rows:
        table.add_row(
            row.tier,
            row.currency,
            f"{row.receivables:,}",
            f"{row.overdue:,}",
            _pct(row.overdue_rate),
            "—" if row.dso is None else f"{row.dso}",
            _pct(row.cei),
        )
    out.print(table)


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value} %"
