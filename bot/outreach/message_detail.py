"""`dunbot message show`: one outbox message as a collector needs it.

What it said (read back from the stored artifacts: the RFC 5322 bytes of an e-mail, the SMS request,
the queued letter), what went with it (attachments by name, size and SHA-256, and where the signed
PDF is), what happened to it (the evidence events that name it, in order) and, while it is still
planned, why it waits and from when it can go (:mod:`bot.domain.waiting`).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.config import Settings
from bot.domain.ledger import Channel
from bot.domain.waiting import WaitExplanation
from bot.errors import DunbotError, InputError
from bot.evidence.artifacts import ArtifactStore
from bot.store import tables
from bot.store.engine import require_schema
from bot.store.message_waits import explain_planned

message_t = tables.Message.__table__  # type: ignore[attr-defined]
message_invoice_t = tables.MessageInvoice.__table__  # type: ignore[attr-defined]
customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]
event_t = tables.EvidenceEvent.__table__  # type: ignore[attr-defined]
execution_t = tables.StepExecution.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]
notice_t = tables.Notice.__table__  # type: ignore[attr-defined]

# Events that carry the artifacts of an attempt, the latest one read back first.
_ATTEMPTS = ("message_sent", "message_unknown", "message_failed")


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file kept for the message: its name, size, SHA-256 and where it is on disk (if it is)."""

    name: str
    sha256: str
    size: int | None  # None: the artifact is missing from the store
    path: Path | None
    content_type: str = ""


@dataclass(frozen=True, slots=True)
class Content:
    """What the message said, as it was sent."""

    subject: str
    text: str
    headers: tuple[tuple[str, str], ...] = ()  # e-mail: From, To, Reply-To, Date, Message-ID ...
    source: StoredFile | None = None  # the artifact it was read from


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One step of the message's life, from the evidence log (``seq``) or its row (seq None)."""

    at: datetime
    seq: int | None
    state: str
    actor: str
    detail: str


@dataclass(frozen=True, slots=True)
class MessageDetail:
    """Everything `dunbot message show` prints."""

    id: int
    customer: str
    customer_name: str
    step: str
    channel: str
    business_date: date
    recipient: str
    state: str
    attempts: int
    key: str | None
    provider_id: str | None
    provider_status: str | None
    last_error: str | None
    sent_at: datetime | None
    next_attempt_at: datetime | None
    invoices: tuple[str, ...]
    content: Content | None
    content_note: str  # why there is no content, or where more of it is
    attachments: tuple[StoredFile, ...]
    signed_pdf: StoredFile | None
    history: tuple[HistoryEntry, ...]
    waiting: WaitExplanation | None  # only for a message still planned
    # a planned message the outbox's re-check will cancel instead of sending, and why
    will_cancel: str | None
    task: int | None  # the collector task the message became, or that reviews it


def show_message(engine: Engine, settings: Settings, message_id: int, now: datetime) -> MessageDetail:
    """Read message ``message_id`` back: content, attachments, history, and why it waits."""
    require_schema(engine)
    store = ArtifactStore(settings.path(settings.evidence.artifact_dir))
    with engine.connect() as connection:
        row = connection.execute(sa.select(message_t).where(message_t.c.id == message_id)).first()
        if row is None:
            raise InputError(
                f"no message {message_id}: `dunbot log --customer ID` names a customer's messages "
                "(the number after 'message')"
            )
        customer = connection.execute(sa.select(customer_t).where(customer_t.c.id == row.customer_id)).one()
        invoices = tuple(
            sorted(
                connection.execute(
                    sa.select(message_invoice_t.c.invoice_number).where(
                        message_invoice_t.c.message_id == message_id
                    )
                ).scalars()
            )
        )
        events = _events_of(connection, row.customer_id, message_id)
        named = _latest(events, "artifacts") or {}
        files = [_stored(store, name, digest) for name, digest in sorted(named.items())]
        content, attachments, note = _content(Channel(row.channel), files, store, row)
        signed_pdf = _signed_pdf(connection, store, events, attachments, files)
        task = _task_of(connection, row)
        waiting, will_cancel = None, None
        if row.state == "planned":
            waiting, will_cancel = explain_planned(
                connection, row, customer, invoices, settings.planning_policy().compliance, now
            )
    return MessageDetail(
        id=row.id,
        customer=row.customer_id,
        customer_name=customer.name,
        step=row.step,
        channel=row.channel,
        business_date=row.business_date,
        recipient=row.recipient,
        state=row.state,
        attempts=row.attempts,
        key=row.message_id,
        provider_id=row.provider_id,
        provider_status=row.provider_status,
        last_error=row.last_error,
        sent_at=row.sent_at,
        next_attempt_at=row.next_attempt_at,
        invoices=invoices,
        content=content,
        content_note=note,
        attachments=attachments,
        signed_pdf=signed_pdf,
        history=_history(row, events),
        waiting=waiting,
        will_cancel=will_cancel,
        task=task,
    )


