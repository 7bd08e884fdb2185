"""Preparation: the fresh re-check of a claimed message at send time, and rendering its content.

In ONE transaction per claimed batch, each message is judged again on today's facts: no longer due
(paid, disputed, promised, paused, do-not-contact, opted out, no address) is ``cancelled``; one whose
address bounced hard waits, planned, for a new one (:mod:`bot.outreach.contacts`); outside
the recipient's window or over the caps (:func:`bot.domain.holds.contact_hold`) is held, ``planned``
again for later; a step gone from the ladder, banned content or a template error fails with a review
task; a signed notice whose timestamp authority did not answer waits for a retry. A task-channel
message becomes the collector's task. The rest are rendered and come back :class:`Ready` to be
marked ``sending``. Nothing was sent yet: everything here is undone by a rollback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.config import Settings
from bot.domain.calendar import contact_time
from bot.domain.holds import WEEK, ContactGate, contact_hold
from bot.domain.ledger import (
    AUTOMATED_CHANNELS,
    TACTIC_OF_TIER,
    Channel,
    Customer,
    CustomerLedger,
    Invoice,
    InvoiceStatus,
)
from bot.domain.policy import LadderStep
from bot.errors import DunbotError, SigningFailed
from bot.evidence.log import NewEvent, append_events
from bot.outreach.compose import BlockedContent, compose
from bot.outreach.contacts import contact_task
from bot.outreach.notices import NoticeService
from bot.outreach.outbox_values import (
    CONTACTED,
    Done,
    MessageState,
    Outcome,
    Ready,
    execution_t,
    message_invoice_t,
    message_key,
    message_t,
    needs_notice,
    recipient_for,
    reference_of,
)
from bot.outreach.recording import Recorder
from bot.render.environment import TemplateRenderError
from bot.render.notice import SignedNotice
from bot.store.queries import iter_ledgers
from bot.store.undeliverable import normalise_address, undeliverable_reason

log = logging.getLogger("bot.outreach.outbox")  # the outbox's logger, as before it was split


class Preparation:
    """Re-checks and renders claimed messages for worker ``recorder.worker``."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        recorder: Recorder,
        notices: NoticeService,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.recorder = recorder
        self.notices = notices
        self.worker = recorder.worker
        self.clock = clock
        self.policy = settings.planning_policy()

    def prepare(self, claims: list[tuple[int, int]], as_of: date) -> tuple[list[Ready], list[Done]]:
        """Re-check and render a claimed batch in ONE transaction.

        Messages no longer due are cancelled, those outside the window or over the caps are held,
        blocked ones fail with a task, task-channel messages become collector tasks; the rest come back
        ready to be marked ``sending``. Everything here is undone by a rollback: nothing was sent yet.
        """
        now = self.clock()
        ready: list[Ready] = []
        done: list[Done] = []
        fences = dict(claims)
        with self.engine.begin() as connection:
            query = sa.select(message_t).where(
                message_t.c.id.in_(list(fences)),
                message_t.c.state == MessageState.CLAIMED,
                message_t.c.lease_owner == self.worker,
            )
            rows = [r for r in connection.execute(query).all() if r.fence == fences[r.id]]
            done.extend(Done("", "", Outcome.LOST) for _ in range(len(claims) - len(rows)))
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
                if isinstance(outcome, Ready):
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
    ) -> Ready | Done:
        channel = Channel(row.channel)
        ledger = ledgers.get(row.customer_id)
        if ledger is None:
            return self.recorder.not_sent(
                connection, row, MessageState.CANCELLED, "the customer is gone", now, events
            )
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
            return self.recorder.not_sent(connection, row, MessageState.CANCELLED, reason, now, events)
        undeliverable = undeliverable_reason(connection, channel.value, customer)
        if undeliverable:
            return self._wait_for_contact(connection, row, customer, undeliverable, now, events)
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
                return Done(row.step, channel.value, Outcome.HELD)
            sent.append((channel.value, now))  # the next message of this batch sees this one
        step = self._step(row.step, [tactics.get((n, row.step), "") for n in numbers], customer)
        if step is None:
            reason = f"step {row.step!r} is no longer in the ladder"
            return self.recorder.not_sent(
                connection, row, MessageState.FAILED, reason, now, events, task=True
            )
        key = row.message_id or message_key(
            row.id, row.business_date, channel, self.settings.email.from_address
        )
        reference = reference_of(row.id, row.business_date)

        def blocked(reason: str) -> Done:
            # Not sent, and not to be retried: a person fixes the cause (the task says what).
            return self.recorder.not_sent(
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
                message_row=row.id,
            )
        except (BlockedContent, TemplateRenderError) as exc:
            return blocked(str(exc))
        if channel is Channel.TASK:
            return self.recorder.task_message(connection, row, composed.outgoing, step, customer, now, events)
        return Ready(
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

    def _wait_for_contact(
        self,
        connection: Connection,
        row: Any,
        customer: Customer,
        reason: str,
        now: datetime,
        events: list[NewEvent],
    ) -> Done:
        """The customer's contact on this channel bounced hard (since the claim): the message waits,
        planned and unclaimed, for a new address; the collector's task to fix it is made sure of."""
        connection.execute(
            sa.update(message_t)
            .where(message_t.c.id == row.id)
            .values(
                state=MessageState.PLANNED,
                last_error=reason,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )
        contact_task(
            connection,
            events,
            channel=row.channel,
            address=normalise_address(
                row.channel, recipient_for(customer, Channel(row.channel), self.settings)
            ),
            customer_id=customer.id,
            message_id=row.id,
            reason=reason,
            hard=True,
            now=now,
        )
        return Done(row.step, row.channel, Outcome.HELD)

    def _hold_for_retry(self, connection: Connection, row: Any, reason: str, now: datetime) -> Done:
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
        return Done(row.step, row.channel, Outcome.HELD)

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
        # The window is open now (``contact_time`` said so): the caps are the gates left.
        held = contact_hold(now, channel, customer.timezone, recent, compliance)
        if held is None:
            return None
        if held.gate is ContactGate.WEEKLY_CAP:
            # Tried again when the oldest send falls out of the 7 days, and judged again then.
            return when(min(at for _, at in recent) + WEEK)
        return when(held.until)  # the next local midnight: one message per channel per local day

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
