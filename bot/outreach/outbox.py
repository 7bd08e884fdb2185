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
``[outreach] concurrency`` at once. A drain turn records the sends that finished and marks the next
group ``sending`` in one transaction, which runs in its own thread so that the event loop keeps the
sends in flight moving while the commit waits for the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.channels.base import Outgoing, Receipt, Sender
from bot.config import Settings
from bot.domain.calendar import contact_time
from bot.domain.ledger import (
    AUTOMATED_CHANNELS,
    TACTIC_OF_TIER,
    Channel,
    Customer,
    CustomerLedger,
    Invoice,
    InvoiceStatus,
)
from bot.domain.policy import Assignee, LadderStep
from bot.errors import (
    AmbiguousChannelError,
    ChannelError,
    DunbotError,
    PermanentChannelError,
    RecipientOptedOut,
    SigningFailed,
    TransientChannelError,
)
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.outreach.compose import BlockedContent, compose
from bot.outreach.notices import NoticeService
from bot.render.environment import TemplateRenderError
from bot.render.notice import SignedNotice
from bot.store import tables
from bot.store.engine import is_sqlite_in_memory
from bot.store.queries import customer_t, iter_ledgers

log = logging.getLogger(__name__)

message_t = tables.Message.__table__  # type: ignore[attr-defined]
message_invoice_t = tables.MessageInvoice.__table__  # type: ignore[attr-defined]
execution_t = tables.StepExecution.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]

MAX_BACKOFF = timedelta(hours=6)
LINGER = 0.002  # seconds a drain turn waits for more sends to finish before it records them

_T = TypeVar("_T")


class MessageState(StrEnum):
    """States of an outbox message."""

    PLANNED = "planned"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


# States in which the customer may have been reached: they count against the caps.
CONTACTED = (
    MessageState.SENDING,
    MessageState.SENT,
    MessageState.DELIVERED,
    MessageState.UNDELIVERED,
    MessageState.UNKNOWN,
)


class Outcome(StrEnum):
    """What became of one claimed message in this pass."""

    SENT = "sent"
    RETRY = "retry"  # transient failure, planned again with backoff
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    HELD = "held"  # outside the contact window or over the caps: planned again for later
    BLOCKED = "blocked"  # banned phrase or a template error: failed, with a review task
    LOST = "lost"  # the lease was lost to another worker: not ours any more


@dataclass
class OutboxStats:
    """Counts of outcomes, overall and per (step, channel)."""

    outcomes: Counter[Outcome] = field(default_factory=Counter)
    by_step: Counter[tuple[str, str, Outcome]] = field(default_factory=Counter)
    recovered_unknown: int = 0
    released: int = 0

    def add(self, step: str, channel: str, outcome: Outcome) -> None:
        self.outcomes[outcome] += 1
        self.by_step[(step, channel, outcome)] += 1


@dataclass(frozen=True, slots=True)
class _Ready:
    """A claimed message, re-checked and rendered, waiting for its ``sending`` commit."""

    id: int
    fence: int
    attempts: int  # including the attempt about to be made
    customer: str
    step: str
    channel: Channel
    outgoing: Outgoing
    business_date: date  # the business date it was planned for
    local_date: date  # the recipient's date when it was handed to the provider


@dataclass(frozen=True, slots=True)
class _Result:
    """What the provider said: a receipt or a translated error."""

    ready: _Ready
    receipt: Receipt | None
    error: ChannelError | None
    stored: dict[str, str]  # artifact name -> SHA-256, already in the artifact store


@dataclass(frozen=True, slots=True)
class _Done:
    """The outcome of one message in this pass."""

    step: str
    channel: str
    outcome: Outcome


# The two statements of every send, built once (building one costs more than running it).
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
# `unknown` too: recovery may have given up on a slow send that then succeeded.
_RECORD_SENT = (
    sa.update(message_t)
    .where(
        message_t.c.id == sa.bindparam("b_id"),
        sa.or_(message_t.c.state == MessageState.SENDING, message_t.c.state == MessageState.UNKNOWN),
    )
    .values(
        state=MessageState.SENT,
        provider_id=sa.bindparam("b_provider_id"),
        provider_status=sa.bindparam("b_provider_status"),
        artifacts=sa.bindparam("b_artifacts"),
        sent_at=sa.bindparam("b_now"),
        last_error=None,
        lease_owner=None,
        lease_until=None,
        updated_at=sa.bindparam("b_now"),
    )
)


