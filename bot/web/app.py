"""The daemon's small ASGI app: Twilio's status callbacks, one-click unsubscribes, and health and
metrics for operators.

* ``POST /twilio/status`` — delivery reports (below);
* ``GET`` and ``POST /unsubscribe`` — the one-click link in e-mails (``bot.web.unsubscribe``); 404
  when the app was made without the link's secret;
* ``GET /healthz`` — the process is up and serving (200, no database work: a liveness probe);
* ``GET /readyz`` — the database answers and a cycle succeeded recently enough (200, else 503 with
  the reasons): a readiness probe;
* ``GET /metrics`` — Prometheus text format (``bot.monitoring``).

Status callbacks are checked against ``X-Twilio-Signature`` (HMAC-SHA1 of the URL Twilio called and
the sorted form parameters, keyed with the auth token); a missing or wrong signature gets 403 and
changes nothing. A good callback is recorded once: the raw body becomes an artifact, the message's
provider status moves only forward (a late "sent" after "delivered" changes nothing), a final status
moves the message to ``delivered`` or ``undelivered``, and each forward step is one evidence event.
Unknown message SIDs get 200 so that Twilio does not retry forever.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session
from twilio.request_validator import RequestValidator

from bot.evidence.artifacts import ArtifactStore
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.outreach.unsubscribe import UNSUBSCRIBE_PATH
from bot.store import tables
from bot.web.asgi import ASGIApp, Receive, Scope, Send, header, read_body, respond
from bot.web.unsubscribe import handle_unsubscribe

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


def make_app(
    engine: Engine,
    *,
    auth_token: str,
    public_url: str | None,
    artifacts: ArtifactStore,
    clock: Callable[[], datetime],
    max_cycle_age: timedelta = timedelta(hours=80),
    unsubscribe_secret: str | None = None,
) -> ASGIApp:
    """The app; ``public_url`` is the status callback URL Twilio was given (its signature covers it).

    ``max_cycle_age``: /readyz fails when no cycle succeeded for this long (``[web] ready_after_hours``).
    ``unsubscribe_secret``: the ``[web] session_secret_env`` secret the e-mails' unsubscribe links
    were signed with; without it ``/unsubscribe`` is 404 (no e-mail carries such a link).
    """
    validator = RequestValidator(auth_token)
    running_since = clock()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/healthz" and method == "GET":
            await respond(send, 200, json.dumps({"status": "ok"}).encode(), "application/json")
        elif path == "/readyz" and method == "GET":
            await _readyz(engine, clock, max_cycle_age, running_since, send)
        elif path == "/metrics" and method == "GET":
            await _metrics(engine, clock, send)
        elif path == "/twilio/status" and method == "POST":
            body = await read_body(receive)
            if body is None:
                await respond(send, 413, b"too large")
                return
            params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            url = _signed_url(scope, public_url)
            signature = header(scope, b"x-twilio-signature")
            if not auth_token or not signature or not validator.validate(url, params, signature):
                log.warning("status callback with a missing or bad signature refused (url %s)", url)
                await respond(send, 403, b"bad signature")
                return
            await asyncio.to_thread(record_callback, engine, params, body, artifacts, clock())
            await respond(send, 204, b"")
        elif path == UNSUBSCRIBE_PATH and unsubscribe_secret:
            await handle_unsubscribe(scope, receive, send, engine, unsubscribe_secret, clock)
        elif path in ("/healthz", "/readyz", "/metrics", "/twilio/status"):
            await respond(send, 405, b"method not allowed")
        else:
            await respond(send, 404, b"not found")

    return app


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
        append_events(
            session,
            now,
            [
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
            ],
        )
        session.commit()
    return "recorded"


async def _readyz(
    engine: Engine,
    clock: Callable[[], datetime],
    max_cycle_age: timedelta,
    running_since: datetime,
    send: Send,
) -> None:
    from bot.monitoring import readiness, snapshot

    try:
        current = await asyncio.to_thread(snapshot, engine, clock())
    except sa.exc.SQLAlchemyError as exc:
        failure = {"status": "unready", "problems": [f"database: {str(exc).splitlines()[0]}"]}
        await respond(send, 503, json.dumps(failure).encode(), "application/json")
        return
    problems = readiness(current, max_cycle_age, running_since)
    success = current.last_success
    document: dict[str, object] = {
        "status": "unready" if problems else "ready",
        "database": "ok",
        "last_successful_cycle": success.finished_at.isoformat() if success else None,
        "problems": problems,
    }
    await respond(send, 503 if problems else 200, json.dumps(document).encode(), "application/json")


async def _metrics(engine: Engine, clock: Callable[[], datetime], send: Send) -> None:
    from bot.monitoring import prometheus_text, snapshot

    try:
        current = await asyncio.to_thread(snapshot, engine, clock())
    except sa.exc.SQLAlchemyError as exc:
        await respond(send, 503, f"database: {str(exc).splitlines()[0]}\n".encode())
        return
    await respond(send, 200, prometheus_text(current), "text/plain; version=0.0.4; charset=utf-8")


def _signed_url(scope: Scope, public_url: str | None) -> str:
    """The URL Twilio requested: the configured public URL (behind a proxy) with this request's query."""
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    if public_url:
        parts = urlsplit(public_url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    host = header(scope, b"host") or "localhost"
    return str(urlunsplit((str(scope.get("scheme", "http")), host, str(scope["path"]), query, "")))
