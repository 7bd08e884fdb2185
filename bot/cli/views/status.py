"""`dunbot status`: what /metrics says (the outbox, the last cycles, the evidence checkpoints), for
people and (--json) for scripts."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from bot.cli.views.tables import Column, out, print_fitted


def status_json(current: Any) -> dict[str, Any]:
    """`dunbot status --json`: the numbers /metrics serves."""

    def cycle(info: Any) -> dict[str, Any] | None:
        if info is None:
            return None
        return {
            "worker": info.worker,
            "as_of": info.as_of,
            "finished_at": info.finished_at.isoformat(),
            "duration_seconds": round(info.duration.total_seconds(), 3),
            "ok": info.ok,
            "error": info.error,
            "messages_sent": info.messages_sent,
        }

    checkpoint = current.checkpoint
    return {
        "now": current.now.isoformat(),
        "messages": [
            {"channel": channel, "state": state, "count": count}
            for (channel, state), count in sorted(current.messages.items())
        ],
        "outbox_depth": current.outbox_depth,
        "unknown": current.unknown,
        "open_tasks": dict(sorted(current.open_tasks.items())),
        "last_cycle": cycle(current.last_cycle),
        "last_successful_cycle": cycle(current.last_success),
        "failed_cycles_24h": current.failed_cycles_24h,
        "evidence_events": current.events,
        "checkpoint": (
            {
                "id": checkpoint.id,
                "tree_size": checkpoint.tree_size,
                "at": checkpoint.at.isoformat(),
                "age_seconds": round(current.checkpoint_age.total_seconds()),
            }
            if checkpoint
            else None
        ),
        "events_not_yet_checkpointed": current.events_unchecked,
    }


STATUS_STATES = (
    "planned",
    "claimed",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "unknown",
    "cancelled",
)


# The compact layout's headers for the longest states: ten columns then fit 80 columns.
_STATE_SHORT = {"delivered": "deliv.", "undelivered": "undeliv.", "cancelled": "cancel."}


def print_status(current: Any) -> None:
    """`dunbot status` for a person."""
    print_fitted(
        "Outbox",
        [
            Column("channel", whole=True),
            *(
                Column(state, justify="right", whole=True, short=_STATE_SHORT.get(state))
                for state in STATUS_STATES
            ),
        ],
        [
            [channel, *(str(current.messages.get((channel, state), 0)) for state in STATUS_STATES)]
            for channel in sorted({c for c, _ in current.messages})
        ],
        empty="outbox: empty",
    )
    out.print(f"outbox depth {current.outbox_depth}; unknown (each with a review task) {current.unknown}")
    tasks = ", ".join(f"{kind} {n}" for kind, n in sorted(current.open_tasks.items())) or "none"
    out.print(f"open tasks: {tasks}")
    last, success = current.last_cycle, current.last_success
    if last is None:
        out.print("[yellow]no cycle has run yet[/] (`dunbot cycle`, or `dunbot run` on its schedule)")
    else:
        verdict = "[green]ok[/]" if last.ok else f"[red]failed[/]: {escape(last.error or '')}"
        out.print(
            f"last cycle: {last.finished_at:%Y-%m-%d %H:%M:%S} UTC by {last.worker}, "
            f"{last.duration.total_seconds():.1f} s, {last.messages_sent} sent, {verdict}"
        )
        if success is not None and success is not last:
            out.print(f"last successful cycle: {success.finished_at:%Y-%m-%d %H:%M:%S} UTC")
    if current.failed_cycles_24h:
        out.print(f"[red]{current.failed_cycles_24h} cycle(s) failed in the last 24 hours[/]")
    checkpoint = current.checkpoint
    if checkpoint is None:
        out.print(f"evidence: {current.events} event(s), no signed checkpoint yet")
    else:
        age = current.checkpoint_age.total_seconds() / 3600
        # A checkpoint signed "in the future" (a demo's plan date, a clock set back) says when instead.
        signed = f"signed {age:.1f} h ago" if age >= 0 else f"signed at {checkpoint.at:%Y-%m-%d %H:%M} UTC"
        out.print(f"evidence: {current.events} event(s), {current.events_unchecked} not yet in a checkpoint")
        out.print(f"last checkpoint: {checkpoint.id}, covering {checkpoint.tree_size} event(s), {signed}")
