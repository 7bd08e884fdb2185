"""What handling and confirming record about a reply: the row's states, the raw reply read back, the
attachments kept, and the ``reply_received`` / ``reply_acted`` evidence events."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs

from bot.evidence.artifacts import ArtifactStore
from bot.evidence.log import EventKind, NewEvent
from bot.replies.acting import Acted, Understood
from bot.replies.model import Reply, ReplyKind
from bot.replies.parse import parse_email, sms_reply

EVENT_TEXT_LIMIT = 2000  # characters of a reply's text in its reply_received event (the rest is raw)


class InboundState(StrEnum):
    """States of an ``inbound_message`` row."""

    RECEIVED = "received"  # stored, not handled yet
    HANDLED = "handled"  # acted on (or nothing to do: an automatic reply)
    CONFIRM = "confirm"  # waits for a collector to say what it is, or whose
    FAILED = "failed"  # could not be read or acted on after MAX_ATTEMPTS tries


def read_reply(raw: bytes, channel: str, sender: str, received_at: datetime) -> Reply:
    """The reply in a raw artifact: an RFC 5322 message, or for an SMS Twilio's webhook form
    (``From``, ``Body``) as the webhook keeps it (canonical JSON) or as posted (form-encoded)."""
    if channel == "sms":
        if raw.lstrip().startswith(b"{"):  # as the webhook keeps it: canonical JSON of the form
            fields = json.loads(raw)
            return sms_reply(str(fields.get("From") or sender), str(fields.get("Body") or ""), received_at)
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        body = form.get("Body", [""])[0]
        return sms_reply(form.get("From", [sender])[0] or sender, body, received_at)
    return parse_email(raw)


def store_attachments(store: ArtifactStore, reply: Reply) -> dict[str, str]:
    """Each attachment into the artifact store: file name -> SHA-256 (a repeated name gets a suffix)."""
    stored: dict[str, str] = {}
    for attachment in reply.attachments:
        name = attachment.filename or "attachment"
        unique, number = name, 1
        while unique in stored:
            number += 1
            unique = f"{name} ({number})"
        stored[unique] = store.put(attachment.data)
    return stored


def received_event(understood: Understood, state: InboundState, why: str | None, *, actor: str) -> NewEvent:
    """The ``reply_received`` event: the raw artifact, who sent it, whom it matched, what it is."""
    reply, found, matched = understood.reply, understood.classification, understood.match
    text = reply.text or reply.full_text
    return NewEvent(
        kind=EventKind.REPLY_RECEIVED,
        actor=actor,
        customer=matched.customer,
        invoices=matched.invoices,
        data={
            "inbound": understood.inbound,
            "channel": reply.channel,
            "sender": reply.sender,
            "subject": reply.subject,
            "raw_sha256": understood.raw_sha256,
            # The attachments by file name -> SHA-256 ("artifacts": an evidence pack exports them).
            "artifacts": dict(understood.attachments),
            "match": {
                "by": matched.matched_by,
                "message": matched.message,
                "candidates": list(matched.candidates),
            },
            "kind": found.kind.value,
            "confidence": found.confidence,
            "language": found.language,
            # The customer acknowledged the debt: it interrupts limitation periods (DESIGN §12).
            "acknowledges_debt": found.acknowledges_debt,
            "promise_date": found.promise_date,
            "promise_amount": found.promise_amount,
            "remittance": found.remittance,
            "reasons": list(found.reasons),
            "text": text[:EVENT_TEXT_LIMIT],
            "state": state.value,
            "why_confirm": why,
        },
    )


def acted_event(
    understood: Understood,
    acted: Acted,
    *,
    actor: str,
    confirmed_by: str | None,
    dismissed: bool = False,
) -> NewEvent:
    """The ``reply_acted`` event: what was done about the reply, and by whom (``confirmed_by``, a
    collector who confirmed it, or dismissed it: then its kind is None)."""
    kind: ReplyKind | None = None if dismissed else understood.classification.kind
    return NewEvent(
        kind=EventKind.REPLY_ACTED,
        actor=actor,
        customer=understood.match.customer,
        invoices=acted.invoices or understood.match.invoices,
        data={
            "inbound": understood.inbound,
            "kind": kind.value if kind else None,
            "action": acted.action,
            "confirmed": confirmed_by is not None,
            "confirmed_by": confirmed_by,
            "tasks": acted.tasks,
            "raw_sha256": understood.raw_sha256,
        },
    )


def stored_details(row: Any) -> dict[str, Any]:
    """The ``details`` JSON of an ``inbound_message`` row."""
    return dict(json.loads(row.details or "{}"))
