"""Claims and leases: which worker may move which outbox message, and for how long.

A claim moves due ``planned`` messages to ``claimed`` under this worker's lease and hands out a
fencing token (the row's ``fence``, incremented): every later transition from ``claimed`` checks it,
so a worker whose lease expired cannot move a message another worker claimed since. Claims use
``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite one instance runs at a time
(:mod:`bot.outreach.instance`).

A message whose customer's current contact on its channel is undeliverable
(:mod:`bot.store.undeliverable`) is never claimed: it waits, ``planned``, for the contact to change.

Recovery gives back expired claims (``planned`` again) and turns a message found ``sending`` with an
expired lease into ``unknown`` with a review task: it may have gone out, so it is never resent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.evidence.log import NewEvent, append_events
from bot.outreach.outbox_values import MessageState, message_t
from bot.outreach.recording import Recorder
from bot.store.undeliverable import any_blocked_contact


class Claims:
    """Claims, releases and recovers outbox messages for worker ``recorder.worker``."""

    def __init__(
        self, engine: Engine, recorder: Recorder, *, lease: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self.engine = engine
        self.recorder = recorder
        self.worker = recorder.worker
        self.lease = lease
        self.clock = clock
        self.postgres = engine.dialect.name == "postgresql"

    def recover(self, *, exclusive: bool) -> tuple[int, int]:
        """Release stale claims and turn stale ``sending`` rows into ``unknown`` with a review task.

        ``exclusive`` says no other instance can be alive (SQLite's instance lock is held), so every
        lease is stale; otherwise only expired leases are. Returns (released, unknown).
        """
        now = self.clock()
        with self.engine.begin() as connection:
            stale = message_t.c.lease_until < now if not exclusive else sa.true()
            released = connection.execute(
                sa.update(message_t)
                .where(message_t.c.state == MessageState.CLAIMED, stale)
                .values(state=MessageState.PLANNED, lease_owner=None, lease_until=None, updated_at=now)
            ).rowcount
            rows = connection.execute(
                sa.select(message_t).where(message_t.c.state == MessageState.SENDING, stale)
            ).all()
            events: list[NewEvent] = []
            for row in rows:
                reason = "dunbot stopped while this message was being sent; it may or may not have arrived"
                connection.execute(
                    sa.update(message_t)
                    .where(message_t.c.id == row.id, message_t.c.state == MessageState.SENDING)
                    .values(state=MessageState.UNKNOWN, last_error=reason, lease_owner=None, updated_at=now)
                )
                self.recorder.unknown(connection, row, reason, now, events)
            append_events(connection, now, events)
        return released, len(rows)

    def claim(self, as_of: date, limit: int) -> list[tuple[int, int]]:
        """Claim up to ``limit`` due messages for this worker; returns (id, fence) pairs."""
        now = self.clock()
        with self.engine.begin() as connection:
            due = (
                sa.select(message_t.c.id)
                .where(
                    message_t.c.state == MessageState.PLANNED,
                    message_t.c.business_date <= as_of,
                    sa.or_(message_t.c.next_attempt_at.is_(None), message_t.c.next_attempt_at <= now),
                    # its contact bounced hard: it waits for a new address, unclaimed
                    ~any_blocked_contact(),
                )
                .order_by(message_t.c.id)
                .limit(limit)
            )
            if self.postgres:
                due = due.with_for_update(skip_locked=True)
            ids = list(connection.execute(due).scalars())
            if not ids:
                return []
            claimed = connection.execute(
                sa.update(message_t)
                .where(message_t.c.id.in_(ids), message_t.c.state == MessageState.PLANNED)
                .values(
                    state=MessageState.CLAIMED,
                    lease_owner=self.worker,
                    lease_until=now + self.lease,
                    fence=message_t.c.fence + 1,
                    updated_at=now,
                )
                .returning(message_t.c.id, message_t.c.fence)
            ).all()
        return sorted((row.id, row.fence) for row in claimed)

    def release(self, claims: list[tuple[int, int]]) -> int:
        """Give back claims that were never started (shutdown)."""
        if not claims:
            return 0
        now = self.clock()
        released = 0
        with self.engine.begin() as connection:
            for message_id, fence in claims:
                released += connection.execute(
                    sa.update(message_t)
                    .where(
                        message_t.c.id == message_id,
                        message_t.c.fence == fence,
                        message_t.c.state == MessageState.CLAIMED,
                        message_t.c.lease_owner == self.worker,
                    )
                    .values(state=MessageState.PLANNED, lease_owner=None, lease_until=None, updated_at=now)
                ).rowcount
        return released

    def next_retry_in(self, as_of: date, horizon: timedelta) -> timedelta | None:
        """How long until the earliest retry due within ``horizon`` (None: none is)."""
        now = self.clock()
        with self.engine.connect() as connection:
            earliest: datetime | None = connection.execute(
                sa.select(sa.func.min(message_t.c.next_attempt_at)).where(
                    message_t.c.state == MessageState.PLANNED,
                    message_t.c.business_date <= as_of,
                    message_t.c.attempts > 0,
                    message_t.c.next_attempt_at <= now + horizon,
                    ~any_blocked_contact(),
                )
            ).scalar()
        if earliest is None:
            return None
        return max(earliest - now, timedelta(milliseconds=50))  # never a busy loop
