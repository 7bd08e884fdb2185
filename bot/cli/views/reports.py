"""`dunbot report aging` and `dunbot report kpi` for people: every amount whole at any width."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import RenderableType

from bot.cli.views.tables import Column, print_fitted

# What a key column of a report is: always shown and whole, or free text left out first.
_KEY_COLUMNS = {
    "customer": Column("customer", whole=True),
    "name": Column("name", drop=1),
    "tier": Column("tier", whole=True, drop=2),
}


def print_aging(report: Any) -> None:
    """Rich tables of an aging report: amounts whole at any width (a name gives way first)."""
    buckets = report.bucket_names
    for title, rows in (("by tier", report.by_tier), ("by customer", report.by_customer)):
        keys = report.key_names(title)
        # By tier the tier is the row's key: never left out there.
        key_columns = [Column(k, whole=True) if title == "by tier" else _KEY_COLUMNS[k] for k in keys]
        columns = [
            *key_columns,
            Column("currency", whole=True, short="ccy"),
            *(Column(name, justify="right", whole=True) for name in (*buckets, "total")),
        ]
        cells: list[list[RenderableType]] = [
            [*row.keys, row.currency, *(f"{row.amounts[b]:,}" for b in buckets), f"{row.total:,}"]
            for row in rows
        ]
        if any(row.note for row in rows):  # why the bot does not chase a customer (do_not_contact)
            columns.append(Column("note", drop=3))
            for row, line in zip(rows, cells, strict=True):
                line.append(row.note)
        print_fitted(f"Aging {title} as of {report.as_of}", columns, cells)


def print_kpi(report: Any, days: int) -> None:
    """A Rich table of a KPI report, every figure whole at any width."""
    columns = [
        Column("tier", whole=True),
        Column("currency", whole=True, short="ccy"),
        *(
            Column(name, justify="right", whole=True)
            for name in ("receivables", "overdue", "overdue rate", "DSO (days)", "CEI")
        ),
    ]
    cells = [
        [
            row.tier,
            row.currency,
            f"{row.receivables:,}",
            f"{row.overdue:,}",
            _pct(row.overdue_rate),
            "—" if row.dso is None else f"{row.dso}",
            _pct(row.cei),
        ]
        for row in report.rows
    ]
    print_fitted(f"KPIs for {report.start} – {report.end} ({days} days)", columns, cells)


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value} %"
