"""A collector confirms a reply that handling would not act on by itself (DESIGN §11): below the
confidence threshold, from nobody known, from an address several customers share, or one that
could not be done as classified. The collector says what it is (or dismisses it) and, when it was
not clear, whose it is; it is then acted on exactly as handling would have, in one transaction with
the row's move from ``confirm`` to ``handled``, and the confirmation tasks are closed.

The console and the command line call :func:`confirm_reply`; :func:`replies_to_confirm` lists them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.config import Settings
from bot.errors import InputError
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.replies.acting import Acted, Understood, act, confirmation_prefix
from bot.replies.matching import Match
from bot.replies.model import Classification, ReplyKind
from bot.replies.records import InboundState, acted_event, read_reply, stored_details
from bot.store import tables
from bot.store.engine import require_schema

inbound_t = tables.InboundMessage.__table__  # type: ignore[attr-defined]
customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class PendingReply:
    """A reply waiting for a collector."""

    id: int
    channel: str
    sender: str
    subject: str
    received_at: datetime
    customer: str | None
    candidates: tuple[str, ...]
    kind: str | None
    confidence: Decimal | None
    why: str


def replies_to_confirm(engine: Engine, *, customer: str | None = None) -> list[PendingReply]:
    """The replies in state ``confirm``, oldest first (``customer``: those matched to it, or that it
    is one of the candidates of)."""
    require_schema(engine)
    query = (
        sa.select(inbound_t)
        .where(inbound_t.c.state == InboundState.CONFIRM.value)
        .order_by(inbound_t.c.received_at, inbound_t.c.id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    pending = []
    for row in rows:
        details = stored_details(row)
        candidates = tuple(details.get("candidates") or ())
        if customer is not None and customer != row.customer_id and customer not in candidates:
            continue
        pending.append(
            PendingReply(
                row.id,
                row.channel,
                row.sender,
                row.subject,
                row.received_at,
                row.customer_id,
                candidates,
                row.kind,
                row.confidence,
                str(details.get("why_confirm") or ""),
            )
        )
    return pending


def confirm_reply(
    engine: Engine,
    settings: Settings,
    inbound: int,
    kind: ReplyKind | None,
    by: str,
    now: datetime,
    *,
    customer: str | None = None,
    promise_date: date | None = None,
    promise_amount: Decimal | None = None,
) -> str:
    """Act on reply ``inbound`` as ``kind`` (None: dismiss it, nothing is done) on behalf of collector
    ``by``; returns what was done, in words.

    ``customer`` says whose reply it is (required when handling matched nobody, or several); a
    promise takes ``promise_date`` / ``promise_amount`` when given, else what the classifier found.
    Anything that cannot be done (no such reply, not waiting, a promise without a date or for a day
    past) is an :class:`InputError`, and nothing is written.
    """
    require_schema(engine)
    with engine.connect() as connection:
        row = connection.execute(sa.select(inbound_t).where(inbound_t.c.id == inbound)).first()
        if row is None:
            raise InputError(f"no reply {inbound}: check the number")
        if row.state != InboundState.CONFIRM.value:
            raise InputError(f"reply {inbound} is {row.state}, not waiting for a collector")
        details = stored_details(row)
        chosen = customer or row.customer_id
        if kind is not None and chosen is None:
            candidates = ", ".join(details.get("candidates") or ()) or "none matched"
            raise InputError(f"say whose reply {inbound} is: name the customer ({candidates})")
        zone = settings.company.timezone
        if chosen is not None:
            zone_row = connection.execute(
                sa.select(customer_t.c.timezone).where(customer_t.c.id == chosen)
            ).first()
            if zone_row is None:
                raise InputError(f"no customer {chosen!r}: check the id (customers.csv `id` column)")
            zone = str(zone_row.timezone)
    store = ArtifactStore(settings.path(settings.evidence.artifact_dir))
    reply = read_reply(store.get(row.raw_sha256), row.channel, row.sender, row.received_at)
    same = chosen == row.customer_id
    matched = Match(
        chosen,
        row.message_id if same else None,
        row.matched_by if same else "collector",
        tuple(details.get("candidates") or ()),
        tuple(details.get("invoices") or ()) if same else (),
    )
    stored_date, stored_amount = details.get("promise_date"), details.get("promise_amount")
    classification = Classification(
        kind=kind or ReplyKind(row.kind or ReplyKind.OTHER.value),
        confidence=Decimal(1),
        language=details.get("language"),
        promise_date=promise_date or (date.fromisoformat(stored_date) if stored_date else None),
        promise_amount=promise_amount
        if promise_amount is not None
        else (Decimal(stored_amount) if stored_amount else None),
        acknowledges_debt=bool(details.get("acknowledges_debt")),
        remittance=bool(details.get("remittance")),
        reasons=(*(details.get("reasons") or ()), f"confirmed by {by}"),
    )
    today = now.astimezone(ZoneInfo(zone)).date()
    understood = Understood(
        inbound, row.raw_sha256, reply, matched, classification, dict(details.get("attachments") or {}), today
    )
    with Session(engine) as session:
        moved = (
            session.connection()
            .execute(
                sa.update(inbound_t)
                .where(inbound_t.c.id == inbound, inbound_t.c.state == InboundState.CONFIRM.value)
                .values(state=InboundState.HANDLED.value, updated_at=now)
            )
            .rowcount
        )
        if not moved:
            raise InputError(f"reply {inbound} was confirmed by someone else meanwhile")
        acted = (
            act(session, settings, understood, actor=by, now=now) if kind is not None else Acted("dismissed")
        )
        events = [*acted.events, *_close_confirmations(session, inbound, acted, by, now)]
        events.append(acted_event(understood, acted, actor=by, confirmed_by=by, dismissed=kind is None))
        session.connection().execute(
            sa.update(inbound_t)
            .where(inbound_t.c.id == inbound)
            .values(
                customer_id=chosen,
                message_id=matched.message,
                matched_by=matched.matched_by,
                kind=kind.value if kind is not None else row.kind,
                action=f"{acted.action} (confirmed by {by})"[:2000],
            )
        )
        append_events(session, now, events)
        session.commit()
    return acted.action


def _close_confirmations(
    session: Session, inbound: int, acted: Acted, by: str, now: datetime
) -> list[NewEvent]:
    """Close the open tasks that asked to confirm reply ``inbound``."""
    connection = session.connection()
    rows = connection.execute(
        sa.select(task_t).where(
            task_t.c.dedupe_key.like(f"{confirmation_prefix(inbound)}%"), task_t.c.status == "open"
        )
    ).all()
    events = []
    for row in rows:
        note = f"reply {inbound}: {acted.action}"
        connection.execute(
            sa.update(task_t)
            .where(task_t.c.id == row.id, task_t.c.status == "open")
            .values(status="done", outcome="confirmed", note=note, done_at=now)
        )
        events.append(
            NewEvent(
                kind=EventKind.TASK_DONE,
                actor=by,
                customer=row.customer_id,
                invoices=tuple(json.loads(row.invoices)),
                data={
                    "task": row.id,
                    "kind": row.kind,
                    "step": row.step,
                    "title": row.title,
                    "note": note,
                    "outcome": "confirmed",
                    "tracking": None,
                },
                dedupe_key=f"task_done:{row.id}",
            )
        )
    return events
