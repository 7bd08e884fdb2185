"""What an operator watches: the outbox, the last cycles, the evidence checkpoints (issue 6).

One :func:`snapshot` of the database feeds three views: `GET /metrics` (Prometheus text format, by
``prometheus_client``), `GET /readyz` and `dunbot status`. Everything comes from the database, so
every instance sharing a PostgreSQL database reports the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from sqlalchemy.engine import Engine

from bot.store import tables

message_t = tables.Message.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]
cycle_t = tables.CycleRun.__table__  # type: ignore[attr-defined]
checkpoint_t = tables.Checkpoint.__table__  # type: ignore[attr-defined]
event_t = tables.EvidenceEvent.__table__  # type: ignore[attr-defined]

# Messages still on their way out: the outbox's depth.
PENDING_STATES = ("planned", "claimed", "sending")


@dataclass(frozen=True, slots=True)
class CycleInfo:
    """One recorded cycle."""

    worker: str
    as_of: str
    started_at: datetime
    finished_at: datetime
    ok: bool
    error: str | None
    messages_sent: int
    messages_failed: int = 0  # failed or blocked
    messages_unknown: int = 0  # may or may not have arrived

    @property
    def duration(self) -> timedelta:
        """How long it ran."""
        return self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """The latest evidence checkpoint."""

    id: int
    tree_size: int
    at: datetime


@dataclass
class Snapshot:
    """The numbers, at ``now``."""

    now: datetime
    messages: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, state) -> count
    open_tasks: dict[str, int] = field(default_factory=dict)  # kind -> count
    last_cycle: CycleInfo | None = None
    last_success: CycleInfo | None = None
    failed_cycles_24h: int = 0
    checkpoint: CheckpointInfo | None = None
    events: int = 0

    @property
    def outbox_depth(self) -> int:
        """Messages planned, claimed or being sent."""
        return sum(n for (_, state), n in self.messages.items() if state in PENDING_STATES)

    @property
    def unknown(self) -> int:
        """Messages whose fate is unknown (each has a review task)."""
        return sum(n for (_, state), n in self.messages.items() if state == "unknown")

    @property
    def checkpoint_age(self) -> timedelta | None:
        """How old the latest checkpoint is."""
        return self.now - self.checkpoint.at if self.checkpoint else None

    @property
    def events_unchecked(self) -> int:
        """Evidence events no checkpoint covers yet."""
        return self.events - (self.checkpoint.tree_size if self.checkpoint else 0)


def snapshot(engine: Engine, now: datetime) -> Snapshot:
    """Read the numbers from the database."""
    result = Snapshot(now=now)
    with engine.connect() as connection:
        for channel, state, count in connection.execute(
            sa.select(message_t.c.channel, message_t.c.state, sa.func.count()).group_by(
                message_t.c.channel, message_t.c.state
            )
        ):
            result.messages[(channel, state)] = count
        for kind, count in connection.execute(
            sa.select(task_t.c.kind, sa.func.count()).where(task_t.c.status == "open").group_by(task_t.c.kind)
        ):
            result.open_tasks[kind] = count
        last = connection.execute(sa.select(cycle_t).order_by(cycle_t.c.finished_at.desc()).limit(1)).first()
        result.last_cycle = _cycle(last)
        success = connection.execute(
            sa.select(cycle_t).where(cycle_t.c.ok.is_(True)).order_by(cycle_t.c.finished_at.desc()).limit(1)
        ).first()
        result.last_success = _cycle(success)
        result.failed_cycles_24h = connection.execute(
            sa.select(sa.func.count()).where(
                cycle_t.c.ok.is_(False), cycle_t.c.finished_at > now - timedelta(hours=24)
            )
        ).scalar_one()
        checkpoint = connection.execute(
            sa.select(checkpoint_t.c.id, checkpoint_t.c.tree_size, checkpoint_t.c.at)
            .order_by(checkpoint_t.c.tree_size.desc())
            .limit(1)
        ).first()
        if checkpoint is not None:
            result.checkpoint = CheckpointInfo(checkpoint.id, checkpoint.tree_size, checkpoint.at)
        result.events = connection.execute(
            sa.select(sa.func.coalesce(sa.func.max(event_t.c.seq), 0))
        ).scalar_one()
    return result


def _cycle(row: sa.Row[tuple[object, ...]] | None) -> CycleInfo | None:
    if row is None:
        return None
    values = row._mapping
    return CycleInfo(
        worker=str(values["worker"]),
        as_of=str(values["as_of"]),
        started_at=values["started_at"],
        finished_at=values["finished_at"],
        ok=bool(values["ok"]),
        error=values["error"],
        messages_sent=int(values["messages_sent"]),
        messages_failed=int(values["messages_failed"]),
        messages_unknown=int(values["messages_unknown"]),
    )


def readiness(current: Snapshot, max_cycle_age: timedelta, running_since: datetime) -> list[str]:
    """Why this instance is not ready (empty: ready).

    Ready means: the database answered (the snapshot exists) and a cycle succeeded within
    ``max_cycle_age`` — or, when none has run yet, the daemon has not been up longer than that.
    """
    problems = []
    success = current.last_success
    if success is None:
        if current.now - running_since > max_cycle_age:
            problems.append(f"no cycle has succeeded in the {_hours(max_cycle_age)} since the daemon started")
    elif current.now - success.finished_at > max_cycle_age:
        problems.append(
            f"the last successful cycle finished {_hours(current.now - success.finished_at)} ago "
            f"(more than {_hours(max_cycle_age)})"
        )
    return problems


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


class _Collector:
    """Turns a snapshot into Prometheus metric families."""

    def __init__(self, current: Snapshot) -> None:
        self.current = current

    def collect(self) -> Iterable[Metric]:
        current = self.current
        messages = GaugeMetricFamily(
            "dunbot_messages", "Outbox messages by channel and state.", labels=["channel", "state"]
        )
        for (channel, state), count in sorted(current.messages.items()):
            messages.add_metric([channel, state], count)
        yield messages
        yield GaugeMetricFamily(
            "dunbot_outbox_depth", "Messages planned, claimed or being sent.", value=current.outbox_depth
        )
        yield GaugeMetricFamily(
            "dunbot_messages_unknown",
            "Messages that may or may not have arrived; each waits for a collector.",
            value=current.unknown,
        )
        tasks = GaugeMetricFamily("dunbot_open_tasks", "Open collector tasks by kind.", labels=["kind"])
        for kind, count in sorted(current.open_tasks.items()):
            tasks.add_metric([kind], count)
        yield tasks
        if current.last_cycle is not None:
            yield GaugeMetricFamily(
                "dunbot_last_cycle_duration_seconds",
                "How long the most recent cycle took.",
                value=current.last_cycle.duration.total_seconds(),
            )
            yield GaugeMetricFamily(
                "dunbot_last_cycle_ok",
                "1 when the most recent cycle succeeded.",
                value=int(current.last_cycle.ok),
            )
        if current.last_success is not None:
            yield GaugeMetricFamily(
                "dunbot_last_successful_cycle_timestamp_seconds",
                "When the last successful cycle finished (Unix time).",
                value=current.last_success.finished_at.timestamp(),
            )
        yield GaugeMetricFamily(
            "dunbot_failed_cycles_24h",
            "Cycles that failed in the last 24 hours.",
            value=current.failed_cycles_24h,
        )
        yield GaugeMetricFamily("dunbot_evidence_events", "Events in the evidence log.", value=current.events)
        if current.checkpoint is not None:
            age = current.checkpoint_age
            yield GaugeMetricFamily(
                "dunbot_evidence_checkpoint_age_seconds",
                "Age of the latest signed evidence checkpoint.",
                value=age.total_seconds() if age is not None else 0.0,
            )
            yield GaugeMetricFamily(
                "dunbot_evidence_checkpoint_tree_size",
                "Events the latest signed checkpoint covers.",
                value=current.checkpoint.tree_size,
            )
        yield GaugeMetricFamily(
            "dunbot_evidence_events_unchecked",
            "Evidence events no signed checkpoint covers yet.",
            value=current.events_unchecked,
        )


def prometheus_text(current: Snapshot) -> bytes:
    """The snapshot in the Prometheus text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(current))
    text: bytes = generate_latest(registry)
    return text