def message_key(message_id: int, business_date: date, channel: Channel, from_address: str) -> str:
    """The stable key of a message: its Message-ID for e-mail, a token for the other channels."""
    if channel is Channel.EMAIL:
        domain = from_address.rpartition("@")[2] or "dunbot.invalid"
        return f"<dunbot.{message_id}.{business_date:%Y%m%d}@{domain}>"
    return f"dunbot-{message_id}-{business_date:%Y%m%d}"


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
        self.policy = settings.planning_policy()
        self.lease = timedelta(seconds=settings.outreach.lease_seconds)
        self.postgres = engine.dialect.name == "postgresql"
        self._storage = ThreadPoolExecutor(max_workers=4, thread_name_prefix="artifacts")
        # A drain turn's transaction runs here, off the event loop: while it waits for the disk
        # (the commit's fsync) the loop goes on reading and writing the sends in flight.
        # Except for an in-memory SQLite database: each thread would get a database of its own.
        self._turns = (
            None
            if is_sqlite_in_memory(engine)
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-turn")
        )
        self.notices = NoticeService(settings, artifacts, worker=worker)

    def close(self) -> None:
        """Stop the artifact-writing and turn threads and the notice signer (after the last drain)."""
        self._storage.shutdown(wait=True)
        if self._turns is not None:
            self._turns.shutdown(wait=True)
        self.notices.close()

    # --- recovery ----------------------------------------------------------------------------

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
                events.extend(self._unknown_events(connection, row, reason, now))
            append_events(connection, now, events)
        return released, len(rows)

    # --- claiming ------------------------------------------------------------------------------

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
                    .where(*self._ours(message_id, fence))
                    .values(state=MessageState.PLANNED, lease_owner=None, lease_until=None, updated_at=now)
                ).rowcount
        return released

    def _ours(self, message_id: int, fence: int) -> tuple[Any, ...]:
        return (
            message_t.c.id == message_id,
            message_t.c.fence == fence,
            message_t.c.state == MessageState.CLAIMED,
            message_t.c.lease_owner == self.worker,
        )

    # --- preparing a batch ---------------------------------------------------------------------

    def _prepare(self, claims: list[tuple[int, int]], as_of: date) -> tuple[list[_Ready], list[_Done]]:
        """Re-check and render a claimed batch in ONE transaction.

        Messages no longer due are cancelled, those outside the window or over the caps are held,
        blocked ones fail with a task, task-channel messages become collector tasks; the rest come back
        ready to be marked ``sending``. Everything here is undone by a rollback: nothing was sent yet.
        """
        now = self.clock()
        ready: list[_Ready] = []
        done: list[_Done] = []
        fences = dict(claims)
        with self.engine.begin() as connection:
            query = sa.select(message_t).where(
                message_t.c.id.in_(list(fences)),
                message_t.c.state == MessageState.CLAIMED,
                message_t.c.lease_owner == self.worker,
            )
            rows = [r for r in connection.execute(query).all() if r.fence == fences[r.id]]
            done.extend(_Done("", "", Outcome.LOST) for _ in range(len(claims) - len(rows)))
            if not rows:
                return ready, done
            numbers: dict[int, list[str]] = {}
            for link in connection.execute(
                sa.select(message_invoice_t).where(message_invoice_t.c.message_id.in_([r.id for r in rows]))
            ):
                numbers.setdefault(link.message_id, []).append(link.invoice_number)
            customers = sorted({r.customer_id for r in rows})
            ledgers = {ledger.customer.id: ledger for ledger in iter_ledgers(connection, as_of, customers)}
            tactics = self._tactics(connection, [n for ns in numbers.values() for n in ns])
            recent = self._recent_sends(connection, customers, now)
            events: list[NewEvent] = []
            for row in rows:
                outcome = self._prepare_one(
                    connection, row, numbers.get(row.id, []), ledgers, tactics, recent, as_of, now, events
                )
                if isinstance(outcome, _Ready):
                    ready.append(outcome)
                else:
                    done.append(outcome)
            append_events(connection, now, events)
        return ready, done

    def _prepare_one(
        self,
        connection: Connection,
        row: Any,
        numbers: list[str],
        ledgers: Mapping[str, CustomerLedger],
        tactics: Mapping[tuple[str, str], str],
        recent: dict[str, list[tuple[str, datetime]]],
        as_of: date,
        now: datetime,
        events: list[NewEvent],
    ) -> _Ready | _Done:
        channel = Channel(row.channel)
        ledger = ledgers.get(row.customer_id)
        if ledger is None:
            return self._finish(connection, row, MessageState.CANCELLED, "the customer is gone", now, events)
        customer = ledger.customer
        # The customer's date, which a message to them speaks of (days overdue, the fee, the letter's
        # date): a wake-up in the company's small hours is still the day before in Los Angeles.
        # A collector's task speaks of the company's date.
        local_date = now.astimezone(ZoneInfo(customer.timezone)).date()
        dated = min(as_of, local_date) if channel in AUTOMATED_CHANNELS else as_of
        # The day the message will reach the recipient: never before its business date (it is held
        # until then), so a promise or pause is judged on that day. On the recipient's day before,
        # a promise that has run out by the business date is broken, and a pause through that date
        # covers it, wherever the company's clock stands.
        reaches_on = max(dated, row.business_date)
        still_due = [
            i for i in ledger.invoices if i.number in numbers and self._still_due(i, as_of, reaches_on)
        ]
        reason = self._not_sendable(customer, channel, still_due, reaches_on)
        if reason:
            return self._finish(connection, row, MessageState.CANCELLED, reason, now, events)
        if channel in AUTOMATED_CHANNELS:
            sent = recent.setdefault(customer.id, [])
            hold = self._hold_until(customer, channel, row.business_date, sent, now)
            if hold is not None:
                connection.execute(
                    sa.update(message_t)
                    .where(message_t.c.id == row.id)
                    .values(
                        state=MessageState.PLANNED,
                        next_attempt_at=hold,
                        lease_owner=None,
                        lease_until=None,
                        updated_at=now,
                    )
                )
                return _Done(row.step, channel.value, Outcome.HELD)
            sent.append((channel.value, now))  # the next message of this batch sees this one
        step = self._step(row.step, [tactics.get((n, row.step), "") for n in numbers], customer)
        if step is None:
            reason = f"step {row.step!r} is no longer in the ladder"
            return self._finish(connection, row, MessageState.FAILED, reason, now, events, task=True)
        key = row.message_id or message_key(
            row.id, row.business_date, channel, self.settings.email.from_address
        )
        reference = _reference(self.settings, row.id, row.business_date)

        def blocked(reason: str) -> _Done:
            # Not sent, and not to be retried: a person fixes the cause (the task says what).
            return self._finish(
                connection, row, MessageState.FAILED, reason, now, events, task=True, blocked=True
            )

        notice: SignedNotice | None = None
        if needs_notice(step, channel):
            try:
                notice = self.notices.notice_for(
                    connection,
                    customer=customer,
                    step=step,
                    invoices=still_due,
                    contracts=ledger.contracts,
                    as_of=dated,
                    reference=reference,
                    now=now,
                    events=events,
                )
            except SigningFailed as exc:
                if exc.transient:
                    return self._hold_for_retry(connection, row, str(exc), now)
                return blocked(str(exc))
            except DunbotError as exc:
                # No certificate, no font for the language, a missing glyph, a broken letter template:
                # never send a "signed" step without its notice.
                return blocked(f"the signed notice could not be produced: {exc}")
        try:
            composed = compose(
                self.settings,
                key=key,
                channel=channel,
                recipient=recipient_for(customer, channel, self.settings),
                customer=customer,
                step=step,
                invoices=still_due,
                contracts=ledger.contracts,
                as_of=dated,
                reference=reference,
                notice=notice,
            )
        except (BlockedContent, TemplateRenderError) as exc:
            return blocked(str(exc))
        if channel is Channel.TASK:
            return self._create_task(connection, row, composed.outgoing, step, customer, now, events)
        return _Ready(
            id=row.id,
            fence=row.fence,
            attempts=row.attempts + 1,
            customer=customer.id,
            step=row.step,
            channel=channel,
            outgoing=composed.outgoing,
            business_date=row.business_date,
            local_date=local_date,
        )

    def _hold_for_retry(self, connection: Connection, row: Any, reason: str, now: datetime) -> _Done:
        """Put a message back for a later attempt (the timestamp authority did not answer)."""
        backoff = timedelta(seconds=self.settings.outreach.retry_backoff_seconds)
        connection.execute(
            sa.update(message_t)
            .where(message_t.c.id == row.id)
            .values(
                state=MessageState.PLANNED,
                next_attempt_at=now + backoff,
                last_error=reason,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )
        log.warning("notice not signed yet, will retry", extra={"message_row": row.id, "reason": reason})
        return _Done(row.step, row.channel, Outcome.HELD)

    def _still_due(self, invoice: Invoice, as_of: date, reaches_on: date) -> bool:
        # Every payment known as of the company's date counts; a promise or a pause holds through
        # the day the message reaches the recipient.
        if invoice.status is not InvoiceStatus.OPEN:
            return False
        if invoice.outstanding_as_of(as_of) <= self.policy.compliance.tolerance:
            return False
        if invoice.paused_until is not None and invoice.paused_until >= reaches_on:
            return False
        return not (invoice.promise is not None and invoice.promise.date >= reaches_on)

    @staticmethod
    def _not_sendable(
        customer: Customer, channel: Channel, still_due: list[Invoice], reaches_on: date
    ) -> str | None:
        if not still_due:
            return "no invoice of the message is due any more (paid, disputed, promised or paused since)"
        if customer.do_not_contact:
            return "the customer is marked do-not-contact"
        if customer.paused_until is not None and customer.paused_until >= reaches_on:
            return f"the customer is paused until {customer.paused_until}"
        if channel in customer.opted_out:
            return f"the customer opted out of {channel.value}"
        if channel is Channel.EMAIL and not customer.email:
            return "the customer has no e-mail address"
        if channel in (Channel.SMS, Channel.VOICE) and not customer.phone:
            return "the customer has no phone number"
        if channel is Channel.LETTER and not customer.address:
            return "the customer has no postal address"
        return None

    def _recent_sends(
        self, connection: Connection, customers: list[str], now: datetime
    ) -> dict[str, list[tuple[str, datetime]]]:
        """customer -> (channel, when) of automated messages attempted in the last 7 × 24 hours."""
        found: dict[str, list[tuple[str, datetime]]] = {}
        query = sa.select(message_t.c.customer_id, message_t.c.channel, message_t.c.sent_at).where(
            message_t.c.customer_id.in_(customers),
            message_t.c.state.in_([s.value for s in CONTACTED]),
            message_t.c.channel.in_([c.value for c in AUTOMATED_CHANNELS]),
            message_t.c.sent_at > now - timedelta(days=7),
        )
        for row in connection.execute(query):
            found.setdefault(row.customer_id, []).append((row.channel, row.sent_at))
        return found

    def _hold_until(
        self,
        customer: Customer,
        channel: Channel,
        business_date: date,
        recent: list[tuple[str, datetime]],
        now: datetime,
    ) -> datetime | None:
        """When a message held for its window or the caps may be tried again; None to send now.

        The window is the one of the recipient's local date ``business_date`` (DESIGN §4 rule 3):
        a recipient still on the day before waits for that date's opening, not the next tick's.
        """
        compliance = self.policy.compliance

        def when(moment: datetime) -> datetime:
            return contact_time(moment, business_date, customer.timezone, compliance)

        opening = when(now)
        if opening > now:
            return opening
        zone = ZoneInfo(customer.timezone)
        today = now.astimezone(zone).date()
        same_channel_today = any(
            c == channel.value and at.astimezone(zone).date() == today for c, at in recent
        )
        if len(recent) < compliance.max_messages_per_7d and not same_channel_today:
            return None
        if same_channel_today:
            return when(datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone))
        oldest = min(at for _, at in recent)
        return when(oldest + timedelta(days=7))

    @staticmethod
    def _tactics(connection: Connection, numbers: list[str]) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        for start in range(0, len(numbers), 500):
            query = sa.select(execution_t.c.invoice_number, execution_t.c.step, execution_t.c.tactic).where(
                execution_t.c.invoice_number.in_(numbers[start : start + 500])
            )
            for row in connection.execute(query):
                found[(row.invoice_number, row.step)] = row.tactic
        return found

    def _step(self, name: str, tactics: list[str], customer: Customer) -> LadderStep | None:
        candidates = [t for t in dict.fromkeys(tactics) if t]
        if customer.tier_override is not None:
            candidates.append(TACTIC_OF_TIER[customer.tier_override].value)
        for tactic, steps in self.policy.ladders.items():
            if tactic.value in candidates:
                for step in steps:
                    if step.name == name:
                        return step
        for steps in self.policy.ladders.values():
            for step in steps:
                if step.name == name:
                    return step
        return None

    def _finish(
        self,
        connection: Connection,
        row: Any,
        state: MessageState,
        reason: str,
        now: datetime,
        events: list[NewEvent],
        *,
        task: bool = False,
        blocked: bool = False,
    ) -> _Done:
        connection.execute(
            sa.update(message_t)
            .where(message_t.c.id == row.id)
            .values(state=state, last_error=reason, lease_owner=None, lease_until=None, updated_at=now)
        )
        kind = EventKind.MESSAGE_CANCELLED if state is MessageState.CANCELLED else EventKind.MESSAGE_FAILED
        data: dict[str, Any] = {
            "message": row.id,
            "channel": row.channel,
            "step": row.step,
            "business_date": row.business_date,
            "reason": reason,
        }
        if blocked:
            data["blocked"] = True
        events.append(
            NewEvent(
                kind=kind,
                actor=self.worker,
                customer=row.customer_id,
                invoices=self._invoices_of(connection, row.id),
                data=data,
                dedupe_key=f"{kind.value}:{row.id}",
            )
        )
        if task:
            events.extend(self._review_task(connection, row, f"Message not sent: {reason}", now))
        outcome = (
            Outcome.CANCELLED
            if state is MessageState.CANCELLED
            else Outcome.BLOCKED
            if blocked
            else Outcome.FAILED
        )
        return _Done(row.step, row.channel, outcome)

    def _create_task(
        self,
        connection: Connection,
        row: Any,
        outgoing: Outgoing,
        step: LadderStep,
        customer: Customer,
        now: datetime,
        events: list[NewEvent],
    ) -> _Done:
        assignee = step.assignee.value
        if step.assignee is Assignee.ACCOUNT_MANAGER and customer.account_manager:
            assignee = customer.account_manager
        kind = _task_kind(step)
        task_id = connection.execute(
            sa.insert(task_t)
            .values(
                kind=kind,
                customer_id=row.customer_id,
                invoices=json.dumps(list(outgoing.invoices)),
                step=row.step,
                assignee=assignee,
                title=outgoing.subject,
                body=outgoing.text,
                status="open",
                dedupe_key=f"message:{row.id}",
                created_at=now,
            )
            .returning(task_t.c.id)
        ).scalar_one()
        connection.execute(
            sa.update(message_t)
            .where(message_t.c.id == row.id)
            .values(
                state=MessageState.SENT,
                recipient=assignee,
                provider_id=f"task:{task_id}",
                provider_status="open",
                attempts=row.attempts + 1,
                sent_at=now,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )
        events.append(
            NewEvent(
                kind=EventKind.TASK_CREATED,
                actor=self.worker,
                customer=row.customer_id,
                invoices=tuple(outgoing.invoices),
                data={
                    "task": task_id,
                    "message": row.id,
                    "kind": kind,
                    "step": row.step,
                    "assignee": assignee,
                    "title": outgoing.subject,
                },
                dedupe_key=f"task_created:message:{row.id}",
            )
        )
        return _Done(row.step, row.channel, Outcome.SENT)

    # --- sending ---------------------------------------------------------------------------------

    def _mark_sending(self, group: list[_Ready]) -> list[_Ready]:
        """Commit ``sending`` for a group, BEFORE any of them is handed to a provider."""
        return self._settle([], group)[1]

    def _settle(self, results: list[_Result], group: list[_Ready]) -> tuple[list[_Done], list[_Ready]]:
        """Record finished sends and mark the next group ``sending``, in ONE transaction.

        One commit per turn of the drain instead of two: the answers recorded are of sends that are
        over, and the group is handed to providers only after this commit. Returns the outcomes of
        ``results`` and the members of ``group`` that are now ``sending`` under our lease.
        """
        now = self.clock()
        with self.engine.begin() as connection:
            done = self._record_in(connection, results, now) if results else []
            marked = self._mark_in(connection, group, now) if group else []
        return done, marked

    async def _run_turn(
        self, results: list[_Result], group: list[_Ready]
    ) -> tuple[list[_Done], list[_Ready]]:
        """``_settle`` in the turn thread (inline for an in-memory database).

        A transaction already running there finishes even if the drain is cancelled meanwhile; a
        group it marked ``sending`` then never reaches a provider, and recovery makes it ``unknown``
        with a review task: never resent.
        """
        if self._turns is None:
            return self._settle(results, group)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._turns, self._settle, results, group)

    def _mark_in(self, connection: Connection, group: list[_Ready], now: datetime) -> list[_Ready]:
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

    async def _send(self, ready: _Ready) -> _Result:
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
        return _Result(ready, receipt, error, stored)

    # --- recording -------------------------------------------------------------------------------

    def _record(self, results: list[_Result]) -> list[_Done]:
        """Record a group of provider answers in ONE transaction (their artifacts are already stored)."""
        return self._settle(results, [])[0]

    def _record_in(self, connection: Connection, results: list[_Result], now: datetime) -> list[_Done]:
        done: list[_Done] = []
        sent: list[dict[str, Any]] = []
        events: list[NewEvent] = []
        for result in results:
            ready, error, artifacts = result.ready, result.error, result.stored
            if result.receipt is not None:
                sent.append(self._sent_row(ready, result.receipt, artifacts, now))
                events.append(self._sent_event(ready, result.receipt, artifacts))
                if ready.channel is Channel.LETTER:
                    events.extend(self._mailroom_task(connection, ready, result.receipt, now))
                outcome = Outcome.SENT
            elif isinstance(error, AmbiguousChannelError):
                outcome = self._record_unknown(connection, ready, str(error), artifacts, now, events)
            else:
                assert isinstance(error, PermanentChannelError | TransientChannelError)
                outcome = self._record_failure(connection, ready, error, artifacts, now, events)
            done.append(_Done(ready.step, ready.channel.value, outcome))
        if sent:
            connection.execute(_RECORD_SENT, sent)
        append_events(connection, now, events)
        return done

    def _mailroom_task(
        self, connection: Connection, ready: _Ready, receipt: Receipt, now: datetime
    ) -> list[NewEvent]:
        """A queued letter is a job for the mailroom: print, post by registered mail, record tracking."""
        reference = ready.outgoing.metadata.get("reference", receipt.provider_id)
        recipient = " / ".join(line for line in ready.outgoing.recipient.splitlines() if line.strip())
        title = f"Print and post {reference} by registered mail to {recipient}"
        body = (
            f"The letter is {receipt.provider_id} in the print queue ({self.settings.letter.queue_dir}).\n"
            "When it is posted, record the tracking number: "
            '`dunbot task done <id> --note "posted" --tracking <number>`.'
        )
        insert = postgresql.insert if self.postgres else sqlite.insert
        task_id = connection.execute(
            insert(task_t)
            .values(
                kind="letter",
                customer_id=ready.customer,
                invoices=json.dumps(list(ready.outgoing.invoices)),
                step=ready.step,
                assignee="mailroom",
                title=title[:500],
                body=body,
                status="open",
                dedupe_key=f"letter:message:{ready.id}",
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(task_t.c.id)
        ).scalar()
        if task_id is None:
            return []
        return [
            NewEvent(
                kind=EventKind.TASK_CREATED,
                actor=self.worker,
                customer=ready.customer,
                invoices=ready.outgoing.invoices,
                data={"task": task_id, "kind": "letter", "message": ready.id, "title": title[:500]},
                dedupe_key=f"task_created:letter:{ready.id}",
            )
        ]

    @staticmethod
    def _sent_row(ready: _Ready, receipt: Receipt, stored: dict[str, str], now: datetime) -> dict[str, Any]:
        return {
            "b_id": ready.id,
            "b_now": now,
            "b_provider_id": receipt.provider_id,
            "b_provider_status": receipt.provider_status,
            "b_artifacts": json.dumps(sorted(stored.values())),
        }

    def _sent_event(self, ready: _Ready, receipt: Receipt, stored: dict[str, str]) -> NewEvent:
        return NewEvent(
            kind=EventKind.MESSAGE_SENT,
            actor=self.worker,
            customer=ready.customer,
            invoices=ready.outgoing.invoices,
            data={
                "message": ready.id,
                "channel": ready.channel.value,
                "step": ready.step,
                "recipient": ready.outgoing.recipient,
                "key": ready.outgoing.key,
                "reference": ready.outgoing.metadata.get("reference", ""),
                "attempt": ready.attempts,
                "provider_id": receipt.provider_id,
                "provider_status": receipt.provider_status,
                "detail": dict(receipt.detail),
                "artifacts": stored,
                "notice_sha256": ready.outgoing.metadata.get("notice_sha256"),
                # Reached on the recipient's local date it was planned for, or how many days later
                # (the service was down through the window, or the caps held it).
                "business_date": ready.business_date,
                "recipient_date": ready.local_date,
                "days_late": max(0, (ready.local_date - ready.business_date).days),
            },
            dedupe_key=f"message_sent:{ready.id}",
        )

    def _store(self, artifacts: Mapping[str, bytes]) -> dict[str, str]:
        return {name: self.artifacts.put(data) for name, data in sorted(artifacts.items())}

    def _record_failure(
        self,
        connection: Connection,
        ready: _Ready,
        exc: PermanentChannelError | TransientChannelError,
        stored: dict[str, str],
        now: datetime,
        events: list[NewEvent],
    ) -> Outcome:
        permanent = isinstance(exc, PermanentChannelError)
        retry = not permanent and ready.attempts < self.settings.outreach.max_attempts
        values: dict[str, Any] = {
            "last_error": str(exc),
            "lease_owner": None,
            "lease_until": None,
            "updated_at": now,
            "artifacts": json.dumps(sorted(stored.values())),
        }
        if retry:
            backoff = self.settings.outreach.retry_backoff_seconds * 2 ** (ready.attempts - 1)
            values.update(
                state=MessageState.PLANNED,
                next_attempt_at=now + min(timedelta(seconds=backoff), MAX_BACKOFF),
                sent_at=None,  # not attempted after all: does not count against the caps
            )
        else:
            values.update(state=MessageState.FAILED)
        connection.execute(
            sa.update(message_t)
            .where(message_t.c.id == ready.id, message_t.c.state == MessageState.SENDING)
            .values(**values)
        )
        events.append(
            NewEvent(
                kind=EventKind.MESSAGE_FAILED,
                actor=self.worker,
                customer=ready.customer,
                invoices=ready.outgoing.invoices,
                data={
                    "message": ready.id,
                    "channel": ready.channel.value,
                    "step": ready.step,
                    "recipient": ready.outgoing.recipient,
                    "key": ready.outgoing.key,
                    "attempt": ready.attempts,
                    "code": exc.code,
                    "error": str(exc),
                    "permanent": permanent,
                    "will_retry": retry,
                    "artifacts": stored,
                },
                dedupe_key=f"message_failed:{ready.id}:{ready.attempts}",
            )
        )
        if isinstance(exc, RecipientOptedOut):
            events.extend(self._opt_out(connection, ready, exc.code))
        log.warning(
            "%s message %s to %s %s (attempt %s): %s",
            ready.channel.value,
            ready.id,
            ready.customer,
            "will be retried" if retry else "failed",
            ready.attempts,
            exc,
            extra={"message_row": ready.id, "code": exc.code, "will_retry": retry},
        )
        if not retry:
            row = connection.execute(sa.select(message_t).where(message_t.c.id == ready.id)).one()
            events.extend(self._review_task(connection, row, f"Message failed: {exc}", now))
        return Outcome.RETRY if retry else Outcome.FAILED

    def _opt_out(self, connection: Connection, ready: _Ready, code: str | None) -> list[NewEvent]:
        current = connection.execute(
            sa.select(customer_t.c.opted_out).where(customer_t.c.id == ready.customer)
        ).scalar_one()
        channels = {c for c in (current or "").split(",") if c}
        channels.add(ready.channel.value)
        connection.execute(
            sa.update(customer_t)
            .where(customer_t.c.id == ready.customer)
            .values(opted_out=",".join(sorted(channels)))
        )
        return [
            NewEvent(
                kind=EventKind.OPT_OUT,
                actor=self.worker,
                customer=ready.customer,
                data={
                    "channel": ready.channel.value,
                    "recipient": ready.outgoing.recipient,
                    "code": code,
                    "message": ready.id,
                },
                dedupe_key=f"opt_out:{ready.customer}:{ready.channel.value}:{ready.outgoing.recipient}",
            )
        ]

    def _record_unknown(
        self,
        connection: Connection,
        ready: _Ready,
        reason: str,
        stored: dict[str, str],
        now: datetime,
        events: list[NewEvent],
    ) -> Outcome:
        connection.execute(
            sa.update(message_t)
            .where(message_t.c.id == ready.id, message_t.c.state == MessageState.SENDING)
            .values(
                state=MessageState.UNKNOWN,
                last_error=reason,
                artifacts=json.dumps(sorted(stored.values())),
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )
        row = connection.execute(sa.select(message_t).where(message_t.c.id == ready.id)).one()
        events.extend(self._unknown_events(connection, row, reason, now, stored))
        log.error(
            "%s message %s to %s: outcome unknown, never resent automatically; review task raised: %s",
            ready.channel.value,
            ready.id,
            ready.customer,
            reason,
            extra={"message_row": ready.id},
        )
        return Outcome.UNKNOWN

    def _unknown_events(
        self,
        connection: Connection,
        row: Any,
        reason: str,
        now: datetime,
        stored: Mapping[str, str] | None = None,
    ) -> list[NewEvent]:
        events = [
            NewEvent(
                kind=EventKind.MESSAGE_UNKNOWN,
                actor=self.worker,
                customer=row.customer_id,
                invoices=self._invoices_of(connection, row.id),
                data={
                    "message": row.id,
                    "channel": row.channel,
                    "step": row.step,
                    "recipient": row.recipient,
                    "key": row.message_id,
                    "attempt": row.attempts,
                    "reason": reason,
                    "artifacts": dict(stored or {}),
                },
                dedupe_key=f"message_unknown:{row.id}",
            )
        ]
        title = f"Check whether message {row.id} ({row.step}, {row.channel} to {row.recipient}) arrived"
        body = (
            f"{reason}.\nIt will not be resent automatically. Check with the provider or the customer, then "
            f"record the result: `dunbot task done <task> --note ...`."
        )
        events.extend(self._review_task(connection, row, title, now, body=body))
        return events

    def _review_task(
        self, connection: Connection, row: Any, title: str, now: datetime, *, body: str = ""
    ) -> list[NewEvent]:
        invoices = self._invoices_of(connection, row.id)
        dialect_insert = postgresql.insert if self.postgres else sqlite.insert
        task_id = connection.execute(
            dialect_insert(task_t)
            .values(
                kind="review",
                customer_id=row.customer_id,
                invoices=json.dumps(list(invoices)),
                step=row.step,
                assignee=self.settings.outreach.review_assignee,
                title=title[:500],
                body=body or title,
                status="open",
                dedupe_key=f"review:message:{row.id}",
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(task_t.c.id)
        ).scalar()
        if task_id is None:
            return []
        return [
            NewEvent(
                kind=EventKind.TASK_CREATED,
                actor=self.worker,
                customer=row.customer_id,
                invoices=invoices,
                data={"task": task_id, "kind": "review", "message": row.id, "title": title[:500]},
                dedupe_key=f"task_created:review:{row.id}",
            )
        ]

    @staticmethod
    def _invoices_of(connection: Connection, message_id: int) -> tuple[str, ...]:
        return tuple(
            sorted(
                connection.execute(
                    sa.select(message_invoice_t.c.invoice_number).where(
                        message_invoice_t.c.message_id == message_id
                    )
                ).scalars()
            )
        )

    # --- the loop ------------------------------------------------------------------------------

    async def deliver(self, message_id: int, fence: int, as_of: date) -> tuple[str, str, Outcome]:
        """Re-check, render, send and record one claimed message (the loop below does it in bulk)."""
        ready, done = self._prepare([(message_id, fence)], as_of)
        for item in ready:
            marked = self._mark_sending([item])
            if not marked:
                return item.step, item.channel.value, Outcome.LOST
            done.extend(self._record([await self._send(marked[0])]))
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

        def count(items: list[_Done]) -> None:
            for item in items:
                if item.outcome is not Outcome.LOST:
                    stats.add(item.step, item.channel, item.outcome)
                if progress is not None:
                    progress(item.outcome)

        concurrency = self.settings.outreach.concurrency
        queue: deque[_Ready] = deque()
        flying: set[asyncio.Task[_Result]] = set()
        finished: list[_Result] = []  # sends that are over, recorded at the next turn's commit
        exhausted = False
        while True:
            if not stop.is_set() and not exhausted and len(queue) < concurrency:
                if finished:
                    # Answers first: a failure while claiming or preparing (rendering, signing)
                    # must not cost the record of sends that are over.
                    count((await self._run_turn(finished, []))[0])
                    finished = []
                # Top up before the queue runs dry, so sends never wait for a whole batch to finish.
                claims = self.claim(as_of, self.settings.outreach.batch_size)
                if claims:
                    ready, done = self._prepare(claims, as_of)
                    count(done)
                    queue.extend(ready)
                else:
                    exhausted = True
            free = concurrency - len(flying)
            group: list[_Ready] = []
            if free > 0 and queue and not stop.is_set():
                group = [queue.popleft() for _ in range(min(free, len(queue)))]
            if finished or group:
                recorded, marked = await self._run_turn(finished, group)
                count(recorded)
                finished = []
                for item in marked:
                    flying.add(asyncio.create_task(self._send(item)))
            if flying:
                flying = await finish_some(flying, finished)
                continue
            if queue and not stop.is_set():
                continue
            if stop.is_set() or not exhausted:
                if stop.is_set():
                    break
                continue
            wait = self._next_retry_in(as_of, retry_horizon)
            if wait is None:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait.total_seconds())
            exhausted = False
        stats.released += self.release([(r.id, r.fence) for r in queue])
        return stats

    def _next_retry_in(self, as_of: date, horizon: timedelta) -> timedelta | None:
        now = self.clock()
        with self.engine.connect() as connection:
            earliest: datetime | None = connection.execute(
                sa.select(sa.func.min(message_t.c.next_attempt_at)).where(
                    message_t.c.state == MessageState.PLANNED,
                    message_t.c.business_date <= as_of,
                    message_t.c.attempts > 0,
                    message_t.c.next_attempt_at <= now + horizon,
                )
            ).scalar()
        if earliest is None:
            return None
        return max(earliest - now, timedelta(milliseconds=50))  # never a busy loop


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


def needs_notice(step: LadderStep, channel: Channel) -> bool:
    """A letter is always the signed notice; an e-mail carries it when the step is ``signed``."""
    return channel is Channel.LETTER or (channel is Channel.EMAIL and step.signed)


def _task_kind(step: LadderStep) -> str:
    if step.assignee.value == "legal" or step.action.value == "legal_pack":
        return "legal"
    if step.assignee.value in ("finance",) or step.action.value == "recommend_credit_hold":
        return "review"
    return "call"


def recipient_for(customer: Customer, channel: Channel, settings: Settings) -> str:
    """Where a message on ``channel`` goes for ``customer``."""
    if channel is Channel.EMAIL:
        return customer.email or ""
    if channel in (Channel.SMS, Channel.VOICE):
        return customer.phone or ""
    if channel is Channel.LETTER:
        return f"{customer.name}\n{customer.address or ''}"
    return customer.account_manager or settings.outreach.review_assignee


def _reference(settings: Settings, message_id: int, business_date: date) -> str:
    return f"DN-{business_date:%Y%m%d}-{message_id:06d}"
