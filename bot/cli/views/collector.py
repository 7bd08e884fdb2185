"""What collectors read: their tasks (`dunbot tasks`), the contact log (`dunbot log`), and what a
promise or a dispute did to the open call tasks."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rich.markup import escape

from bot.cli.views.tables import Column, out, print_fitted
from bot.domain.money import format_amount


def tasks_json(tasks: Sequence[Any]) -> list[dict[str, Any]]:
    """The --json document of `dunbot tasks`."""
    return [
        {
            "id": t.id,
            "kind": t.kind,
            "customer": t.customer,
            "invoices": list(t.invoices),
            "step": t.step,
            "assignee": t.assignee,
            "title": t.title,
            "body": t.body,
            "status": t.status,
            "outcome": t.outcome,
            "note": t.note,
            "created_at": t.created_at.isoformat(),
            "done_at": t.done_at.isoformat() if t.done_at else None,
            "outstanding": {currency: str(amount) for currency, amount in t.outstanding},
            "due_date": t.due_date.isoformat() if t.due_date else None,
            "days_overdue": t.days_overdue,
        }
        for t in tasks
    ]


def _amounts(outstanding: Sequence[tuple[str, Decimal]]) -> str:
    return " + ".join(f"{format_amount(amount, currency)} {currency}" for currency, amount in outstanding)


def print_tasks(tasks: Sequence[Any], *, mine: str | None, include_done: bool = False) -> None:
    """Open (or all) tasks as a table: what each is about, how much and how late."""
    who = f" for {mine}" if mine else ""
    if not tasks:
        out.print(f"no {'' if include_done else 'open '}tasks{who}", highlight=False)
        return
    print_fitted(
        f"{len(tasks)} task(s){who}",
        [
            Column("id", justify="right", whole=True),
            Column("kind", whole=True),
            Column("customer", whole=True),
            Column("invoices", drop=5),
            Column("outstanding", justify="right", whole=True),
            Column("due date", whole=True, drop=4, short="due"),
            Column("days overdue", justify="right", whole=True, short="days"),
            Column("step", whole=True, drop=3),
            Column("assignee", whole=True, drop=2),
            Column("title"),
            Column("status", whole=True),
            Column("created (UTC)", whole=True, drop=1),
        ],
        [
            [
                str(t.id),
                t.kind,
                t.customer,
                ", ".join(t.invoices),
                _amounts(t.outstanding),
                f"{t.due_date}" if t.due_date else "",
                "" if t.days_overdue is None else str(t.days_overdue),
                t.step or "",
                t.assignee,
                t.title,
                t.status if t.status == "open" else f"{t.status} ({t.outcome})",
                f"{t.created_at:%Y-%m-%d %H:%M}",
            ]
            for t in tasks
        ],
    )
    if any(t.kind == "approval" and t.status == "open" for t in tasks):
        out.print("approve with `dunbot approve ID`, reject with `dunbot reject ID --reason TEXT`")


def print_call_task_changes(changes: Sequence[Any]) -> None:
    """What a promise or a dispute did to the open call tasks of its invoice."""
    for change in changes:
        step = f" ({change.step})" if change.step else ""
        if change.closed:
            out.print(f"call task {change.task}{step} closed", highlight=False)
        else:
            left = ", ".join(change.remaining)
            out.print(f"call task {change.task}{step} stays open for {escape(left)}", highlight=False)


def print_log(entries: Sequence[Any]) -> None:
    """The contact log as a table, oldest first."""
    print_fitted(
        f"{len(entries)} event(s)",
        [
            Column("seq", justify="right", whole=True),
            Column("at (UTC)", whole=True),
            Column("kind", whole=True),
            Column("actor", drop=1),
            Column("customer", whole=True, drop=3),
            Column("invoices", drop=2),
            Column("what"),
        ],
        [
            [
                str(e.seq),
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.kind,
                e.actor,
                e.customer or "",
                ", ".join(e.invoices),
                e.summary,
            ]
            for e in entries
        ],
        empty="no events",
    )
