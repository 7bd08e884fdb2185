"""`dunbot plan` (and the demo's plan) for people: one line per decision, and a summary."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from bot.cli.views.tables import Column, out, print_fitted
from bot.domain.decisions import DecisionStatus

# Every cell of a plan row is read whole, so each decision keeps one line: on a narrower terminal
# whole columns are left out (the reason first), never wrapped or cut. --json has them all.
PLAN_COLUMNS = (
    Column("invoice", whole=True),
    Column("customer", whole=True),
    Column("tier", whole=True, drop=3),
    Column("step", whole=True),
    Column("days", justify="right", whole=True),
    Column("channels", whole=True, drop=2),
    Column("late fee", justify="right", whole=True, drop=4),
    Column("status", whole=True),
    Column("reason", whole=True, drop=1),
)
_PLAN_STYLES = {
    "planned": "green",
    "superseded": "dim",
    "deferred": "yellow",
    "awaiting_approval": "magenta",
    "manual": "bold red",  # collectors must act: never a quiet colour
}


def print_plan(preview: Any, limit: int | None = None, *, show_superseded: bool = False) -> None:
    """A table of a plan's decisions (the first ``limit`` shown), one line each, and a summary line.

    Superseded decisions (earlier steps that will never be sent) are hidden unless
    ``show_superseded``; a line says how many.
    """
    decisions = [d for d in preview.decisions if show_superseded or d.status is not DecisionStatus.SUPERSEDED]
    hidden = 0 if show_superseded else preview.status_counts.get(DecisionStatus.SUPERSEDED.value, 0)
    total = preview.decision_count - hidden
    shown = decisions[:limit] if limit is not None else decisions
    if shown:
        print_fitted(
            f"Dunning plan for {preview.as_of}",
            PLAN_COLUMNS,
            [
                [
                    d.invoice,
                    d.customer,
                    d.tier.value,
                    d.step,
                    str(d.days_overdue),
                    ", ".join(c.value for c in d.channels),
                    f"{d.late_fee} {d.currency}",
                    Text(d.status.value, style=_PLAN_STYLES.get(d.status.value, "")),
                    d.reason,
                ]
                for d in shown
            ],
        )
    else:
        out.print(f"nothing to show for {preview.as_of}", highlight=False)
    manual = [d for d in shown if d.status is DecisionStatus.MANUAL]
    if manual:
        # Why collectors must act is what a manual row is for: said whole, even where the table
        # had to leave its reason column out.
        out.print("manual, for collectors to handle:", style="bold red", highlight=False)
        for d in manual:
            out.print(f"  {d.invoice} ({d.customer}): {d.reason}", markup=False, highlight=False)
    if len(shown) < total:
        all_flag = " --all" if show_superseded else ""
        out.print(f"first {len(shown)} of {total} decisions; `dunbot plan{all_flag} --json` lists them all")
    if hidden:
        out.print(
            f"{hidden} superseded decision(s) hidden (`dunbot plan --all` shows them)",
            highlight=False,
        )
    summary = ", ".join(f"{n} {s}" for s, n in sorted(preview.status_counts.items())) or "nothing due"
    tiers = ", ".join(f"{n} {t.value}" for t, n in sorted(preview.tiers.items())) or "none"
    out.print(
        f"{preview.customers} customer(s) ({preview.customers_off_day} not on a business day); "
        f"tiers: {tiers}; decisions: {summary}"
    )
