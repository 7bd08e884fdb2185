"""Recording what the provider answered for each message of a turn, in the turn's transaction.

``sent`` (and, for a queued letter, the mailroom's task to print and post it); a failure (planned
again with backoff up to ``max_attempts``, else ``failed`` with a review task; an opt-out the
provider reported marks the customer); an ambiguous answer (``unknown``, never resent: a review
task). The tasks and the outcomes decided without a provider are :mod:`bot.outreach.recording`'s.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.channels.base import Receipt
from bot.domain.ledger import Channel
from bot.errors import AmbiguousChannelError, PermanentChannelError, RecipientOptedOut, TransientChannelError
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.outreach.outbox_values import MAX_BACKOFF, Done, MessageState, Outcome, Ready, Result, message_t
from bot.outreach.recording import Recorder, raise_task
from bot.store.queries import customer_t

log = logging.getLogger("bot.outreach.outbox")  # the outbox's logger, as before it was split

# `unknown` too: recovery may have given up on a slow send that then succeeded.
# Built once (building the statement costs more than running it).
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


class Answers:
    """Records provider answers for worker ``recorder.worker``; its review tasks are ``recorder``'s."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.settings = recorder.settings
        self.worker = recorder.worker

    def record(self, connection: Connection, results: list[Result], now: datetime) -> list[Done]:
        """Record a group of provider answers (their artifacts are already stored)."""
        done: list[Done] = []
        sent: list[dict[str, Any]] = []
        events: list[NewEvent] = []
        for result in results:
            ready, error, artifacts = result.ready, result.error, result.stored
            if result.receipt is not None:
                sent.append(self._sent_row(ready, result.receipt, artifacts, now))
                events.append(self.sent_event(ready, result.receipt, artifacts))
                if ready.channel is Channel.LETTER:
                    self._mailroom_task(connection, ready, result.receipt, now, events)
                outcome = Outcome.SENT
            elif isinstance(error, AmbiguousChannelError):
                outcome = self._record_unknown(connection, ready, str(error), artifacts, now, events)
            else:
                assert isinstance(error, PermanentChannelError | TransientChannelError)
                outcome = self._record_failure(connection, ready, error, artifacts, now, events)
            done.append(Done(ready.step, ready.channel.value, outcome))
        if sent:
            connection.execute(_RECORD_SENT, sent)
        append_events(connection, now, events)
        return done

    def _mailroom_task(
        self, connection: Connection, ready: Ready, receipt: Receipt, now: datetime, events: list[NewEvent]
    ) -> None:
        """A queued letter is a job for the mailroom: print, post by registered mail, record tracking."""
        reference = ready.outgoing.metadata.get("reference", receipt.provider_id)
        recipient = " / ".join(line for line in ready.outgoing.recipient.splitlines() if line.strip())
        body = (
            f"The letter is {receipt.provider_id} in the print queue ({self.settings.letter.queue_dir}).\n"
            "When it is posted, record the tracking number: "
            '`dunbot task done <id> --note "posted" --tracking <number>`.'
        )
        raise_task(
            connection,
            events,
            kind="letter",
            customer=ready.customer,
            invoices=ready.outgoing.invoices,
            step=ready.step,
            assignee="mailroom",
            title=f"Print and post {reference} by registered mail to {recipient}",
            body=body,
            dedupe_key=f"letter:message:{ready.id}",
            actor=self.worker,
            now=now,
            event_data={"message": ready.id},
            event_key=f"task_created:letter:{ready.id}",
        )

    @staticmethod
    def _sent_row(ready: Ready, receipt: Receipt, stored: dict[str, str], now: datetime) -> dict[str, Any]:
        return {
            "b_id": ready.id,
            "b_now": now,
            "b_provider_id": receipt.provider_id,
            "b_provider_status": receipt.provider_status,
            "b_artifacts": json.dumps(sorted(stored.values())),
        }

    def sent_event(self, ready: Ready, receipt: Receipt, stored: dict[str, str]) -> NewEvent:
        """The ``message_sent`` event of a provider's receipt."""
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

    def _record_failure(
        self,
        connection: Connection,
        ready: Ready,
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
            events.append(self._opt_out(connection, ready, exc.code))
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
            self.recorder.review_task(connection, row, f"Message failed: {exc}", now, events)
        return Outcome.RETRY if retry else Outcome.FAILED

    def _opt_out(self, connection: Connection, ready: Ready, code: str | None) -> NewEvent:
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
        return NewEvent(
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

    def _record_unknown(
        self,
        connection: Connection,
        ready: Ready,
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
        self.recorder.unknown(connection, row, reason, now, events, stored)
        log.error(
            "%s message %s to %s: outcome unknown, never resent automatically; review task raised: %s",
            ready.channel.value,
            ready.id,
            ready.customer,
            reason,
            extra={"message_row": ready.id},
        )
        return Outcome.UNKNOWN
