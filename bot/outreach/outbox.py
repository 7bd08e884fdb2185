"""The outbox (DESIGN §5): claim, re-check, render, mark ``sending``, send, record. Never twice.

Every message row moves through::

    planned -> claimed (lease, worker, fence) -> sending (COMMITTED before the provider call)
            -> sent -> delivered | undelivered
            -> planned again after a transient failure (backoff), up to max_attempts -> failed
            -> failed (permanent) | unknown (ambiguous, or found ``sending`` after a crash)
            -> cancelled (the fresh re-check found it no longer due)

The guarantees come from the order of commits, not from code being careful:

* ``sending`` is committed before the provider is called. A crash after that commit leaves the row
  in ``sending``; recovery turns it into ``unknown`` and raises a review task. It is never resent by
  dunbot: a person decides (a duplicate dunning message is harassment).
* Every transition from ``claimed`` checks the fencing token the claim handed out, so a worker whose
  lease expired (and whose message was claimed again by another) cannot move the row.
* Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite every write transaction is
  ``BEGIN IMMEDIATE`` and one instance runs at a time (:mod:`bot.outreach.instance`).

The store is synchronous (short transactions); the provider calls are awaited, up to
``[outreach] concurrency`` at once.

This module is the public entry and the drain loop; each stage of a message's life has its module:

* :mod:`bot.outreach.claims` — claims, leases, recovery of stale ones;
* :mod:`bot.outreach.preparation` — the fresh re-check at send time, holds, rendering;
* :mod:`bot.outreach.turns` — mark ``sending``, send through the channel, settle, in one commit;
* :mod:`bot.outreach.answers` and :mod:`bot.outreach.recording` — outcomes and the tasks raised;
* :mod:`bot.outreach.outbox_values` — the states, outcomes and values that cross them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta

from sqlalchemy.engine import Engine

from bot.channels.base import Receipt, Sender
from bot.config import Settings
from bot.domain.ledger import Channel
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.log import NewEvent
from bot.outreach.answers import Answers
from bot.outreach.claims import Claims
from bot.outreach.notices import NoticeService
from bot.outreach.outbox_values import (
    CONTACTED,
    Done,
    MessageState,
    OutboxStats,
    Outcome,
    Ready,
    Result,
    message_key,
    needs_notice,
    recipient_for,
)
from bot.outreach.preparation import Preparation
from bot.outreach.recording import Recorder
from bot.outreach.turns import LINGER, Turns, finish_some

__all__ = [
    "CONTACTED",
    "LINGER",
    "MessageState",
    "Outbox",
    "OutboxStats",
    "Outcome",
    "Ready",
    "finish_some",
    "message_key",
    "needs_notice",
    "recipient_for",
]


class Outbox:
    """Sends the outbox's due messages through ``senders``; one instance per worker process."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        senders: Mapping[Channel, Sender],
        artifacts: ArtifactStore,
        *,
        worker: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.senders = senders
        self.artifacts = artifacts
        self.worker = worker
        self.clock = clock
        self.lease = timedelta(seconds=settings.outreach.lease_seconds)
        self.notices = NoticeService(settings, artifacts, worker=worker)
        self.recorder = Recorder(settings, worker=worker)
        self.answers = Answers(self.recorder)
        self.claims = Claims(engine, self.recorder, lease=self.lease, clock=clock)
        self.preparation = Preparation(engine, settings, self.recorder, self.notices, clock=clock)
        self.turns = Turns(engine, senders, artifacts, self.answers, lease=self.lease, clock=clock)

    def close(self) -> None:
        """Stop the artifact-writing and turn threads and the notice signer (after the last drain)."""
        self.turns.close()
        self.notices.close()

    def recover(self, *, exclusive: bool) -> tuple[int, int]:
        """Release stale claims and turn stale ``sending`` rows into ``unknown`` with a review task."""
        return self.claims.recover(exclusive=exclusive)

    def claim(self, as_of: date, limit: int) -> list[tuple[int, int]]:
        """Claim up to ``limit`` due messages for this worker; returns (id, fence) pairs."""
        return self.claims.claim(as_of, limit)

    def release(self, claims: list[tuple[int, int]]) -> int:
        """Give back claims that were never started (shutdown)."""
        return self.claims.release(claims)

    def _sent_event(self, ready: Ready, receipt: Receipt, stored: dict[str, str]) -> NewEvent:
        # The bench (bench/send.py) measures the event a drain turn writes per message.
        return self.answers.sent_event(ready, receipt, stored)

    async def deliver(self, message_id: int, fence: int, as_of: date) -> tuple[str, str, Outcome]:
        """Re-check, render, send and record one claimed message (the loop below does it in bulk)."""
        ready, done = self.preparation.prepare([(message_id, fence)], as_of)
        for item in ready:
            marked = self.turns.mark_sending([item])
            if not marked:
                return item.step, item.channel.value, Outcome.LOST
            done.extend(self.turns.record([await self.turns.send(marked[0])]))
        return done[0].step, done[0].channel, done[0].outcome

    async def drain(
        self,
        as_of: date,
        *,
        stop: asyncio.Event | None = None,
        retry_horizon: timedelta = timedelta(seconds=60),
        progress: Callable[[Outcome], None] | None = None,
    ) -> OutboxStats:
        """Send every due message; wait for retries due within ``retry_horizon``; honour ``stop``.

        Up to ``concurrency`` sends are in flight. Whenever some finish, their results are recorded
        together and as many waiting messages are marked ``sending`` together: under load one commit
        covers many messages, and no message is ever handed to a provider before its ``sending``
        commit.
        """
        stats = OutboxStats()
        stop = stop or asyncio.Event()

        def count(items: list[Done]) -> None:
            for item in items:
                if item.outcome is not Outcome.LOST:
                    stats.add(item.step, item.channel, item.outcome)
                if progress is not None:
                    progress(item.outcome)

        concurrency = self.settings.outreach.concurrency
        queue: deque[Ready] = deque()
        flying: set[asyncio.Task[Result]] = set()
        finished: list[Result] = []  # sends that are over, recorded at the next turn's commit
        exhausted = False
        while True:
            if not stop.is_set() and not exhausted and len(queue) < concurrency:
                if finished:
                    # Answers first: a failure while claiming or preparing (rendering, signing)
                    # must not cost the record of sends that are over.
                    count((await self.turns.run_turn(finished, []))[0])
                    finished = []
                # Top up before the queue runs dry, so sends never wait for a whole batch to finish.
                claims = self.claim(as_of, self.settings.outreach.batch_size)
                if claims:
                    ready, done = self.preparation.prepare(claims, as_of)
                    count(done)
                    queue.extend(ready)
                else:
                    exhausted = True
            free = concurrency - len(flying)
            group: list[Ready] = []
            if free > 0 and queue and not stop.is_set():
                group = [queue.popleft() for _ in range(min(free, len(queue)))]
            if finished or group:
                recorded, marked = await self.turns.run_turn(finished, group)
                count(recorded)
                finished = []
                for item in marked:
                    flying.add(asyncio.create_task(self.turns.send(item)))
            if flying:
                flying = await finish_some(flying, finished)
                continue
            if queue and not stop.is_set():
                continue
            if stop.is_set() or not exhausted:
                if stop.is_set():
                    break
                continue
            wait = self.claims.next_retry_in(as_of, retry_horizon)
            if wait is None:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait.total_seconds())
            exhausted = False
        stats.released += self.release([(r.id, r.fence) for r in queue])
        return stats
