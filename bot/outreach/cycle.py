"""A cycle (DESIGN §5): sync sources -> plan and record the day -> recover -> send what is due.

``run_cycle`` is what `dunbot cycle` and each tick of `dunbot run` call. ``send_due`` is the second
half alone, which the daemon runs when a waiting message comes due (a recipient's window opens);
``next_send_at`` says when that is. ``dry_run_cycle`` renders every message the day's plan would
send and reports it, writing and sending nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.channels.base import Sender
from bot.channels.email_transport import email_sender
from bot.config import Settings, secret
from bot.domain.decisions import DecisionStatus, PlanDecision
from bot.domain.ledger import Channel, CustomerLedger
from bot.errors import DunbotError
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.checkpoint import Checkpoint
from bot.evidence.service import checkpoint_now
from bot.outreach.compose import BlockedContent, compose
from bot.outreach.notices import notice_renderer
from bot.outreach.outbox import (
    MessageState,
    Outbox,
    OutboxStats,
    Outcome,
    message_key,
    needs_notice,
    recipient_for,
)
from bot.outreach.planning import RecordedPlan, preview_plan, record_plan
from bot.render.environment import TemplateRenderError
from bot.render.notice import NoticeRenderer, SignedNotice
from bot.store.engine import require_schema
from bot.store.queries import message_t
from bot.store.undeliverable import any_blocked_contact


@dataclass
class CycleReport:
    """What one cycle did."""

    as_of: date
    recorded: RecordedPlan | None = None
    stats: OutboxStats = field(default_factory=OutboxStats)
    released: int = 0
    recovered_unknown: int = 0
    synced: int = 0
    checkpoint: Checkpoint | None = None  # the signed checkpoint made at the end of the cycle


def log_report(log: logging.Logger, report: CycleReport) -> None:
    """One INFO line summing up a cycle, its counts by outcome also as fields (for JSON logs)."""
    outcomes = {outcome.value: count for outcome, count in sorted(report.stats.outcomes.items())}
    log.info(
        "cycle %s: %s",
        report.as_of,
        ", ".join(f"{count} {name}" for name, count in outcomes.items()) or "nothing due",
        extra={"as_of": report.as_of.isoformat(), "released": report.stats.released, **outcomes},
    )


@dataclass(frozen=True, slots=True)
class DryRunMessage:
    """A message the plan would send, rendered."""

    customer: str
    step: str
    channel: str
    recipient: str
    subject: str
    invoices: tuple[str, ...]
    blocked: str = ""


def worker_name() -> str:
    """This process, for leases and as the actor of the events it writes."""
    return f"outbox@{socket.gethostname()}:{os.getpid()}"


def build_senders(settings: Settings) -> dict[Channel, Sender]:
    """The transports the config names; secrets are read from the environment here, once."""
    from bot.channels.file import FileSender
    from bot.channels.letter import LetterQueueSender

    senders: dict[Channel, Sender] = {
        Channel.LETTER: LetterQueueSender(settings.path(settings.letter.queue_dir))
    }
    senders[Channel.EMAIL] = email_sender(settings, connections=settings.outreach.concurrency)
    sms, voice = settings.sms, settings.voice
    if sms.transport == "twilio" or voice.transport == "twilio":
        from bot.channels.twilio import TwilioSmsSender, TwilioVoiceSender

        token = secret(sms.auth_token_env, "sms.auth_token_env")
        if sms.transport == "twilio":
            senders[Channel.SMS] = TwilioSmsSender(
                account_sid=sms.account_sid or "",
                auth_token=token,
                from_number=sms.from_number,
                messaging_service_sid=sms.messaging_service_sid,
                status_callback_url=sms.status_callback_url,
                api_base_url=sms.api_base_url,
                connections=settings.outreach.concurrency,
            )
        if voice.transport == "twilio":
            senders[Channel.VOICE] = TwilioVoiceSender(
                account_sid=sms.account_sid or "",
                auth_token=token,
                from_number=voice.from_number or sms.from_number,
                status_callback_url=sms.status_callback_url,
                api_base_url=sms.api_base_url,
                connections=settings.outreach.concurrency,
            )
    senders.setdefault(Channel.SMS, FileSender(Channel.SMS, settings.path(sms.drop_dir)))
    senders.setdefault(Channel.VOICE, FileSender(Channel.VOICE, settings.path(voice.drop_dir)))
    return senders


async def run_cycle(
    engine: Engine,
    settings: Settings,
    as_of: date,
    *,
    clock: Callable[[], datetime],
    exclusive: bool,
    senders: dict[Channel, Sender] | None = None,
    stop: asyncio.Event | None = None,
    progress: Callable[[Outcome], None] | None = None,
    worker: str | None = None,
) -> CycleReport:
    """Plan ``as_of``, record it, recover what a crash left behind, and send everything due.

    Each cycle is recorded as a ``cycle_run`` (how long, how it ended) for health and metrics.
    """
    require_schema(engine)
    name = worker or worker_name()
    started = clock()
    try:
        report = await _cycle(engine, settings, as_of, clock, exclusive, senders, stop, progress, name)
    except Exception as exc:
        record_cycle_run(engine, name, as_of, started, clock(), error=f"{type(exc).__name__}: {exc}")
        raise
    record_cycle_run(engine, name, as_of, started, clock(), report=report)
    return report


def record_cycle_run(
    engine: Engine,
    worker: str,
    as_of: date,
    started: datetime,
    finished: datetime,
    *,
    report: CycleReport | None = None,
    error: str | None = None,
) -> None:
    """One ``cycle_run`` row: the daemon's heartbeat for /readyz, /metrics and `dunbot status`."""
    import sqlalchemy as sa

    from bot.store import tables

    outcomes = report.stats.outcomes if report is not None else Counter()
    with engine.begin() as connection:
        connection.execute(
            sa.insert(tables.CycleRun.__table__),  # type: ignore[attr-defined]
            {
                "worker": worker[:200],
                "as_of": as_of,
                "started_at": started,
                "finished_at": finished,
                "ok": error is None,
                "error": error[:2000] if error else None,
                "messages_sent": outcomes.get(Outcome.SENT, 0),
                "messages_failed": outcomes.get(Outcome.FAILED, 0) + outcomes.get(Outcome.BLOCKED, 0),
                "messages_unknown": outcomes.get(Outcome.UNKNOWN, 0),
                "checkpoint_id": report.checkpoint.id if report is not None and report.checkpoint else None,
            },
        )


