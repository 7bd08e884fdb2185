"""Replies as collectors read them (`dunbot reply list|show`, the console's Replies page), and the
checks before a collector confirms one (`dunbot reply confirm`, one click in the console).

A reply the classifier was not sure of waits in state ``confirm``: nothing was done about it. A
collector sees the replies of the customers they work (a manager and legal see all, unmatched ones
too); confirming goes to :func:`bot.replies.confirming.confirm_reply`, which acts as for a sure one.
The text shown is read back from the raw artifact (the e-mail's bytes, the SMS webhook's form).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.errors import EvidenceError, InputError
from bot.evidence.artifacts import ArtifactStore
from bot.replies.model import ReplyKind
from bot.replies.records import read_reply
from bot.reporting.visibility import Viewer, visible_customers
from bot.store import tables
from bot.store.engine import require_schema

inbound_t = tables.InboundMessage.__table__  # type: ignore[attr-defined]
customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
event_t = tables.EvidenceEvent.__table__  # type: ignore[attr-defined]

STATES = ("received", "handled", "confirm", "failed")
AWAITING = "confirm"
KINDS = tuple(kind.value for kind in ReplyKind)
MAX_TEXT = 20_000  # characters of a reply shown; the whole message is the artifact
MAX_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class ReplySummary:
    """One reply as a list shows it."""

    id: int
    channel: str
    sender: str
    subject: str
    received_at: datetime
    state: str  # received | handled | confirm | failed
    customer: str | None
    customer_name: str | None
    message: int | None  # the outgoing message it answers, when matched to one
    matched_by: str | None
    kind: str | None  # a ReplyKind value, as classified
    confidence: Decimal | None
    action: str | None


@dataclass(frozen=True, slots=True)
class ReplyEvent:
    """An evidence event about the reply (received, acted on, confirmed)."""

    seq: int
    at: str
    kind: str
    actor: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReplyDetail:
    """Everything `dunbot reply show` prints."""

    reply: ReplySummary
    text: str
    text_note: str  # why there is no text, or that it was cut
    raw_sha256: str
    reasons: tuple[str, ...]  # what decided the classification, from the evidence
    events: tuple[ReplyEvent, ...]


def list_replies(
    engine: Engine, viewer: Viewer | None, *, state: str | None = None, limit: int = 200
) -> list[ReplySummary]:
    """The newest replies ``viewer`` may see (everyone's for None, the command line), in ``state``."""
    require_schema(engine)
    if state is not None and state not in STATES:
        raise InputError(f"--state {state!r}: choose one of {', '.join(STATES)}")
    query = _query(viewer).order_by(inbound_t.c.received_at.desc(), inbound_t.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(inbound_t.c.state == state)
    with engine.connect() as connection:
        return [_summary(row) for row in connection.execute(query)]


def show_reply(engine: Engine, artifacts: ArtifactStore, reply_id: int, viewer: Viewer | None) -> ReplyDetail:
    """Reply ``reply_id`` with its text and the evidence about it; InputError when there is none
    (or ``viewer`` may not see it: the same answer, so a collector learns nothing of others')."""
    require_schema(engine)
    with engine.connect() as connection:
        summary = find_reply(connection, reply_id, viewer)
        raw = connection.execute(
            sa.select(inbound_t.c.raw_sha256).where(inbound_t.c.id == reply_id)
        ).scalar_one()
        events = _events(connection, reply_id)
    text, note = _text(artifacts, summary.channel, raw)
    reasons: list[str] = []
    for event in events:
        found = event.data.get("reasons")
        if isinstance(found, list):
            reasons = [str(r) for r in found]
    return ReplyDetail(summary, text, note, raw, tuple(reasons), tuple(events))


def find_reply(connection: Connection, reply_id: int, viewer: Viewer | None) -> ReplySummary:
    """The reply, if ``viewer`` may see it; InputError otherwise."""
    row = None
    if 0 < reply_id <= MAX_ID:
        row = connection.execute(_query(viewer).where(inbound_t.c.id == reply_id)).first()
    if row is None:
        raise InputError(f"no reply {reply_id}: `dunbot reply list` names the replies")
    return _summary(row)


def check_confirmable(engine: Engine, reply_id: int, kind: str | None, viewer: Viewer | None) -> ReplyKind:
    """Before confirming: the reply exists, ``viewer`` may see it, it awaits confirmation, and
    ``kind`` (None: as classified) is a kind of reply. Returns the kind to act on."""
    require_schema(engine)
    chosen = None
    if kind is not None:
        try:
            chosen = ReplyKind(kind)
        except ValueError:
            raise InputError(
                f"--as {kind!r} is not a kind of reply: choose one of {', '.join(KINDS)}"
            ) from None
    with engine.connect() as connection:
        reply = find_reply(connection, reply_id, viewer)
    if reply.state != AWAITING:
        raise InputError(
            f"reply {reply_id} does not await confirmation (it is {reply.state}"
            + (f": {reply.action}" if reply.action else "")
            + ")"
        )
    if chosen is not None:
        return chosen
    if reply.kind is None:
        raise InputError(f"reply {reply_id} was not classified: say what it is with --as KIND")
    return ReplyKind(reply.kind)


def _query(viewer: Viewer | None) -> sa.Select[Any]:
    query = sa.select(inbound_t, customer_t.c.name.label("customer_name")).select_from(
        inbound_t.outerjoin(customer_t, customer_t.c.id == inbound_t.c.customer_id)
    )
    if viewer is not None:
        query = query.where(visible_customers(viewer))
    return query


def _summary(row: Any) -> ReplySummary:
    return ReplySummary(
        id=row.id,
        channel=row.channel,
        sender=row.sender,
        subject=row.subject,
        received_at=row.received_at,
        state=row.state,
        customer=row.customer_id,
        customer_name=row.customer_name,
        message=row.message_id,
        matched_by=row.matched_by,
        kind=row.kind,
        confidence=row.confidence,
        action=row.action,
    )


def _events(connection: Connection, reply_id: int) -> list[ReplyEvent]:
    """The events that name the reply. Their payload belongs to the reply handling; the reply is
    looked for under the keys it may use (``inbound``, ``inbound_id``, ``reply``)."""
    found = []
    query = sa.select(event_t.c.body).where(event_t.c.kind.like("reply%")).order_by(event_t.c.seq)
    for (body,) in connection.execute(query):
        event = json.loads(body)
        data = event.get("data") or {}
        if any(data.get(key) == reply_id for key in ("inbound", "inbound_id", "reply")):
            found.append(
                ReplyEvent(
                    int(event["seq"]), str(event["at"]), str(event["kind"]), str(event.get("actor", "")), data
                )
            )
    return found


def _text(artifacts: ArtifactStore, channel: str, digest: str) -> tuple[str, str]:
    try:
        path = artifacts.path_of(digest)
    except EvidenceError:
        return "", f"the reply names no artifact ({digest!r})"
    if not path.is_file():
        return "", f"the raw reply {digest} is missing from the artifact store"
    reply = read_reply(path.read_bytes(), channel, "", datetime.now(UTC))
    text = (reply.full_text or reply.text).strip()
    if len(text) > MAX_TEXT:
        return text[:MAX_TEXT], f"cut at {MAX_TEXT} characters: the whole message is artifact {digest}"
    return text, ""
