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

The store is synchronous (short transactions); only the provider calls are awaited, up to
``[outreach] concurrency`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from bot.channels.base import Outgoing, Receipt, Sender
from bot.config import Settings
from bot.domain.calendar import in_contact_window, next_window_opening
from bot.domain.ledger import AUTOMATED_CHANNELS, TACTIC_OF_TIER, Channel, Customer, Invoice, InvoiceStatus
from bot.domain.policy import Assignee, LadderStep
from bot.errors import (
    AmbiguousChannelError,
    PermanentChannelError,
    RecipientOptedOut,
    TransientChannelError,
)
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.outreach.compose import BlockedContent, compose
from bot.render.environment import TemplateRenderError
from bot.store import tables
from bot.store.queries import customer_t, iter_ledgers

log = logging.getLogger(__name__)

message_t = tables.Message.__table__  # type: ignore[attr-defined]
message_invoice_t = tables.MessageInvoice.__table__  # type: ignore[attr-defined]
execution_t = tables.StepExecution.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]

MAX_BACKOFF = timedelta(hours=6)


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
class _Prepared:
    """A message marked ``sending``, ready for its provider."""

    id: int
    fence: int
    attempts: int
    customer: str
    step: str
    channel: Channel
    outgoing: Outgoing


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

    # --- recovery ----------------------------------------------------------------------------

    def recover(self, *, exclusive: bool) -> tuple[int, int]:
        """Release stale claims and turn stale ``sending`` rows into ``unknown`` with a review task.

        ``exclusive`` says no other instance can be alive (SQLite's instance lock is held), so every
        lease is stale; otherwise only expired leases are. Returns (released, unknown).
        """
        now = self.clock()
        with Session(self.engine) as session:
            connection = session.connection()
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
            append_events(session, now, events)
            session.commit()
        return released, len(rows)

    # --- claiming ------------------------------------------------------------------------------

    def claim(self, as_of: date, limit: int) -> list[tuple[int, int]]:
        """Claim up to ``limit`` due messages for this worker; returns (id, fence) pairs."""
        now = self.clock()
        with Session(self.engine) as session:
            connection = session.connection()
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
            session.commit()
        return sorted((row.id, row.fence) for row in claimed)

    def release(self, claims: list[tuple[int, int]]) -> int:
        """Give back claims that were never started (shutdown)."""
        if not claims:
            return 0
        now = self.clock()
        released = 0
        with Session(self.engine) as session:
            connection = session.connection()
            for message_id, fence in claims:
                released += connection.execute(
                    sa.update(message_t)
                    .where(*self._ours(message_id, fence))
                    .values(state=MessageState.PLANNED, lease_owner=None, lease_until=None, updated_at=now)
                ).rowcount
            session.commit()
        return released

    def _ours(self, message_id: int, fence: int) -> tuple[Any, ...]:
        return (
            message_t.c.id == message_id,
            message_t.c.fence == fence,
            message_t.c.state == MessageState.CLAIMED,
            message_t.c.lease_owner == self.worker,
        )

    # --- one message ---------------------------------------------------------------------------

    async def process(self, message_id: int, fence: int, as_of: date) -> tuple[str, str, Outcome]:
        """Re-check, render, send and record one claimed message."""
        prepared = self._prepare(message_id, fence, as_of)
        if not isinstance(prepared, _Prepared):
            return prepared
        sender = self.senders[prepared.channel]
        try:
            receipt = await sender.send(prepared.outgoing)
        except RecipientOptedOut as exc:
            outcome = self._record_failure(prepared, exc, permanent=True, opt_out=True)
        except PermanentChannelError as exc:
            outcome = self._record_failure(prepared, exc, permanent=True)
        except TransientChannelError as exc:
            outcome = self._record_failure(prepared, exc, permanent=False)
        except AmbiguousChannelError as exc:
            outcome = self._record_unknown(prepared, str(exc), exc.artifacts)
        except Exception as exc:
            log.exception("sender %s failed unexpectedly", prepared.channel)
            outcome = self._record_unknown(prepared, f"unexpected {type(exc).__name__}: {exc}", {})
        else:
            outcome = self._record_sent(prepared, receipt)
        return prepared.step, prepared.channel.value, outcome

    def _prepare(self, message_id: int, fence: int, as_of: date) -> _Prepared | tuple[str, str, Outcome]:
        now = self.clock()
        with Session(self.engine) as session:
            connection = session.connection()
            row = connection.execute(
                sa.select(message_t).where(*self._ours(message_id, fence)).with_for_update()
                if self.postgres
                else sa.select(message_t).where(*self._ours(message_id, fence))
            ).first()
            if row is None:
                return "", "", Outcome.LOST
            channel = Channel(row.channel)
            numbers = list(
                connection.execute(
                    sa.select(message_invoice_t.c.invoice_number).where(
                        message_invoice_t.c.message_id == message_id
                    )
                ).scalars()
            )
            # consumed whole: a half-read streamed query would leave a server-side cursor open
            ledgers = list(iter_ledgers(connection, as_of, [row.customer_id]))
            ledger = ledgers[0] if ledgers else None
            customer = ledger.customer if ledger else None
            if customer is None or ledger is None:
                return self._finish(session, row, MessageState.CANCELLED, "the customer is gone", now)
            invoices = [i for i in ledger.invoices if i.number in numbers]
            still_due = [i for i in invoices if self._still_due(i, as_of)]
            reason = self._not_sendable(customer, channel, still_due)
            if reason:
                return self._finish(session, row, MessageState.CANCELLED, reason, now)
            if channel in AUTOMATED_CHANNELS:
                hold = self._hold_until(connection, customer, channel, message_id, now)
                if hold is not None:
                    connection.execute(
                        sa.update(message_t)
                        .where(message_t.c.id == message_id)
                        .values(
                            state=MessageState.PLANNED,
                            next_attempt_at=hold,
                            lease_owner=None,
                            lease_until=None,
                            updated_at=now,
                        )
                    )
                    session.commit()
                    return row.step, channel.value, Outcome.HELD
            step = self._step(connection, row.step, numbers, customer)
            if step is None:
                return self._finish(
                    session,
                    row,
                    MessageState.FAILED,
                    f"step {row.step!r} is no longer in the ladder",
                    now,
                    task=True,
                )
            key = row.message_id or message_key(
                message_id, row.business_date, channel, self.settings.email.from_address
            )
            recipient = recipient_for(customer, channel, self.settings)
            try:
                composed = compose(
                    self.settings,
                    key=key,
                    channel=channel,
                    recipient=recipient,
                    customer=customer,
                    step=step,
                    invoices=still_due,
                    contracts=ledger.contracts,
                    as_of=as_of,
                    reference=_reference(self.settings, message_id, row.business_date),
                )
            except (BlockedContent, TemplateRenderError) as exc:
                return self._finish(session, row, MessageState.FAILED, str(exc), now, task=True, blocked=True)
            if channel is Channel.TASK:
                return self._create_task(session, row, composed.outgoing, step, customer, now)
            attempts = row.attempts + 1
            connection.execute(
                sa.update(message_t)
                .where(*self._ours(message_id, fence))
                .values(
                    state=MessageState.SENDING,
                    attempts=attempts,
                    recipient=recipient,
                    message_id=key,
                    sent_at=now,  # the attempt: a message being sent counts against the caps
                    lease_until=now + self.lease,
                    updated_at=now,
                )
            )
            session.commit()
        return _Prepared(
            id=message_id,
            fence=fence,
            attempts=attempts,
            customer=customer.id,
            step=row.step,
            channel=channel,
            outgoing=composed.outgoing,
        )

    def _still_due(self, invoice: Invoice, as_of: date) -> bool:
        if invoice.status is not InvoiceStatus.OPEN:
            return False
        if invoice.outstanding_as_of(as_of) <= self.policy.compliance.tolerance:
            return False
        return not (invoice.promise is not None and invoice.promise.date >= as_of)

    @staticmethod
    def _not_sendable(customer: Customer, channel: Channel, still_due: list[Invoice]) -> str | None:
        if not still_due:
            return "no invoice of the message is due any more (paid, disputed or promised since planning)"
        if customer.do_not_contact:
            return "the customer is marked do-not-contact"
        if channel in customer.opted_out:
            return f"the customer opted out of {channel.value}"
        if channel is Channel.EMAIL and not customer.email:
            return "the customer has no e-mail address"
        if channel in (Channel.SMS, Channel.VOICE) and not customer.phone:
            return "the customer has no phone number"
        if channel is Channel.LETTER and not customer.address:
            return "the customer has no postal address"
        return None

    def _hold_until(
        self, connection: Connection, customer: Customer, channel: Channel, message_id: int, now: datetime
    ) -> datetime | None:
        """When a message outside the window or over the caps may be tried again; None to send now."""
        compliance = self.policy.compliance
        if not in_contact_window(now, customer.timezone, compliance):
            return next_window_opening(now, customer.timezone, compliance)
        recent = connection.execute(
            sa.select(message_t.c.channel, message_t.c.sent_at).where(
                message_t.c.customer_id == customer.id,
                message_t.c.id != message_id,
                message_t.c.state.in_([s.value for s in CONTACTED]),
                message_t.c.channel.in_([c.value for c in AUTOMATED_CHANNELS]),
                message_t.c.sent_at > now - timedelta(days=7),
            )
        ).all()
        zone = ZoneInfo(customer.timezone)
        today = now.astimezone(zone).date()
        same_channel_today = any(
            r.channel == channel.value and r.sent_at.astimezone(zone).date() == today for r in recent
        )
        if len(recent) < compliance.max_messages_per_7d and not same_channel_today:
            return None
        if same_channel_today:
            tomorrow = datetime.combine(today + timedelta(days=1), compliance.window_start, tzinfo=zone)
            return next_window_opening(tomorrow, customer.timezone, compliance)
        oldest = min(r.sent_at for r in recent)
        return next_window_opening(oldest + timedelta(days=7), customer.timezone, compliance)

    def _step(
        self, connection: Connection, name: str, numbers: list[str], customer: Customer
    ) -> LadderStep | None:
        tactics = connection.execute(
            sa.select(execution_t.c.tactic).where(
                execution_t.c.invoice_number.in_(numbers), execution_t.c.step == name
            )
        ).scalars()
        candidates = [*dict.fromkeys(tactics)]
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

    # --- recording -----------------------------------------------------------------------------

    def _finish(
        self,
        session: Session,
        row: Any,
        state: MessageState,
        reason: str,
        now: datetime,
        *,
        task: bool = False,
        blocked: bool = False,
    ) -> tuple[str, str, Outcome]:
        connection = session.connection()
        connection.execute(
            sa.update(message_t)
            .where(message_t.c.id == row.id)
            .values(state=state, last_error=reason, lease_owner=None, lease_until=None, updated_at=now)
        )
        invoices = self._invoices_of(connection, row.id)
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
        events = [
            NewEvent(
                kind=kind,
                actor=self.worker,
                customer=row.customer_id,
                invoices=invoices,
                data=data,
                dedupe_key=f"{kind.value}:{row.id}",
            )
        ]
        if task:
            events.extend(self._review_task(connection, row, f"Message not sent: {reason}", now))
        append_events(session, now, events)
        session.commit()
        outcome = (
            Outcome.CANCELLED
            if state is MessageState.CANCELLED
            else Outcome.BLOCKED
            if blocked
            else Outcome.FAILED
        )
        return row.step, row.channel, outcome

    def _create_task(
        self,
        session: Session,
        row: Any,
        outgoing: Outgoing,
        step: LadderStep,
        customer: Customer,
        now: datetime,
    ) -> tuple[str, str, Outcome]:
        connection = session.connection()
        invoices = outgoing.invoices
        assignee = step.assignee.value
        if step.assignee is Assignee.ACCOUNT_MANAGER and customer.account_manager:
            assignee = customer.account_manager
        task_id = connection.execute(
            sa.insert(task_t)
            .values(
                kind=_task_kind(step),
                customer_id=row.customer_id,
                invoices=json.dumps(list(invoices)),
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
        append_events(
            session,
            now,
            [
                NewEvent(
                    kind=EventKind.TASK_CREATED,
                    actor=self.worker,
                    customer=row.customer_id,
                    invoices=tuple(invoices),
                    data={
                        "task": task_id,
                        "message": row.id,
                        "kind": _task_kind(step),
                        "step": row.step,
                        "assignee": assignee,
                        "title": outgoing.subject,
                    },
                    dedupe_key=f"task_created:message:{row.id}",
                )
            ],
        )
        session.commit()
        return row.step, row.channel, Outcome.SENT

    def _store(self, artifacts: Mapping[str, bytes]) -> dict[str, str]:
        return {name: self.artifacts.put(data) for name, data in sorted(artifacts.items())}

    def _record_sent(self, prepared: _Prepared, receipt: Receipt) -> Outcome:
        now = self.clock()
        stored = self._store(receipt.artifacts)
        with Session(self.engine) as session:
            connection = session.connection()
            connection.execute(
                sa.update(message_t)
                .where(
                    message_t.c.id == prepared.id,
                    message_t.c.state.in_([MessageState.SENDING, MessageState.UNKNOWN]),
                )
                .values(
                    state=MessageState.SENT,
                    provider_id=receipt.provider_id,
                    provider_status=receipt.provider_status,
                    artifacts=json.dumps(sorted(stored.values())),
                    sent_at=now,
                    last_error=None,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )
            append_events(
                session,
                now,
                [
                    NewEvent(
                        kind=EventKind.MESSAGE_SENT,
                        actor=self.worker,
                        customer=prepared.customer,
                        invoices=prepared.outgoing.invoices,
                        data={
                            "message": prepared.id,
                            "channel": prepared.channel.value,
                            "step": prepared.step,
                            "recipient": prepared.outgoing.recipient,
                            "key": prepared.outgoing.key,
                            "reference": prepared.outgoing.metadata.get("reference", ""),
                            "attempt": prepared.attempts,
                            "provider_id": receipt.provider_id,
                            "provider_status": receipt.provider_status,
                            "detail": dict(receipt.detail),
                            "artifacts": stored,
                        },
                        dedupe_key=f"message_sent:{prepared.id}",
                    )
                ],
            )
            session.commit()
        return Outcome.SENT

    def _record_failure(
        self,
        prepared: _Prepared,
        exc: PermanentChannelError | TransientChannelError,
        *,
        permanent: bool,
        opt_out: bool = False,
    ) -> Outcome:
        now = self.clock()
        stored = self._store(exc.artifacts)
        retry = not permanent and prepared.attempts < self.settings.outreach.max_attempts
        with Session(self.engine) as session:
            connection = session.connection()
            values: dict[str, Any] = {
                "last_error": str(exc),
                "lease_owner": None,
                "lease_until": None,
                "updated_at": now,
                "artifacts": json.dumps(sorted(stored.values())),
            }
            if retry:
                delay = timedelta(
                    seconds=self.settings.outreach.retry_backoff_seconds * 2 ** (prepared.attempts - 1)
                )
                values.update(state=MessageState.PLANNED, next_attempt_at=now + min(delay, MAX_BACKOFF))
            else:
                values.update(state=MessageState.FAILED)
            connection.execute(
                sa.update(message_t)
                .where(message_t.c.id == prepared.id, message_t.c.state == MessageState.SENDING)
                .values(**values)
            )
            data = {
                "message": prepared.id,
                "channel": prepared.channel.value,
                "step": prepared.step,
                "recipient": prepared.outgoing.recipient,
                "key": prepared.outgoing.key,
                "attempt": prepared.attempts,
                "code": exc.code,
                "error": str(exc),
                "permanent": permanent,
                "will_retry": retry,
                "artifacts": stored,
            }
            events = [
                NewEvent(
                    kind=EventKind.MESSAGE_FAILED,
                    actor=self.worker,
                    customer=prepared.customer,
                    invoices=prepared.outgoing.invoices,
                    data=data,
                    dedupe_key=f"message_failed:{prepared.id}:{prepared.attempts}",
                )
            ]
            if opt_out:
                events.extend(self._opt_out(connection, prepared, exc.code))
            if not retry:
                row = connection.execute(sa.select(message_t).where(message_t.c.id == prepared.id)).one()
                events.extend(self._review_task(connection, row, f"Message failed: {exc}", now))
            append_events(session, now, events)
            session.commit()
        return Outcome.RETRY if retry else Outcome.FAILED

    def _opt_out(self, connection: Connection, prepared: _Prepared, code: str | None) -> list[NewEvent]:
        current = connection.execute(
            sa.select(customer_t.c.opted_out).where(customer_t.c.id == prepared.customer)
        ).scalar_one()
        channels = {c for c in (current or "").split(",") if c}
        channels.add(prepared.channel.value)
        connection.execute(
            sa.update(customer_t)
            .where(customer_t.c.id == prepared.customer)
            .values(opted_out=",".join(sorted(channels)))
        )
        return [
            NewEvent(
                kind=EventKind.OPT_OUT,
                actor=self.worker,
                customer=prepared.customer,
                data={
                    "channel": prepared.channel.value,
                    "recipient": prepared.outgoing.recipient,
                    "code": code,
                    "message": prepared.id,
                },
                dedupe_key=f"opt_out:{prepared.customer}:{prepared.channel.value}:{prepared.outgoing.recipient}",
            )
        ]

    def _record_unknown(self, prepared: _Prepared, reason: str, artifacts: Mapping[str, bytes]) -> Outcome:
        now = self.clock()
        stored = self._store(artifacts)
        with Session(self.engine) as session:
            connection = session.connection()
            connection.execute(
                sa.update(message_t)
                .where(message_t.c.id == prepared.id, message_t.c.state == MessageState.SENDING)
                .values(
                    state=MessageState.UNKNOWN,
                    last_error=reason,
                    artifacts=json.dumps(sorted(stored.values())),
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )
            row = connection.execute(sa.select(message_t).where(message_t.c.id == prepared.id)).one()
            append_events(session, now, self._unknown_events(connection, row, reason, now, stored))
            session.commit()
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

    async def drain(
        self,
        as_of: date,
        *,
        stop: asyncio.Event | None = None,
        retry_horizon: timedelta = timedelta(seconds=60),
        progress: Callable[[Outcome], None] | None = None,
    ) -> OutboxStats:
        """Send every due message; wait for retries due within ``retry_horizon``; honour ``stop``."""
        stats = OutboxStats()
        limit = asyncio.Semaphore(self.settings.outreach.concurrency)
        stop = stop or asyncio.Event()

        async def one(message_id: int, fence: int) -> None:
            async with limit:
                if stop.is_set():
                    unstarted.append((message_id, fence))
                    return
                step, channel, outcome = await self.process(message_id, fence, as_of)
                if outcome is not Outcome.LOST:
                    stats.add(step, channel, outcome)
                if progress is not None:
                    progress(outcome)

        while not stop.is_set():
            claims = self.claim(as_of, self.settings.outreach.batch_size)
            if not claims:
                wait = self._next_retry_in(as_of, retry_horizon)
                if wait is None:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait.total_seconds())
                continue
            unstarted: list[tuple[int, int]] = []
            await asyncio.gather(*(one(message_id, fence) for message_id, fence in claims))
            stats.released += self.release(unstarted)
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
