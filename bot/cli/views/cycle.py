"""`dunbot cycle` and `dunbot cycle --dry-run`: the live sending count, what a cycle did, and
what a dry run would send; for people and (--json) for scripts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from rich.console import Console
from rich.text import Text

from bot.cli.views.tables import Column, out, print_fitted

_OUTCOME_ORDER = ("sent", "retry", "held", "cancelled", "failed", "blocked", "unknown")


@contextmanager
def sending_progress(console: Console, *, enabled: bool) -> Iterator[Callable[[Any], None] | None]:
    """A live count of messages handled while a cycle sends (on stderr; off for --json)."""
    if not enabled or not console.is_terminal:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("sending: 0 handled", total=None)
        counts: Counter[str] = Counter()

        def advance(outcome: Any) -> None:
            counts[str(outcome)] += 1
            summary = ", ".join(f"{counts[o]} {o}" for o in _OUTCOME_ORDER if counts[o])
            bar.update(task, description=f"sending: {summary}")

        yield advance


def cycle_json(report: Any) -> dict[str, Any]:
    """The --json document of `dunbot cycle`."""
    recorded = report.recorded
    return {
        "as_of": report.as_of.isoformat(),
        "synced": report.synced,
        "planned": {
            "step_executions": recorded.executions if recorded else 0,
            "messages": recorded.messages if recorded else 0,
            "approval_tasks": recorded.tasks if recorded else 0,
            "events": recorded.events if recorded else 0,
        },
        "recovered": {"released": report.released, "unknown": report.recovered_unknown},
        "outcomes": {str(k): v for k, v in sorted(report.stats.outcomes.items())},
        "by_step": [
            {"step": step, "channel": channel, "outcome": str(outcome), "count": count}
            for (step, channel, outcome), count in sorted(report.stats.by_step.items())
        ],
    }


def print_cycle(report: Any) -> None:
    """What a cycle planned and sent, per step and channel."""
    document = cycle_json(report)
    planned = document["planned"]
    out.print(
        f"[bold]cycle {document['as_of']}[/]: planned {planned['messages']} new message(s), "
        f"{planned['step_executions']} step execution(s), {planned['approval_tasks']} approval task(s)"
    )
    if report.recovered_unknown or report.released:
        out.print(
            f"[yellow]recovered[/] {report.released} stale claim(s); {report.recovered_unknown} message(s) "
            "found mid-send are now unknown, each with a review task"
        )
    rows: dict[tuple[str, str], Counter[str]] = {}
    for item in document["by_step"]:
        rows.setdefault((item["step"], item["channel"]), Counter())[item["outcome"]] += item["count"]
    # Only the outcomes that happened get a column: seven mostly empty ones do not fit 80 columns.
    outcomes = [o for o in _OUTCOME_ORDER if any(counts[o] for counts in rows.values())]
    if rows:
        print_fitted(
            "messages handled",
            [
                Column("step", whole=True),
                Column("channel", whole=True),
                *(Column(o, justify="right", whole=True) for o in outcomes),
            ],
            [
                [step, channel, *(str(counts[o] or "") for o in outcomes)]
                for (step, channel), counts in sorted(rows.items())
            ],
        )
    else:
        out.print("nothing was due")
    totals = document["outcomes"]
    out.print(", ".join(f"{totals.get(o, 0)} {o}" for o in _OUTCOME_ORDER if totals.get(o)) or "0 sent")


def dry_run_json(day: date, messages: Sequence[Any], statuses: Counter[str], queued: Any) -> dict[str, Any]:
    """The --json document of `dunbot cycle --dry-run`."""
    return {
        "as_of": day.isoformat(),
        "dry_run": True,
        "decisions": dict(sorted(statuses.items())),
        # Messages planned earlier and still in the outbox: a cycle sends them too, when they are due.
        "queued": {
            "due": queued.due,
            "held": queued.held,
            "next_at": queued.next_at.isoformat() if queued.next_at else None,
        },
        "messages": [
            {
                "customer": m.customer,
                "step": m.step,
                "channel": m.channel,
                "recipient": m.recipient,
                "subject": m.subject,
                "invoices": list(m.invoices),
                "blocked": m.blocked or None,
            }
            for m in messages
        ],
    }


def print_dry_run(day: date, messages: Sequence[Any], statuses: Counter[str], queued: Any) -> None:
    """Every message the day's plan would add, rendered, and what the outbox already holds; nothing
    was written or sent."""
    print_fitted(
        f"dry run {day}: the plan would send {len(messages)} new message(s) (nothing written)",
        [
            Column("customer", whole=True),
            Column("step", whole=True),
            Column("channel", whole=True, drop=1),
            Column("recipient"),
            Column("subject / text"),
        ],
        [
            [
                m.customer,
                m.step,
                m.channel,
                m.recipient.replace("\n", " "),
                Text(f"BLOCKED: {m.blocked}", style="red") if m.blocked else m.subject,
            ]
            for m in messages
        ],
        empty=f"dry run {day}: the plan would send no new message (nothing written)",
    )
    out.print(", ".join(f"{count} {status}" for status, count in sorted(statuses.items())) or "nothing due")
    if queued.due or queued.held:
        later = f"{queued.held} held (contact window or retry)" if queued.held else ""
        if queued.next_at is not None:
            later += f" until {queued.next_at:%Y-%m-%d %H:%M} UTC at the earliest"
        parts = ", ".join(p for p in (f"{queued.due} due now" if queued.due else "", later) if p)
        out.print(f"already in the outbox from earlier plans: {parts}; a cycle sends each when it is due")