# --- the evidence events that name the message ----------------------------------------------------


def _events_of(connection: Connection, customer: str, message_id: int) -> list[dict[str, Any]]:
    """The canonical bodies of the events about ``message_id``, oldest first."""
    found = []
    query = (
        sa.select(event_t.c.body)
        .where(
            event_t.c.customer == customer,
            sa.or_(
                event_t.c.kind.like("message\\_%", escape="\\"),
                event_t.c.kind.in_(("step_planned", "approval", "task_created", "notice_rendered")),
            ),
        )
        .order_by(event_t.c.seq)
    )
    for (body,) in connection.execute(query):
        event = json.loads(body)
        data = event.get("data", {})
        if data.get("message") == message_id or message_id in (data.get("messages") or ()):
            found.append(event)
        elif event["kind"] == "notice_rendered":
            found.append(event)  # kept only if the message carried this notice (below)
    carried = _latest(found, "notice_sha256")
    return [e for e in found if e["kind"] != "notice_rendered" or e["data"].get("notice_sha256") == carried]


def _latest(events: list[dict[str, Any]], key: str) -> Any:
    """``data[key]`` of the latest attempt (sent, unknown or failed) that has it."""
    for event in reversed(events):
        if event["kind"] in _ATTEMPTS and event["data"].get(key):
            return event["data"][key]
    return None


def _history(row: Any, events: list[dict[str, Any]]) -> tuple[HistoryEntry, ...]:
    entries = [_entry(event) for event in events]
    if not any(e["kind"] in ("step_planned", "approval") for e in events):
        entries.insert(0, HistoryEntry(row.created_at, None, "planned", "", f"for {row.business_date}"))
    return tuple(entries)


def _entry(event: dict[str, Any]) -> HistoryEntry:
    kind, data = event["kind"], event["data"]
    at = datetime.fromisoformat(event["at"].replace("Z", "+00:00"))
    state, detail = kind, ""
    if kind == "step_planned":
        state, detail = "planned", f"for {data.get('as_of')}: {data.get('reason', '')}"
    elif kind == "approval":
        state, detail = "planned", f"{data.get('step')} {data.get('decision')} (task {data.get('task')})"
    elif kind == "notice_rendered":
        state = "notice signed"
        detail = f"{data.get('reference')}, {data.get('pages')} page(s), signed by {data.get('signer')}"
    elif kind == "message_sent":
        state = "sent"
        detail = f"attempt {data.get('attempt')} to {data.get('recipient')}: {data.get('provider_status')}"
    elif kind == "message_failed":
        state = "failed" if not data.get("will_retry") else "failed, will retry"
        detail = str(data.get("error") or data.get("reason") or "")
    elif kind == "message_unknown":
        state, detail = "unknown", f"{data.get('reason', '')}; never resent automatically"
    elif kind == "message_delivered":
        state, detail = str(data.get("state") or "delivered"), f"provider status {data.get('status')}"
    elif kind == "message_undeliverable":
        state = "undeliverable" if data.get("hard") else "undelivered"
        detail = f"{data.get('recipient')}: {data.get('reason', '')}"
    elif kind == "message_cancelled":
        state, detail = "cancelled", str(data.get("reason", ""))
    elif kind == "message_resolved":
        state, detail = str(data.get("state")), f"resolved as {data.get('outcome')}: {data.get('note', '')}"
    elif kind == "task_created":
        state, detail = "task", f"{data.get('kind')} task {data.get('task')}: {data.get('title', '')}"
    return HistoryEntry(at, int(event["seq"]), state, str(event.get("actor", "")), detail)


# --- what it said ----------------------------------------------------------------------------------


def _stored(store: ArtifactStore, name: str, digest: str, content_type: str = "") -> StoredFile:
    path = store.path_of(digest)
    if not path.is_file():
        return StoredFile(name, digest, None, None, content_type)
    return StoredFile(name, digest, path.stat().st_size, path, content_type)


