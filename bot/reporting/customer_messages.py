"""What the customer page's messages said, read back from the artifact store (DESIGN §10).

An attempt's evidence event (``message_sent``, ``message_unknown``, ``message_failed``) names the
bytes of the exchange by file name and SHA-256 (``data.artifacts``) and the signed notice it carried
(``data.notice_sha256``). The page reads them from those names alone: no query per message, only
one for the notices of a page (the ``notice`` table). An e-mail is its RFC 5322 bytes (subject,
headers, text body, attachment names), an SMS the file channel's document or the request that went
to Twilio; a letter is its signed PDF. `dunbot message show` (:mod:`bot.outreach.message_detail`)
reads the same artifacts for one message with its whole history.

The signed PDF itself is served by :func:`signed_notice`, for a message of a customer the viewer
may see and nothing else.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.config import Settings
from bot.errors import DunbotError
from bot.evidence.artifacts import ArtifactStore
from bot.reporting.visibility import Viewer, visible_customers
from bot.store import tables
from bot.store.engine import require_schema

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
event_t = tables.EvidenceEvent.__table__  # type: ignore[attr-defined]
message_t = tables.Message.__table__  # type: ignore[attr-defined]
notice_t = tables.Notice.__table__  # type: ignore[attr-defined]

# Events that carry the artifacts of an attempt.
ATTEMPTS = ("message_sent", "message_unknown", "message_failed")


@dataclass(frozen=True, slots=True)
class SentContent:
    """What a message said, as it went to the provider."""

    subject: str
    text: str
    headers: tuple[tuple[str, str], ...]  # e-mail: From, To, Reply-To, Date; SMS: To
    attachments: tuple[str, ...]  # the file names an e-mail carried


@dataclass(frozen=True, slots=True)
class NoticeFacts:
    """The signed PDF notice a message carried (one row of the ``notice`` table)."""

    reference: str
    sha256: str
    language: str
    pages: int
    signer: str
    timestamped: bool


@dataclass(frozen=True, slots=True)
class SignedNotice:
    """The bytes of a signed notice, for the browser."""

    reference: str
    data: bytes


def artifact_store(settings: Settings) -> ArtifactStore:
    return ArtifactStore(settings.path(settings.evidence.artifact_dir))


def read_content(store: ArtifactStore, artifacts: Mapping[str, str]) -> SentContent | None:
    """The content an attempt stored (``data.artifacts``: file name -> SHA-256); None when it stored
    none this page can read (a letter is its PDF; a missing or altered artifact is for `dunbot
    evidence verify --db` to name, the page goes on without it)."""
    try:
        if "message.eml" in artifacts:
            return _email(store.get(artifacts["message.eml"]))
        for name in ("message.json", "request.json"):
            if name in artifacts:
                return _short_message(name, store.get(artifacts[name]))
    except (DunbotError, ValueError, AttributeError, TypeError):
        return None
    return None


def _email(raw: bytes) -> SentContent:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    body = parsed.get_body(preferencelist=("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    headers = tuple(
        (name, str(parsed[name])) for name in ("From", "To", "Reply-To", "Date") if parsed[name] is not None
    )
    attachments = tuple(part.get_filename() or "(unnamed)" for part in parsed.iter_attachments())
    return SentContent(str(parsed["Subject"] or ""), str(text), headers, attachments)


def _short_message(name: str, raw: bytes) -> SentContent:
    document = json.loads(raw)
    if name == "message.json":  # the file channel's document
        to = document.get("recipient") or document.get("to")
        headers = (("To", str(to)),) if to else ()
        return SentContent(str(document.get("subject") or ""), str(document.get("body") or ""), headers, ())
    form = document.get("form") or {}  # the request that went to Twilio
    text = form.get("Body") or form.get("Twiml") or document.get("body") or ""
    return SentContent("", str(text), (("To", str(form["To"])),) if form.get("To") else (), ())


def notices_of(connection: Connection, customer_id: str, digests: Iterable[str]) -> dict[str, NoticeFacts]:
    """The customer's signed notices with these SHA-256s, by SHA-256 (one query)."""
    wanted = sorted(set(digests))
    if not wanted:
        return {}
    rows = connection.execute(
        sa.select(notice_t).where(notice_t.c.customer_id == customer_id, notice_t.c.sha256.in_(wanted))
    )
    return {
        row.sha256: NoticeFacts(
            row.reference, row.sha256, row.language, row.pages, row.signer, bool(row.timestamped)
        )
        for row in rows
    }


def customer_has_message(connection: Connection, viewer: Viewer, customer_id: str, message_id: int) -> bool:
    """Whether ``message_id`` is a message to ``customer_id`` and ``viewer`` may see that customer."""
    found = connection.execute(
        sa.select(message_t.c.id)
        .join(customer_t, customer_t.c.id == message_t.c.customer_id)
        .where(
            message_t.c.id == message_id,
            message_t.c.customer_id == customer_id,
            visible_customers(viewer),
        )
    ).first()
    return found is not None


def message_visible(engine: Engine, viewer: Viewer, customer_id: str, message_id: int) -> bool:
    """:func:`customer_has_message` on its own connection (the message page asks it first)."""
    require_schema(engine)
    with engine.connect() as connection:
        return customer_has_message(connection, viewer, customer_id, message_id)


def signed_notice(
    engine: Engine, settings: Settings, viewer: Viewer, customer_id: str, message_id: int
) -> SignedNotice | None:
    """The signed PDF that message ``message_id`` of ``customer_id`` carried (its latest attempt's),
    or None: no such message of that customer, a customer ``viewer`` may not see, no notice, or its
    bytes missing from the artifact store."""
    require_schema(engine)
    with engine.connect() as connection:
        if not customer_has_message(connection, viewer, customer_id, message_id):
            return None
        digest = _carried_notice(connection, customer_id, message_id)
        if digest is None:
            return None
        notice = notices_of(connection, customer_id, [digest]).get(digest)
    if notice is None:  # only a notice of this customer, never some other artifact
        return None
    try:
        return SignedNotice(notice.reference, artifact_store(settings).get(digest))
    except DunbotError:
        return None


def _carried_notice(connection: Connection, customer_id: str, message_id: int) -> str | None:
    attempts = (
        sa.select(event_t.c.body)
        .where(event_t.c.customer == customer_id, event_t.c.kind.in_(ATTEMPTS))
        .order_by(event_t.c.seq.desc())
    )
    for (body,) in connection.execute(attempts):
        data: dict[str, Any] = json.loads(body).get("data", {})
        if data.get("message") == message_id and data.get("notice_sha256"):
            return str(data["notice_sha256"])
    return None
