"""Appending to the evidence log: gapless seq, canonical body, content hash and chain hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from bot.evidence.canonical import ZERO_HASH, canonical_bytes, chain_hash, format_instant
from bot.store.tables import EvidenceEvent

_evidence_t = EvidenceEvent.__table__  # type: ignore[attr-defined]

# Any constant works; it only has to be the same for every dunbot process on one database.
_APPEND_LOCK_KEY = 0x64756E626F74

# Built once: every send records an event, and building a statement costs more than running it.
_LAST = sa.select(_evidence_t.c.seq, _evidence_t.c.chain_hash).order_by(_evidence_t.c.seq.desc()).limit(1)
_SEEN = sa.select(_evidence_t.c.dedupe_key).where(
    _evidence_t.c.dedupe_key.in_(sa.bindparam("keys", expanding=True))
)
_INSERT = sa.insert(_evidence_t)


class EventKind(StrEnum):
    """Kinds of evidence events (DESIGN §6)."""

    IMPORT = "import"  # a ledger file or source was imported and changed something
    PAYMENT = "payment"  # a payment was recorded
    TIER_CHANGE = "tier_change"  # the customer's tier differs from the last one recorded
    ALERT = "alert"  # early warning (credit hold recommended) or trend overdue
    BROKEN_PROMISE = "broken_promise"  # a promise to pay passed unpaid
    STEP_SUPERSEDED = "step_superseded"  # a ladder step was skipped because a later one was due
    STEP_PLANNED = "step_planned"  # a ladder step was planned for sending
    APPROVAL_REQUESTED = "approval_requested"  # a step waits for a collector's approval
    APPROVAL = "approval"  # a collector approved or rejected a step
    NOTICE_RENDERED = "notice_rendered"  # a (signed) notice was produced
    MESSAGE_SENT = "message_sent"  # a provider accepted a message
    MESSAGE_FAILED = "message_failed"  # a send failed
    MESSAGE_UNKNOWN = "message_unknown"  # a send may or may not have happened
    MESSAGE_DELIVERED = "message_delivered"  # a provider reported delivery (or non-delivery)
    MESSAGE_CANCELLED = "message_cancelled"  # the fresh re-check found the message no longer due
    MESSAGE_RESOLVED = "message_resolved"  # a collector said what became of an unknown message
    MESSAGE_UNDELIVERABLE = "message_undeliverable"  # a bounce or carrier report: the contact failed
    OPT_OUT = "opt_out"  # a recipient unsubscribed from a channel (e.g. Twilio 21610)
    TASK_CREATED = "task_created"  # a collector work item was created
    TASK_DONE = "task_done"  # a collector finished a work item
    TASK_UPDATED = "task_updated"  # an open work item no longer covers some of its invoices
    DISPUTE = "dispute"  # a dispute was opened or closed
    PROMISE = "promise"  # a promise to pay was recorded
    PAUSE = "pause"  # a collector paused an invoice or a customer until a date
    NOTE = "note"  # a collector's note on a customer (and maybe some of its invoices)
    CREDIT_HOLD = "credit_hold"  # the customer's credit was put on hold
    EXPORT = "export"  # an evidence pack was exported
    USER_ADDED = "user_added"  # a console user was created (name, role; never the password)
    USER_DISABLED = "user_disabled"  # a console user was disabled and their sessions ended
    CUSTOMER_REASSIGNED = "customer_reassigned"  # a manager gave a customer to another collector
    REPLY_RECEIVED = "reply_received"  # a customer's e-mail or SMS arrived, matched and classified
    REPLY_ACTED = "reply_acted"  # what was done about a reply (automatically or by a collector)


class WrittenEvent(NamedTuple):
    """An appended event: where it is in the log and its hashes (the row holds the rest)."""

    seq: int
    kind: str
    content_hash: str
    chain_hash: str


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append; ``data`` holds the kind-specific facts."""

    kind: EventKind
    actor: str
    data: Mapping[str, Any]
    customer: str | None = None
    invoices: tuple[str, ...] = ()
    dedupe_key: str | None = None


def event_body(seq: int, at: datetime, event: NewEvent) -> dict[str, Any]:
    """The document that is hashed: every field of the event, so no column can change unseen."""
    return {
        "seq": seq,
        "at": format_instant(at),
        "kind": event.kind.value,
        "actor": event.actor,
        "customer": event.customer,
        "invoices": sorted(event.invoices),
        "data": dict(event.data),
    }


def _lock_log(connection: Connection) -> None:
    # Serialise appenders so seq stays gapless and each chain_hash extends the true predecessor.
    # On SQLite every transaction already began with BEGIN IMMEDIATE and holds the write lock.
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK_KEY})


def append_events(
    transaction: Session | Connection, at: datetime, events: Iterable[NewEvent]
) -> list[WrittenEvent]:
    """Append events in order inside the caller's transaction (a Session's or a Core connection's);
    returns those written.

    An event whose ``dedupe_key`` is already in the log is skipped: such facts are recorded once.
    """
    pending = list(events)
    if not pending:
        return []
    connection = transaction.connection() if isinstance(transaction, Session) else transaction
    _lock_log(connection)
    keys = [e.dedupe_key for e in pending if e.dedupe_key]
    seen: set[str] = set()
    for start in range(0, len(keys), 500):
        seen.update(k for k in connection.execute(_SEEN, {"keys": keys[start : start + 500]}).scalars() if k)
    last = connection.execute(_LAST).first()
    seq, previous = (last[0], bytes.fromhex(last[1])) if last else (0, ZERO_HASH)
    written: list[WrittenEvent] = []
    rows: list[dict[str, Any]] = []
    for event in pending:
        if event.dedupe_key:
            if event.dedupe_key in seen:
                continue
            seen.add(event.dedupe_key)
        seq += 1
        body = canonical_bytes(event_body(seq, at, event))
        content = hashlib.sha256(body).digest()
        previous = chain_hash(previous, content)
        row: dict[str, Any] = {
            "seq": seq,
            "at": at,
            "kind": event.kind.value,
            "actor": event.actor,
            "customer": event.customer,
            "invoices": json.dumps(sorted(event.invoices), ensure_ascii=False, separators=(",", ":")),
            "body": body.decode("utf-8"),
            "content_hash": content.hex(),
            "chain_hash": previous.hex(),
            "leaf_hash": hashlib.sha256(b"\x00" + body).hexdigest(),  # RFC 9162 leaf
            "dedupe_key": event.dedupe_key,
        }
        rows.append(row)
        written.append(WrittenEvent(seq, row["kind"], row["content_hash"], row["chain_hash"]))
    if rows:
        # Core executemany inside the caller's transaction: the log is written in one round trip.
        connection.execute(_INSERT, rows)
    return written


def append_event(session: Session, at: datetime, event: NewEvent) -> WrittenEvent | None:
    """Append one event; None when its dedupe_key was already recorded."""
    written = append_events(session, at, [event])
    return written[0] if written else None