def _content(
    channel: Channel, files: list[StoredFile], store: ArtifactStore, row: Any
) -> tuple[Content | None, tuple[StoredFile, ...], str]:
    if channel is Channel.TASK:
        return None, (), "a collector task, not a message to the customer (see the task below)"
    if not files:
        if row.state in ("planned", "claimed", "cancelled"):
            return None, (), "not rendered yet: it is rendered from the invoices as they are when it is sent"
        return None, (), "no stored copy of the content (it never reached a provider)"
    by_name = {f.name: f for f in files}
    missing = [f.name for f in files if f.path is None]
    if missing:
        return None, (), f"the artifact(s) {', '.join(missing)} are missing from the artifact store"
    try:
        if channel is Channel.EMAIL and "message.eml" in by_name:
            return _email(by_name["message.eml"], store)
        for name in ("message.json", "request.json"):
            if name in by_name:
                return _short_message(by_name[name], store), (), ""
    except (DunbotError, ValueError, AttributeError) as exc:
        # A damaged artifact is for `dunbot evidence verify --db` to name; the rest still shows.
        return None, tuple(files), f"the stored content could not be read ({exc}); the files are listed below"
    pdfs = tuple(f for f in files if f.name.endswith(".pdf"))
    if channel is Channel.LETTER and pdfs:
        queue = f"; queued for print as {row.provider_id}" if row.provider_id else ""
        return None, pdfs, f"a letter: the signed PDF below is what is printed and posted{queue}"
    return None, tuple(files), "the stored files are listed below"


def _email(source: StoredFile, store: ArtifactStore) -> tuple[Content, tuple[StoredFile, ...], str]:
    parsed = email.message_from_bytes(store.get(source.sha256), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    body = parsed.get_body(preferencelist=("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    headers = tuple(
        (name, str(parsed[name]))
        for name in ("From", "To", "Reply-To", "Date", "Message-ID", "List-Unsubscribe")
        if parsed[name] is not None
    )
    attachments = []
    for part in parsed.iter_attachments():
        assert isinstance(part, EmailMessage)
        data = part.get_payload(decode=True)
        payload = data if isinstance(data, bytes) else b""
        digest = hashlib.sha256(payload).hexdigest()
        stored = _stored(store, part.get_filename() or "(unnamed)", digest, part.get_content_type())
        attachments.append(replace(stored, size=len(payload)))  # the size as sent, stored or not
    return Content(str(parsed["Subject"] or ""), text, headers, source), tuple(attachments), ""


def _short_message(source: StoredFile, store: ArtifactStore) -> Content:
    """An SMS or call: the file channel's document, or the request that went to Twilio."""
    document = json.loads(store.get(source.sha256))
    if source.name == "message.json":
        return Content(str(document.get("subject") or ""), str(document.get("body") or ""), (), source)
    form = document.get("form") or {}
    text = form.get("Body") or form.get("Twiml") or document.get("body") or ""
    return Content("", str(text), (("To", str(form.get("To", ""))),) if form.get("To") else (), source)


def _signed_pdf(
    connection: Connection,
    store: ArtifactStore,
    events: list[dict[str, Any]],
    attachments: tuple[StoredFile, ...],
    files: list[StoredFile],
) -> StoredFile | None:
    digest = next(
        (
            e["data"]["notice_sha256"]
            for e in reversed(events)
            if e["kind"] in _ATTEMPTS and e["data"].get("notice_sha256")
        ),
        None,
    )
    if digest is None:
        return None
    notice = connection.execute(sa.select(notice_t).where(notice_t.c.sha256 == digest)).first()
    for candidate in (*attachments, *files):
        if candidate.sha256 == digest:
            return candidate
    path = store.path_of(digest)
    name = f"{notice.reference}.pdf" if notice is not None else "notice.pdf"
    return StoredFile(
        name, digest, path.stat().st_size if path.is_file() else None, path if path.is_file() else None
    )


def _task_of(connection: Connection, row: Any) -> int | None:
    if row.provider_id and str(row.provider_id).startswith("task:"):
        return int(str(row.provider_id).split(":", 1)[1])
    review = connection.execute(
        sa.select(task_t.c.id).where(
            task_t.c.dedupe_key.in_((f"review:message:{row.id}", f"letter:message:{row.id}"))
        )
    ).scalar()
    return int(review) if review is not None else None
