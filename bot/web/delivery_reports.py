"""What a verified Twilio status callback changes: the message's state, and one evidence event.

A good callback is recorded once: the raw body becomes an artifact, the message's provider status
moves only forward (a late "sent" after "delivered" changes nothing), a final status moves the
message to ``delivered`` or ``undelivered``, and each forward step is one evidence event (deduplicated
by SID and status, so Twilio's retries add nothing). An SMS the carrier refused for its number
(:data:`bot.outreach.contacts.HARD_SMS_ERRORS`, ``SOFT_SMS_ERRORS``) also records the contact
undeliverable and asks a collector to fix it. The HTTP side, with the signature check, is
``bot.web.twilio``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from bot.evidence.artifacts import ArtifactStore
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.outreach.contacts import HARD_SMS_ERRORS, SOFT_SMS_ERRORS, record_undeliverable
from bot.store import tables

log = logging.getLogger(__name__)

message_t = tables.Message.__table__  # type: ignore[attr-defined]
message_invoice_t = tables.MessageInvoice.__table__  # type: ignore[attr-defined]

# How far along a message or call is; statuses only ever move to a higher rank.
_RANK = {
    "accepted": 1, "scheduled": 1, "queued": 1, "initiated": 1,
    "sending": 2, "ringing": 2,
    "sent": 3, "in-progress": 3, "answered": 3,
    "delivered": 4, "undelivered": 4, "failed": 4,
    "completed": 4, "busy": 4, "no-answer": 4, "canceled": 4,
    "read": 5,
}  # fmt: skip
_FINAL_STATE = {
    "delivered": "delivered",
    "read": "delivered",
    "completed": "delivered",
    "undelivered": "undelivered",
    "failed": "undelivered",
    "busy": "undelivered",
    "no-answer": "undelivered",
    "canceled": "undelivered",
}


def record_callback(
    engine: Engine, params: dict[str, str], raw: bytes, artifacts: ArtifactStore, now: datetime
) -> str:
    """Apply one verified callback; returns what happened (for logs and tests)."""
    sid = params.get("MessageSid") or params.get("CallSid") or params.get("SmsSid")
    status = (
        params.get("MessageStatus") or params.get("CallStatus") or params.get("SmsStatus") or ""
    ).lower()
    if not sid or status not in _RANK:
        return "ignored"
    with Session(engine) as session:
        connection = session.connection()
        query = sa.select(message_t).where(message_t.c.provider_id == sid)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        message = connection.execute(query).first()
        if message is None:
            log.info("status callback for unknown SID %s (%s) ignored", sid, status)
            return "unknown sid"
        current = _RANK.get((message.provider_status or "").lower(), 0)
        if message.state in ("delivered", "undelivered") or _RANK[status] <= current:
            return "stale"
        digest = artifacts.put(raw)
        values: dict[str, Any] = {"provider_status": status, "updated_at": now}
        final = _FINAL_STATE.get(status)
        resolved_unknown = False
        if final is not None and message.state in ("sent", "unknown", "sending"):
            values["state"] = final
            resolved_unknown = message.state == "unknown"
        if params.get("ErrorCode"):
            values["last_error"] = (
                f"Twilio error {params['ErrorCode']}: {params.get('ErrorMessage', '')}".strip()
            )
        connection.execute(sa.update(message_t).where(message_t.c.id == message.id).values(**values))
        invoices = tuple(
            sorted(
                connection.execute(
                    sa.select(message_invoice_t.c.invoice_number).where(
                        message_invoice_t.c.message_id == message.id
                    )
                ).scalars()
            )
        )
        events = [
            NewEvent(
                kind=EventKind.MESSAGE_DELIVERED,
                actor="twilio",
                customer=message.customer_id,
                invoices=invoices,
                data={
                    "message": message.id,
                    "channel": message.channel,
                    "provider_id": sid,
                    "status": status,
                    "state": values.get("state", message.state),
                    "error_code": params.get("ErrorCode") or None,
                    "callback_sha256": digest,
                    "resolved_unknown": resolved_unknown,
                },
                dedupe_key=f"callback:{sid}:{status}",
            )
        ]
        events.extend(_bad_number(connection, message, final, params, now))
        append_events(session, now, events)
        session.commit()
    return "recorded"


def _bad_number(
    connection: Connection, message: Any, final: str | None, params: dict[str, str], now: datetime
) -> list[NewEvent]:
    """An SMS the carrier refused for its number (Twilio 30003/30005/30006): the contact is recorded
    undeliverable (blocked when the number is bad) and a collector is asked to fix it."""
    code = params.get("ErrorCode") or ""
    if message.channel != "sms" or final != "undelivered" or not message.recipient:
        return []
    if code not in HARD_SMS_ERRORS and code not in SOFT_SMS_ERRORS:
        return []
    return record_undeliverable(
        connection,
        channel="sms",
        address=message.recipient,
        customer_id=message.customer_id,
        message_id=message.id,
        reason=f"Twilio error {code}: {params.get('ErrorMessage') or 'undelivered'}".strip(),
        hard=code in HARD_SMS_ERRORS,
        now=now,
    )