async def _cycle(
    engine: Engine,
    settings: Settings,
    as_of: date,
    clock: Callable[[], datetime],
    exclusive: bool,
    senders: dict[Channel, Sender] | None,
    stop: asyncio.Event | None,
    progress: Callable[[Outcome], None] | None,
    worker: str,
) -> CycleReport:
    report = CycleReport(as_of=as_of)
    if settings.source.url:
        from bot.ingest.service import ImportDefaults
        from bot.ingest.source import sync_source

        defaults = ImportDefaults(
            country=settings.company.country,
            timezone=settings.company.timezone,
            language=settings.company.language.value,
        )
        reports = sync_source(engine, settings.source.url, settings.source.queries(), defaults, clock())
        report.synced = sum(r.inserted + r.updated for r in reports)
    report.recorded = record_plan(engine, settings, as_of, clock())
    await _send(engine, settings, as_of, clock, exclusive, senders, stop, progress, worker, report)
    # Every cycle ends with a signed checkpoint of the log (DESIGN §6), when the log grew.
    report.checkpoint = checkpoint_now(engine, settings, clock(), "cycle")
    return report


async def send_due(
    engine: Engine,
    settings: Settings,
    as_of: date,
    *,
    clock: Callable[[], datetime],
    exclusive: bool,
    senders: dict[Channel, Sender] | None = None,
    stop: asyncio.Event | None = None,
    worker: str | None = None,
) -> CycleReport:
    """Send what has come due in the outbox for ``as_of`` and earlier, without syncing or planning.

    The daemon runs it when a waiting message's window opens, so that a recipient west of the
    company is reached on its own business day rather than at the next tick (DESIGN §4 rule 3).
    It is not a cycle: no ``cycle_run`` row, so health and `status` still speak of the last plan.
    """
    require_schema(engine)
    report = CycleReport(as_of=as_of)
    name = worker or worker_name()
    await _send(engine, settings, as_of, clock, exclusive, senders, stop, None, name, report)
    report.checkpoint = checkpoint_now(engine, settings, clock(), "send")  # the sends, checkpointed now
    return report


