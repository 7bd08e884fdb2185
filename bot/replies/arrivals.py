"""Recording what arrived: each inbound e-mail or SMS once, as an ``inbound_message`` row in state
"received" and its raw bytes as an artifact, before anything is done about it.

Every way in (the IMAP mailbox, the demo's drop folder, Twilio's inbound webhook) builds an
:class:`Arrival` and calls :func:`record_arrivals`. The raw bytes are written to the artifact store
first (durable before the row that names them commits), then the rows are inserted if absent, in one
transaction per batch. The database decides what is new, never the caller's memory:

- ``source_key`` is unique: a message fetched twice (a crash between the commit and the move out of
  the folder, two instances polling at once, Twilio retrying a webhook) is a no-op the second time;
- a message whose raw bytes already arrived under another key (the mailbox's UIDVALIDITY changed, or
  the same .eml was put in the drop folder and the mailbox) is not recorded again either. On
  PostgreSQL the batch holds a transaction advisory lock so that two pollers cannot both pass that
  check; SQLite's write transactions are serial anyway.

The caller moves a message out of its folder only after :func:`record_arrivals` returned, whatever
the outcome: "already recorded" means another run did the work, and the message is done.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import getaddresses
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bot.evidence.artifacts import ArtifactStore
from bot.store import tables

inbound_t = tables.InboundMessage.__table__  # type: ignore[attr-defined]

_ARRIVAL_LOCK_KEY = 0x696E626D  # "inbm": one batch of arrivals checked and inserted at a time (PostgreSQL)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_STORE_THREADS = 8
_SENDER_MAX = 320
_MESSAGE_ID_MAX = 998


class ArrivalOutcome(StrEnum):
    """What recording one arrival did."""

    RECORDED = "recorded"  # a new inbound_message row, state "received"
    ALREADY_RECORDED = "already recorded"  # its source_key was recorded before (a re-fetch)
    SAME_CONTENT = "same content"  # its raw bytes arrived before under another key


@dataclass(frozen=True)
class Arrival:
    """One inbound message as it came in, before anything is made of it."""

    channel: str  # "email" | "sms"
    source_key: str  # unique: "imap:<host>/<user>/<folder>:<uidvalidity>:<uid>", "file:<sha256>", "sms:<sid>"
    raw: bytes  # RFC 5322 bytes, or the webhook's form as canonical JSON
    sender: str  # lower-cased e-mail address, or an E.164 number
    subject: str
    header_message_id: str | None
    received_at: datetime

    @property
    def raw_sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True)
class RecordedArrival:
    """An arrival and what recording it did; ``inbound_id`` is the row it has (new or earlier)."""

    arrival: Arrival
    outcome: ArrivalOutcome
    inbound_id: int | None


def email_arrival(source_key: str, raw: bytes, received_at: datetime) -> Arrival:
    """An e-mail arrival with the header fields the row keeps (From, Subject, Message-ID).

    Only the header is parsed; a header that cannot be read leaves its field empty rather than
    refusing the message (it is still recorded, and a collector sees the raw bytes).
    """
    end = _HEADER_END.search(raw)  # the body is not this step's business: parse the header alone
    headers = BytesHeaderParser(policy=default).parsebytes(raw[: end.end()] if end else raw)
    # Message-ID as written (unfolded): its parsed form would reject the odd ones that real mail has.
    message_id = next(
        (" ".join(value.split()) for name, value in headers.raw_items() if name.lower() == "message-id"), ""
    )
    return Arrival(
        channel="email",
        source_key=source_key,
        raw=raw,
        sender=_text(_sender(headers.get_all("From") or [])),
        subject=_text(_header_text(headers, "Subject")),
        header_message_id=_text(message_id)[:_MESSAGE_ID_MAX] or None,
        received_at=received_at,
    )


def _text(value: str) -> str:
    # Raw 8-bit header bytes come out of the parser as surrogate escapes, which no database column
    # takes: read them as UTF-8 (RFC 6532 headers are UTF-8), anything else as U+FFFD. NUL goes too
    # (PostgreSQL's text refuses it).
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")


def _header_text(headers: object, name: str) -> str:
    try:
        value = headers.get(name)  # type: ignore[attr-defined]
    except (ValueError, IndexError, TypeError):  # a header the policy cannot parse
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _sender(values: list[object]) -> str:
    try:
        for value in values:
            addresses = getattr(value, "addresses", None)
            if addresses:
                first: Address = addresses[0]
                if first.addr_spec and first.addr_spec != "<>":
                    return first.addr_spec.lower()[:_SENDER_MAX]
        for _, address in getaddresses([str(v) for v in values]):
            if address:
                return address.lower()[:_SENDER_MAX]
    except (ValueError, IndexError, TypeError):
        pass
    return ""


def record_arrivals(
    engine: Engine, artifacts: ArtifactStore, arrivals: Sequence[Arrival], now: datetime
) -> list[RecordedArrival]:
    """Store each arrival's raw bytes, then insert its row if it is new: one transaction, committed
    when this returns."""
    if not arrivals:
        return []
    # Durable before the rows commit. Each put waits for fsyncs (the file, its folder): in threads they
    # overlap, and a batch of 200 replies does not wait for 600 fsyncs one after the other.
    with ThreadPoolExecutor(
        max_workers=min(_STORE_THREADS, len(arrivals)), thread_name_prefix="inbound"
    ) as pool:
        digests = list(pool.map(artifacts.put, [arrival.raw for arrival in arrivals]))
    results: list[RecordedArrival] = []
    with engine.begin() as connection:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ARRIVAL_LOCK_KEY})
        keys = [arrival.source_key for arrival in arrivals]
        known_keys: dict[str, int | None] = {
            key: inbound_id
            for key, inbound_id in connection.execute(
                sa.select(inbound_t.c.source_key, inbound_t.c.id).where(inbound_t.c.source_key.in_(keys))
            )
        }
        known_content: dict[str, int | None] = {
            digest: inbound_id
            for digest, inbound_id in connection.execute(
                sa.select(inbound_t.c.raw_sha256, sa.func.min(inbound_t.c.id))
                .where(inbound_t.c.raw_sha256.in_(digests))
                .group_by(inbound_t.c.raw_sha256)
            )
        }
        new: dict[str, tuple[Arrival, str]] = {}  # source_key -> (arrival, digest), to insert
        first_of: dict[str, str] = {}  # digest -> source_key of the new arrival that has it
        for arrival, digest in zip(arrivals, digests, strict=True):
            if arrival.source_key in known_keys or arrival.source_key in new or digest in known_content:
                continue
            if digest not in first_of:
                new[arrival.source_key] = (arrival, digest)
                first_of[digest] = arrival.source_key
        inserted: dict[str, int] = {}
        if new:
            rows = [
                {
                    "channel": arrival.channel,
                    "source_key": arrival.source_key,
                    "raw_sha256": digest,
                    "sender": arrival.sender,
                    "subject": arrival.subject,
                    "header_message_id": arrival.header_message_id,
                    "received_at": arrival.received_at,
                    "state": "received",
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for arrival, digest in new.values()
            ]
            # One statement for the batch; a row another writer recorded meanwhile is skipped, not an error.
            statement = (
                dialect.insert(inbound_t)
                .on_conflict_do_nothing(index_elements=["source_key"])
                .returning(inbound_t.c.source_key, inbound_t.c.id)
            )
            inserted = {key: inbound_id for key, inbound_id in connection.execute(statement, rows)}
        for arrival, digest in zip(arrivals, digests, strict=True):
            key = arrival.source_key
            if key in known_keys:
                results.append(RecordedArrival(arrival, ArrivalOutcome.ALREADY_RECORDED, known_keys[key]))
            elif digest in known_content:
                results.append(RecordedArrival(arrival, ArrivalOutcome.SAME_CONTENT, known_content[digest]))
            elif key in inserted and new[key][0] is arrival:
                results.append(RecordedArrival(arrival, ArrivalOutcome.RECORDED, inserted[key]))
            elif key in new and new[key][0] is not arrival:  # the same key twice in one batch
                results.append(RecordedArrival(arrival, ArrivalOutcome.ALREADY_RECORDED, inserted.get(key)))
            elif key not in new:  # its bytes came earlier in this batch under another key
                results.append(
                    RecordedArrival(arrival, ArrivalOutcome.SAME_CONTENT, inserted.get(first_of[digest]))
                )
            else:  # recorded meanwhile by a writer that did not take the lock
                results.append(RecordedArrival(arrival, ArrivalOutcome.ALREADY_RECORDED, None))
    return results
