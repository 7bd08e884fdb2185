# PLACEHOLDER: replaced at merge
"""Minimal stand-in for the parser another helper writes: enough for handling's tests to run."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime

from bot.replies.model import Attachment, DeliveryReport, Reply


def parse_email(raw: bytes) -> Reply:
    """Raw RFC 5322 bytes into a :class:`Reply` (headers, the plain text, attachments, DSN reports)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    sender = getaddresses([str(message.get("From", ""))])
    recipients = getaddresses([str(v) for k in ("To", "Cc", "Delivered-To") for v in message.get_all(k, [])])
    reports = _delivery_reports(message)
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    attachments: tuple[Attachment, ...] = ()
    if not reports:
        attachments = tuple(
            Attachment(part.get_filename() or "attachment", part.get_content_type(), _payload(part))
            for part in message.iter_attachments()
        )
    date = message.get("Date")
    return Reply(
        channel="email",
        sender=(sender[0][1] if sender else "").lower(),
        recipients=tuple(a.lower() for _, a in recipients if a),
        subject=str(message.get("Subject", "")),
        text=text.strip(),
        full_text=text,
        header_message_id=message.get("Message-ID"),
        in_reply_to=message.get("In-Reply-To"),
        references=tuple(str(message.get("References", "")).split()),
        sent_at=parsedate_to_datetime(str(date)) if date else None,
        auto_submitted=message.get("Auto-Submitted"),
        attachments=attachments,
        delivery_reports=reports,
    )


def _delivery_reports(message: EmailMessage) -> tuple[DeliveryReport, ...]:
    if message.get_content_type() != "multipart/report":
        return ()
    original: str | None = None
    fields: list[EmailMessage] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            payload = part.get_payload()
            groups = payload[1:] if isinstance(payload, list) else []  # per-recipient field groups
            fields.extend(p for p in groups if isinstance(p, EmailMessage))
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], EmailMessage):
                original = inner[0].get("Message-ID")
            elif isinstance(inner, str):
                headers = email.message_from_string(inner, policy=email.policy.default)
                original = headers.get("Message-ID")
    return tuple(
        DeliveryReport(
            original_message_id=original,
            recipient=str(group.get("Final-Recipient", "")).split(";")[-1].strip().lower(),
            action=str(group.get("Action", "")).strip().lower(),
            status=str(group.get("Status", "")).strip(),
            diagnostic=str(group.get("Diagnostic-Code", "")).strip(),
        )
        for group in fields
    )


def _payload(part: object) -> bytes:
    data = part.get_payload(decode=True) if isinstance(part, EmailMessage) else None
    return data if isinstance(data, bytes) else b""


def sms_reply(sender: str, body: str, at: datetime) -> Reply:
    """An inbound SMS as a :class:`Reply`."""
    return Reply(channel="sms", sender=sender, text=body.strip(), full_text=body, sent_at=at)