async def _send(
    engine: Engine,
    settings: Settings,
    as_of: date,
    clock: Callable[[], datetime],
    exclusive: bool,
    senders: dict[Channel, Sender] | None,
    stop: asyncio.Event | None,
    progress: Callable[[Outcome], None] | None,
    worker: str,
    report: CycleReport,
) -> None:
    own_senders = senders is None
    active = senders if senders is not None else build_senders(settings)
    outbox = Outbox(
        engine,
        settings,
        active,
        ArtifactStore(settings.path(settings.evidence.artifact_dir)),
        worker=worker,
        clock=clock,
    )
    try:
        report.released, report.recovered_unknown = outbox.recover(exclusive=exclusive)
        report.stats = await outbox.drain(as_of, stop=stop, progress=progress)
    finally:
        outbox.close()
        if own_senders:
            for sender in active.values():
                await sender.aclose()


def dry_run_cycle(
    engine: Engine, settings: Settings, as_of: date
) -> tuple[list[DryRunMessage], Counter[str]]:
    """Render every message the plan for ``as_of`` would send; nothing is written or sent.

    Signed notices are rendered and signed too (in memory, then dropped), so a missing font, glyph
    or certificate shows up here as a blocked message rather than on the day.
    """
    preview = preview_plan(engine, settings, as_of)
    renderer: NoticeRenderer | str  # the renderer, or why there is none (each signed message says it)
    try:
        renderer = notice_renderer(settings)
    except DunbotError as exc:
        renderer = f"the signed notice could not be produced: {exc}"
    policy = settings.planning_policy()
    steps = {(tactic, step.name): step for tactic, ladder in policy.ladders.items() for step in ladder}
    ledgers = _ledgers(engine, as_of, sorted({plan.customer for plan in preview.plans}))
    messages: list[DryRunMessage] = []
    statuses: Counter[str] = Counter(d.status.value for d in preview.decisions)
    for plan in preview.plans:
        ledger = ledgers.get(plan.customer)
        if ledger is None:
            continue
        groups: dict[str, list[str]] = {}
        first: dict[str, PlanDecision] = {}
        for decision in plan.decisions:
            if decision.status is DecisionStatus.PLANNED:
                groups.setdefault(decision.step, []).append(decision.invoice)
                first.setdefault(decision.step, decision)
        for step_name, numbers in groups.items():
            decision = first[step_name]
            step = steps[(decision.tactic, step_name)]
            invoices = [i for i in ledger.invoices if i.number in numbers]
            notice: SignedNotice | None = None
            notice_problem = ""
            for channel_value in decision.channels:
                channel = Channel(channel_value)
                recipient = recipient_for(ledger.customer, channel, settings)
                wanted = needs_notice(step, channel)
                if wanted and notice is None and not notice_problem:
                    notice, notice_problem = _dry_run_notice(
                        renderer, settings, ledger, step, invoices, as_of
                    )
                subject, listed, problem = "", tuple(numbers), notice_problem if wanted else ""
                if not problem:
                    try:
                        out = compose(
                            settings,
                            key=message_key(0, as_of, channel, settings.email.from_address),
                            channel=channel,
                            recipient=recipient,
                            customer=ledger.customer,
                            step=step,
                            invoices=invoices,
                            contracts=ledger.contracts,
                            as_of=as_of,
                            reference=f"DN-{as_of:%Y%m%d}-DRYRUN",
                            notice=notice if wanted else None,
                        ).outgoing
                        subject, listed = out.subject or out.text[:60], out.invoices
                    except (BlockedContent, TemplateRenderError) as exc:
                        problem = str(exc)
                messages.append(
                    DryRunMessage(
                        plan.customer, step_name, channel.value, recipient, subject, listed, problem
                    )
                )
    if not isinstance(renderer, str):
        renderer.close()
    return messages, statuses


