"""RFC 3464 delivery status notifications: what happened to each recipient of the message that bounced.

A DSN is ``multipart/report; report-type=delivery-status`` with three parts: a human text, a
``message/delivery-status`` (one block of per-message fields, then one block per recipient:
``Final-Recipient``, ``Action``, ``Status``, ``Diagnostic-Code``) and the returned message, whole
(``message/rfc822``) or headers only (``text/rfc822-headers``), whose ``Message-ID`` names the message
that bounced. Postfix and Exchange both write this shape; RFC 6533's ``message/global-delivery-status``
and ``message/global-headers`` are read the same way.
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser

from bot.replies.charsets import decode_bytes
from bot.replies.model import DeliveryReport

STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
RETURNED_TYPES = frozenset(
    {
        "message/rfc822",
        "text/rfc822-headers",
        "message/rfc822-headers",
        "message/global",
        "message/global-headers",
    }
)
_STATUS_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def delivery_reports(
    status_parts: list[Message], returned_parts: list[Message], fallback_id: str | None
) -> tuple[DeliveryReport, ...]:
    """One :class:`DeliveryReport` per recipient block of the ``status_parts``, each naming the original
    Message-ID found in the ``returned_parts`` (else ``fallback_id``: Exchange also puts it in the DSN's
    own In-Reply-To)."""
    original_id = next((mid for part in returned_parts if (mid := _returned_message_id(part))), fallback_id)
    reports: list[DeliveryReport] = []
    for part in status_parts:
        for block in _blocks(part):
            recipient = _address(block.get("final-recipient") or block.get("original-recipient") or "")
            if not recipient:
                continue  # the per-message block (Reporting-MTA, Arrival-Date ...)
            status_match = _STATUS_CODE.search(block.get("status", ""))
            diagnostic = block.get("diagnostic-code", "")
            if status_match is None:  # some MTAs leave Status out but give the code in the diagnostic
                status_match = _STATUS_CODE.search(diagnostic)
            reports.append(
                DeliveryReport(
                    original_message_id=original_id,
                    recipient=recipient,
                    action=block.get("action", "").strip().lower() or "failed",
                    status=status_match.group(0) if status_match else "",
                    diagnostic=_after_type(diagnostic),
                )
            )
    return tuple(reports)


def _blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a delivery-status part, keys lower-cased, values unfolded."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package splits message/delivery-status into blocks
        return [
            {name.lower(): _unfold(str(value)) for name, value in block.raw_items()}
            for block in payload
            if isinstance(block, Message)
        ]
    raw = part.get_payload(decode=True)
    text = decode_bytes(raw, part.get_content_charset())[0] if isinstance(raw, bytes) else str(payload)
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text):
        fields: dict[str, str] = {}
        for line in re.sub(r"\r?\n[ \t]+", " ", chunk).splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip():
                fields[name.strip().lower()] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _returned_message_id(part: Message) -> str | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        headers: Message = payload[0]
    else:
        raw = part.get_payload(decode=True)
        data = raw if isinstance(raw, bytes) else str(payload).encode("utf-8", errors="surrogateescape")
        headers = BytesHeaderParser(_class=EmailMessage, policy=policy.default).parsebytes(data)
    for name, value in headers.raw_items():
        if name.lower() == "message-id":
            found = _MESSAGE_ID.search(str(value))
            return found.group(0) if found else str(value).strip() or None
    return None


def _address(field: str) -> str:
    """``rfc822; Wang.Li@Customer.example`` → ``wang.li@customer.example``."""
    value = _after_type(field).strip().strip("<>").strip()
    return value.lower()


def _after_type(field: str) -> str:
    """Drop the address or diagnostic type: ``smtp; 550 5.1.1 …`` → ``550 5.1.1 …``."""
    kind, sep, rest = field.partition(";")
    return rest.strip() if sep and re.fullmatch(r"\s*[A-Za-z0-9-]+\s*", kind) else field.strip()


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", value).strip()
