"""The console's customer page (DESIGN §10): one customer as a collector works it.

The tier with the scorecard's reasons (:func:`bot.domain.tiers.assess`, as `dunbot plan` and
`dunbot report` compute it), the tactic, credit limit, aging buckets, the open invoices with their
outstanding and late fee (:mod:`bot.domain.fees`), the planned messages with why they wait and until
when (:mod:`bot.store.message_waits`, as `dunbot message show` explains it), and one page of the
**timeline**: the customer's evidence events, newest first, worded in zh-CN and en by the pack's
chronology (:mod:`bot.evidence.chronology_text`), each attempt to send with what it said and the
signed notice it carried (:mod:`bot.reporting.customer_messages`). A customer may have thousands
of events: the page reads ``limit`` of them by the evidence log's sequence number, and ``before``
pages to older ones.

A customer the viewer may not see is ``None``, exactly like one that does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.config import Settings
from bot.domain.decisions import TierAssessment
from bot.domain.fees import late_fee, terms_for
from bot.domain.ledger import TACTIC_OF_TIER, CustomerLedger, InvoiceStatus
from bot.domain.policy import CompliancePolicy
from bot.domain.reports import AGING_BUCKETS, aging, aging_bucket
from bot.domain.tiers import assess
from bot.domain.waiting import WaitExplanation
from bot.evidence import chronology_text as words
from bot.evidence.artifacts import ArtifactStore
from bot.reporting.customer_messages import (
    ATTEMPTS,
    NoticeFacts,
    SentContent,
    artifact_store,
    notices_of,
    read_content,
)
from bot.reporting.visibility import Viewer, visible_customers
from bot.store import tables
from bot.store.engine import require_schema
from bot.store.ledger_snapshots import iter_ledgers
from bot.store.message_waits import explain_planned

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
event_t = tables.EvidenceEvent.__table__  # type: ignore[attr-defined]
message_t = tables.Message.__table__  # type: ignore[attr-defined]
message_invoice_t = tables.MessageInvoice.__table__  # type: ignore[attr-defined]

TIMELINE_LIMIT = 50
# The evidence log's sequence numbers are 32-bit integers on PostgreSQL: a ``before`` above them all
# is the newest page (and must not reach the database as a number it cannot hold).
MAX_SEQ = 2**31 - 1
MAX_TIMELINE_LIMIT = 500
# Outbox states of a message that has not gone yet: planned (waiting for its gates) or claimed and
# being sent by a worker.
WAITING_STATES = ("planned", "claimed")


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """An invoice still owed on the page's date."""

    number: str
    currency: str
    amount: Decimal
    outstanding: Decimal
    issue_date: date
    due_date: date
    days_overdue: int
    bucket: str
    late_fee: Decimal
    status: str  # open or disputed
    promise_date: date | None
    promise_amount: Decimal | None
    paused_until: date | None


