"""A turn of the drain: mark a group ``sending``, hand it to its channels, settle the answers.

The order of commits is the guarantee: ``sending`` (with ``sent_at``, so it counts against the caps)
is committed BEFORE a message is handed to a provider, and only for the rows still ``claimed`` under
this worker's fencing token. A crash after that commit leaves the row ``sending``; recovery makes it
``unknown`` (:mod:`bot.outreach.claims`): never resent by dunbot.

One turn is one transaction: it records the sends that finished (:mod:`bot.outreach.answers`) and
marks the next group ``sending``; it runs in its own thread so the event loop keeps the sends in
flight moving while the commit waits for the disk. Each send's artifacts are stored (and fsynced)
off the loop before the event that names them is written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.channels.base import Receipt, Sender
from bot.domain.ledger import Channel
from bot.errors import AmbiguousChannelError, ChannelError, PermanentChannelError, TransientChannelError
from bot.evidence.artifacts import ArtifactStore
from bot.outreach.answers import Answers
from bot.outreach.outbox_values import Done, MessageState, Ready, Result, message_t
from bot.store.engine import is_sqlite_in_memory

log = logging.getLogger("bot.outreach.outbox")  # the outbox's logger, as before it was split

LINGER = 0.002  # seconds a drain turn waits for more sends to finish before it records them

_T = TypeVar("_T")

# The statement that marks a group `sending`, built once (building one costs more than running it).
_MARK_SENDING = (
    sa.update(message_t)
    .where(
        message_t.c.id == sa.bindparam("b_id"),
        message_t.c.fence == sa.bindparam("b_fence"),
        message_t.c.state == MessageState.CLAIMED,
        message_t.c.lease_owner == sa.bindparam("b_worker"),
    )
    .values(
        state=MessageState.SENDING,
        attempts=sa.bindparam("b_attempts"),
        recipient=sa.bindparam("b_recipient"),
        message_id=sa.bindparam("b_key"),
        sent_at=sa.bindparam("b_now"),
        lease_until=sa.bindparam("b_lease_until"),
        updated_at=sa.bindparam("b_now"),
    )
)


class Turns:
    """Marks, sends and settles outbox messages for worker ``answers.worker``."""

    def __init__(
        self,
        engine: Engine,
        senders: Mapping[Channel, Sender],
        artifacts: ArtifactStore,
        answers: Answers,
        *,
        lease: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.senders = senders
        self.artifacts = artifacts
        self.answers = answers
        self.worker = answers.worker
        self.lease = lease
        self.clock = clock
        self._storage = ThreadPoolExecutor(max_workers=4, thread_name_prefix="artifacts")
        # A drain turn's transaction runs here, off the event loop: while it waits for the disk
        # (the commit's fsync) the loop goes on reading and writing the sends in flight.
        # Except for an in-memory SQLite database: each thread would get a database of its own.
        self._turns = (
            None
            if is_sqlite_in_memory(engine)
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-turn")
        )

    def close(self) -> None:
        """Stop the artifact-writing and turn threads (after the last drain)."""
        self._storage.shutdown(wait=True)
        if self._turns is not None:
            self._turns.shutdown(wait=True)

    def mark_sending(self, group: list[Ready]) -> list[Ready]:
        """Commit ``sending`` for a group, BEFORE any of them is handed to a provider."""
        return self._settle([], group)[1]

    def _settle(self, results: list[Result], group: list[Ready]) -> tuple[list[Done], list[Ready]]:
        """Record finished sends and mark the next group ``sending``, in ONE transaction.

        One commit per turn of the drain instead of two: the answers recorded are of sends that are
        over, and the group is handed to providers only after this commit. Returns the outcomes of
        ``results`` and the members of ``group`` that are now ``sending`` under our lease.
        """
        now = self.clock()
        with self.engine.begin() as connection:
            done = self.answers.record(connection, results, now) if results else []
            marked = self._mark_in(connection, group, now) if group else []
        return done, marked

    async def run_turn(self, results: list[Result], group: list[Ready]) -> tuple[list[Done], list[Ready]]:
        """``_settle`` in the turn thread (inline for an in-memory database).

        A transaction already running there finishes even if the drain is cancelled meanwhile; a
        group it marked ``sending`` then never reaches a provider, and recovery makes it ``unknown``
        with a review task: never resent.
        """
        if self._turns is None:
            return self._settle(results, group)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._turns, self._settle, results, group)

    def _mark_in(self, connection: Connection, group: list[Ready], now: datetime) -> list[Ready]:
        params = [
            {
                "b_id": ready.id,
                "b_fence": ready.fence,
                "b_attempts": ready.attempts,
                "b_recipient": ready.outgoing.recipient,
                "b_key": ready.outgoing.key,
                "b_worker": self.worker,
                "b_now": now,  # sent_at too: a message being sent counts against the caps
                "b_lease_until": now + self.lease,
            }
            for ready in group
        ]
        changed = connection.execute(_MARK_SENDING, params).rowcount
        if changed == len(group):
            return list(group)
        # A lease was lost to another worker: only the rows now `sending` under our key are ours.
        ours = {
            row.id
            for row in connection.execute(
                sa.select(message_t.c.id).where(
                    message_t.c.id.in_([r.id for r in group]),
                    message_t.c.state == MessageState.SENDING,
                    message_t.c.lease_owner == self.worker,
                )
            )
        }
        return [r for r in group if r.id in ours]

    async def send(self, ready: Ready) -> Result:
        receipt: Receipt | None = None
        error: ChannelError | None = None
        try:
            receipt = await self.senders[ready.channel].send(ready.outgoing)
        except (PermanentChannelError, TransientChannelError, AmbiguousChannelError) as exc:
            error = exc
        except Exception as exc:
            # A sender bug after `sending` was committed: whether it went out cannot be known.
            log.exception("sender %s failed unexpectedly", ready.channel)
            error = AmbiguousChannelError(f"unexpected {type(exc).__name__}: {exc}")
        artifacts = receipt.artifacts if receipt is not None else error.artifacts if error is not None else {}
        # Stored (and fsynced) off the event loop, before the event that names them is written.
        loop = asyncio.get_running_loop()
        stored = await loop.run_in_executor(self._storage, self._store, artifacts)
        return Result(ready, receipt, error, stored)

    def record(self, results: list[Result]) -> list[Done]:
        """Record a group of provider answers in ONE transaction (their artifacts are already stored)."""
        return self._settle(results, [])[0]

    def _store(self, artifacts: Mapping[str, bytes]) -> dict[str, str]:
        return {name: self.artifacts.put(data) for name, data in sorted(artifacts.items())}


async def finish_some(
    flying: set[asyncio.Task[_T]], finished: list[_T], linger: float = LINGER
) -> set[asyncio.Task[_T]]:
    """Wait for the first task to finish, then up to ``linger`` seconds for half of the others.

    Appends the results to ``finished`` and returns the tasks still running. Each turn of the drain
    costs one commit whatever its size, so recording a few answers together (and marking as many
    new messages ``sending``) costs much less per message than one at a time; the linger is short
    beside any real provider's round trip.
    """
    wanted = len(finished) + max(1, len(flying) // 2)
    over, flying = await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
    finished.extend(task.result() for task in over)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + linger
    while flying and len(finished) < wanted:
        left = deadline - loop.time()
        if left <= 0:
            break
        over, flying = await asyncio.wait(flying, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finished.extend(task.result() for task in over)
    return flying