@dataclass(frozen=True)
class QueuedMessages:
    """Messages already in the outbox that a cycle would send, now or later (a dry run reports them)."""

    due: int  # a cycle now would send these (stale claims included)
    held: int  # held for the recipient's contact window or a retry
    next_at: datetime | None  # when the first held one becomes due


def queued_messages(engine: Engine, as_of: date, now: datetime) -> QueuedMessages:
    """What the outbox holds for ``as_of`` and earlier that is not sent yet."""
    # A message waiting for a new contact (its address bounced hard) is neither due nor held.
    planned = (message_t.c.state == MessageState.PLANNED) & ~any_blocked_contact()
    held = planned & (message_t.c.next_attempt_at > now)
    ready = planned & (message_t.c.next_attempt_at.is_(None) | (message_t.c.next_attempt_at <= now))
    # A claim whose lease ran out (a cycle that died before sending): the next cycle releases it
    # and sends the message.
    stale_claim = (message_t.c.state == MessageState.CLAIMED) & (message_t.c.lease_until < now)
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(
                sa.func.count().filter(ready | stale_claim),
                sa.func.count().filter(held),
                sa.func.min(message_t.c.next_attempt_at).filter(held),
            ).where(planned | stale_claim, message_t.c.business_date <= as_of)
        ).one()
    return QueuedMessages(due=int(row[0]), held=int(row[1]), next_at=row[2])


def next_send_at(engine: Engine, as_of: date, now: datetime) -> datetime | None:
    """When a message planned for ``as_of`` or earlier next comes due; ``now`` if one is due already.

    None when nothing waits. The daemon schedules its wake-up for this instant: the messages and
    their ``next_attempt_at`` (window, caps, retry) live in the database, the scheduler holds only
    the time. Messages of a later business date are left to that date's cycle.
    """
    waiting = (
        (message_t.c.state == MessageState.PLANNED)
        & (message_t.c.business_date <= as_of)
        & ~any_blocked_contact()  # it waits for a person to change the contact, not for a time
    )
    with engine.connect() as connection:
        unheld, earliest = connection.execute(
            sa.select(
                sa.func.count().filter(message_t.c.next_attempt_at.is_(None)),
                sa.func.min(message_t.c.next_attempt_at),
            ).where(waiting)
        ).one()
    if unheld:
        return now
    if earliest is None:
        return None
    due: datetime = earliest
    return max(due, now)


def _dry_run_notice(
    renderer: NoticeRenderer | str,
    settings: Settings,
    ledger: CustomerLedger,
    step: Any,
    invoices: list[Any],
    as_of: date,
) -> tuple[SignedNotice | None, str]:
    """The step's notice rendered and signed in memory, or why it cannot be."""
    from bot.outreach.compose import message_context

    if isinstance(renderer, str):
        return None, renderer
    try:
        context = message_context(
            settings, ledger.customer, step, invoices, ledger.contracts, as_of,
            f"DN-{as_of:%Y%m%d}-DRYRUN", notice_attached=True,
        )  # fmt: skip
        notice = renderer.render(
            ledger.customer.language.value, step.template_name, context, ledger.customer.address or ""
        )
    except DunbotError as exc:
        return None, f"the signed notice could not be produced: {exc}"
    return notice, ""


def _ledgers(engine: Engine, as_of: date, customer_ids: list[str]) -> dict[str, CustomerLedger]:
    from bot.store.queries import iter_ledgers

    with engine.connect() as connection:
        return {ledger.customer.id: ledger for ledger in iter_ledgers(connection, as_of, customer_ids)}