@dataclass(frozen=True, slots=True)
class AgingLine:
    """The customer's outstanding per aging bucket in one currency (buckets of `dunbot report aging`)."""

    currency: str
    amounts: tuple[tuple[str, Decimal], ...]  # (bucket, amount) in AGING_BUCKETS order
    total: Decimal


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """The outbox message an event is about, as it stands now."""

    id: int  # for bot.outreach.message_detail.show_message
    channel: str
    step: str
    state: str
    business_date: date
    sent_at: datetime | None
    provider_status: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WaitingMessage:
    """A message not yet gone: why it waits and until when (``waiting.goes_at``; None while it
    waits for a person), or what the outbox's re-check will cancel it for instead."""

    message: MessageFacts
    invoices: tuple[str, ...]
    waiting: WaitExplanation | None  # None for a message a worker has claimed
    will_cancel: str | None


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One evidence event of the customer, in words."""

    seq: int
    at: datetime
    kind: str  # the evidence event kind (message_sent, promise, tier_change, ...)
    actor: str
    invoices: tuple[str, ...]
    label: Mapping[str, str]  # language ("zh-CN", "en") -> what the event is
    summary: Mapping[str, str]  # language -> one sentence of what it records
    channel: str | None
    step: str | None
    message: MessageFacts | None  # the message it names, with its current delivery state
    data: Mapping[str, Any]  # the event's facts as recorded
    # an attempt's (sent, unknown, failed): what it said, read back from the artifact store
    content: SentContent | None = None
    notice: NoticeFacts | None = None  # the signed PDF the attempt carried


@dataclass(frozen=True, slots=True)
class Timeline:
    """One page of the timeline, newest first; ``older`` is the ``before`` of the next page."""

    events: tuple[TimelineEvent, ...]
    older: int | None  # None on the last page


@dataclass(frozen=True, slots=True)
class CustomerPage:
    """Everything the customer page shows."""

    id: str
    name: str
    account_manager: str | None
    assigned_to: str | None  # a manager's reassignment; who works the customer when set
    language: str
    timezone: str
    tier: str
    tier_overridden: bool
    score: Decimal | None
    scored_tier: str | None  # what the score alone gives (a trend overdue moves it down one)
    tier_reason: str  # the scorecard's sentence (or the override's)
    score_components: tuple[tuple[str, Decimal], ...]
    trend_invoices: tuple[str, ...]
    recorded_tier: str | None  # what the planner last recorded
    tactic: str
    credit_limit: Decimal | None
    credit_hold: bool
    do_not_contact: bool
    opted_out: tuple[str, ...]
    paused_until: date | None
    pause_reason: str | None
    aging: tuple[AgingLine, ...]
    open_invoices: tuple[OpenInvoice, ...]
    waiting: tuple[WaitingMessage, ...]
    timeline: Timeline


def customer_page(
    engine: Engine,
    settings: Settings,
    viewer: Viewer,
    customer_id: str,
    as_of: date,
    now: datetime,
    *,
    before: int | None = None,
    limit: int = TIMELINE_LIMIT,
) -> CustomerPage | None:
    """Customer ``customer_id`` on ``as_of`` with the timeline's events older than seq ``before``
    (the newest when None), at most ``limit``; None when absent or not visible to ``viewer``."""
    require_schema(engine)
    if not 1 <= limit <= MAX_TIMELINE_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_TIMELINE_LIMIT}, not {limit}")
    policy = settings.planning_policy()
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(customer_t).where(customer_t.c.id == customer_id, visible_customers(viewer))
        ).first()
        if row is None:
            return None
        ledger = next(iter_ledgers(connection, as_of, [customer_id]))
        assessment = assess(as_of, ledger, policy.scorecard, policy.compliance.tolerance)
        waiting = _waiting(connection, row, policy.compliance, now)
        timeline = _timeline(connection, artifact_store(settings), customer_id, before, limit)
    return CustomerPage(
        id=row.id,
        name=row.name,
        account_manager=row.account_manager,
        assigned_to=row.assigned_to,
        language=row.language,
        timezone=row.timezone,
        tier=assessment.tier.value,
        tier_overridden=assessment.overridden,
        score=assessment.score,
        scored_tier=assessment.scored_tier.value if assessment.scored_tier else None,
        tier_reason=assessment.reason,
        score_components=tuple(assessment.components.items()),
        trend_invoices=assessment.trend_invoices,
        recorded_tier=row.current_tier,
        tactic=TACTIC_OF_TIER[assessment.tier].value,
        credit_limit=row.credit_limit,
        credit_hold=bool(row.credit_hold),
        do_not_contact=bool(row.do_not_contact),
        opted_out=tuple(c for c in (row.opted_out or "").split(",") if c),
        paused_until=row.paused_until,
        pause_reason=row.pause_reason,
        aging=_aging(ledger, assessment, as_of),
        open_invoices=_open_invoices(ledger, settings, as_of),
        waiting=waiting,
        timeline=timeline,
    )


def _aging(ledger: CustomerLedger, assessment: TierAssessment, as_of: date) -> tuple[AgingLine, ...]:
    rows = aging(as_of, [(ledger, assessment.tier)]).by_customer
    return tuple(
        AgingLine(row.currency, tuple((b, row.amounts[b]) for b in AGING_BUCKETS), row.total) for row in rows
    )


def _open_invoices(ledger: CustomerLedger, settings: Settings, as_of: date) -> tuple[OpenInvoice, ...]:
    defaults = settings.fee_terms()
    found = []
    for invoice in ledger.invoices:
        outstanding = invoice.outstanding_as_of(as_of)
        if invoice.status is InvoiceStatus.WRITTEN_OFF or invoice.issue_date > as_of or outstanding <= 0:
            continue
        overdue = (as_of - invoice.due_date).days
        terms = terms_for(ledger.contracts.get(invoice.contract_ref or ""), defaults)
        found.append(
            OpenInvoice(
                number=invoice.number,
                currency=invoice.currency,
                amount=invoice.amount,
                outstanding=outstanding,
                issue_date=invoice.issue_date,
                due_date=invoice.due_date,
                days_overdue=overdue,
                bucket=aging_bucket(overdue),
                late_fee=late_fee(outstanding, overdue, terms, invoice.currency),
                status=invoice.status.value,
                promise_date=invoice.promise.date if invoice.promise else None,
                promise_amount=invoice.promise.amount if invoice.promise else None,
                paused_until=invoice.paused_until,
            )
        )
    return tuple(sorted(found, key=lambda i: (i.due_date, i.number)))


def _facts(row: Any) -> MessageFacts:
    return MessageFacts(
        id=row.id,
        channel=row.channel,
        step=row.step,
        state=row.state,
        business_date=row.business_date,
        sent_at=row.sent_at,
        provider_status=row.provider_status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _waiting(
    connection: Connection, customer: Any, policy: CompliancePolicy, now: datetime
) -> tuple[WaitingMessage, ...]:
    rows = connection.execute(
        sa.select(message_t)
        .where(message_t.c.customer_id == customer.id, message_t.c.state.in_(WAITING_STATES))
        .order_by(message_t.c.business_date, message_t.c.id)
    ).all()
    listed: dict[int, list[str]] = {row.id: [] for row in rows}
    if listed:
        links = sa.select(message_invoice_t.c.message_id, message_invoice_t.c.invoice_number).where(
            message_invoice_t.c.message_id.in_(sorted(listed))
        )
        for link in connection.execute(links):
            listed[link.message_id].append(link.invoice_number)
    found = []
    for row in rows:
        invoices = tuple(sorted(listed[row.id]))
        waiting, will_cancel = None, None
        if row.state == "planned":
            waiting, will_cancel = explain_planned(connection, row, customer, invoices, policy, now)
        found.append(WaitingMessage(_facts(row), invoices, waiting, will_cancel))
    return tuple(found)


def _timeline(
    connection: Connection, store: ArtifactStore, customer_id: str, before: int | None, limit: int
) -> Timeline:
    statement = sa.select(event_t.c.seq, event_t.c.body).where(event_t.c.customer == customer_id)
    if before is not None and before <= MAX_SEQ:
        statement = statement.where(event_t.c.seq < before)
    rows = connection.execute(statement.order_by(event_t.c.seq.desc()).limit(limit + 1)).all()
    bodies = [json.loads(row.body) for row in rows[:limit]]
    named = {_message_of(body) for body in bodies} - {None}
    messages = {
        row.id: _facts(row)
        for row in connection.execute(sa.select(message_t).where(message_t.c.id.in_(sorted(named))))  # type: ignore[type-var]
    }
    carried = (b["data"].get("notice_sha256") for b in bodies if b["kind"] in ATTEMPTS and b.get("data"))
    notices = notices_of(connection, customer_id, (d for d in carried if isinstance(d, str)))
    events = tuple(_event(body, messages, notices, store) for body in bodies)
    return Timeline(events, older=events[-1].seq if len(rows) > limit else None)


def _message_of(body: Mapping[str, Any]) -> int | None:
    message = body.get("data", {}).get("message")
    return message if isinstance(message, int) else None


def _event(
    body: Mapping[str, Any],
    messages: Mapping[int, MessageFacts],
    notices: Mapping[str, NoticeFacts],
    store: ArtifactStore,
) -> TimelineEvent:
    kind, data = str(body["kind"]), body.get("data", {})
    message_id = _message_of(body)
    content, notice = None, None
    if kind in ATTEMPTS:
        artifacts = data.get("artifacts")
        content = read_content(store, artifacts) if isinstance(artifacts, dict) else None
        notice = notices.get(str(data.get("notice_sha256") or ""))
    return TimelineEvent(
        seq=int(body["seq"]),
        at=datetime.fromisoformat(str(body["at"]).replace("Z", "+00:00")),
        kind=kind,
        actor=str(body.get("actor", "")),
        invoices=tuple(body.get("invoices") or ()),
        label={"zh-CN": words.what(kind, words.ZH), "en": words.what(kind, words.EN)},
        summary={
            "zh-CN": words.outcome(kind, data, "", words.ZH),
            "en": words.outcome(kind, data, "", words.EN),
        },
        channel=data.get("channel"),
        step=data.get("step"),
        message=messages.get(message_id) if message_id is not None else None,
        data=data,
        content=content,
        notice=notice,
    )
