"""``POST /twilio/status``: Twilio's delivery reports for SMS and calls, checked and recorded;
``POST /twilio/inbound``: the SMS customers send to dunbot's number (Twilio's messaging webhook).

Each callback is checked against ``X-Twilio-Signature`` (HMAC-SHA1 of the URL Twilio called and the
sorted form parameters, keyed with the auth token); a missing or wrong signature gets 403 and changes
nothing. Behind a proxy the URL Twilio called is the configured status callback URL (``[sms]
status_callback_url``), not the one uvicorn sees; the request's query string is part of it. A good
callback is applied by ``bot.web.delivery_reports`` and answered 204, also for an unknown message
SID, so that Twilio does not retry forever.

An inbound SMS is checked the same way, with the same auth token, against the URL configured as the
number's messaging webhook (``inbound_url``: ``[web] public_url`` + ``/twilio/inbound``). A good one
is recorded once (``bot.replies.arrivals``: idempotent on its MessageSid, the form kept as an
artifact) and answered with an empty TwiML ``<Response/>``: dunbot answers later, if at all, through
the ladder, never with an automatic text.

The form is parsed here with ``urllib.parse`` rather than Starlette's form parser: that parser needs
python-multipart, and the signature must be computed over exactly the parameters Twilio sent
(blank values included), which ``parse_qsl`` gives.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from sqlalchemy.engine import Engine
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope
from twilio.request_validator import RequestValidator

from bot.evidence.artifacts import ArtifactStore
from bot.replies.arrivals import record_arrivals
from bot.replies.sms import sms_arrival
from bot.web.delivery_reports import record_callback
from bot.web.responses import plain

log = logging.getLogger(__name__)

STATUS_PATH = "/twilio/status"
INBOUND_PATH = "/twilio/inbound"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


def routes(
    engine: Engine,
    *,
    auth_token: str,
    public_url: str | None,
    artifacts: ArtifactStore,
    clock: Callable[[], datetime],
    inbound_url: str | None = None,
) -> list[BaseRoute]:
    """The Twilio callback routes; ``public_url`` is the status callback URL Twilio was given,
    ``inbound_url`` the messaging webhook URL of the number (both: None for the URL as requested)."""
    validator = RequestValidator(auth_token)

    async def signed_form(
        request: Request, signed_for: str | None, what: str
    ) -> tuple[bytes, dict[str, str]] | None:
        """The POSTed body and its form fields when Twilio's signature over them checks out, else None
        (logged). Past the size limit, bot.web.limits has already answered 413."""
        body = await request.body()
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        url = signed_url(request.scope, signed_for)
        signature = request.headers.get("x-twilio-signature")
        if not auth_token or not signature or not validator.validate(url, params, signature):
            log.warning("%s with a missing or bad signature refused (url %s)", what, url)
            return None
        return body, params

    async def status_callback(request: Request) -> Response:
        signed = await signed_form(request, public_url, "status callback")
        if signed is None:
            return plain(403, b"bad signature")
        body, params = signed
        await asyncio.to_thread(record_callback, engine, params, body, artifacts, clock())
        return plain(204, b"")

    async def inbound_sms(request: Request) -> Response:
        signed = await signed_form(request, inbound_url, "inbound SMS")
        if signed is None:
            return plain(403, b"bad signature")
        _, params = signed
        now = clock()
        arrival = sms_arrival(params, now)
        if arrival is None:
            return plain(400, b"no MessageSid")
        recorded = await asyncio.to_thread(record_arrivals, engine, artifacts, [arrival], now)
        log.info(
            "inbound SMS %s from %s: %s",
            arrival.source_key,
            arrival.sender,
            recorded[0].outcome.value,
            extra={"source_key": arrival.source_key, "outcome": recorded[0].outcome.value},
        )
        return Response(EMPTY_TWIML, status_code=200, media_type="text/xml")

    return [
        Route(STATUS_PATH, status_callback, methods=["POST"]),
        Route(INBOUND_PATH, inbound_sms, methods=["POST"]),
    ]


def inbound_webhook_url(public_url: str | None, status_callback_url: str | None) -> str | None:
    """The URL Twilio calls for an inbound SMS, which its signature covers: ``[web] public_url`` +
    ``/twilio/inbound``; else beside ``[sms] status_callback_url`` when that ends in ``/twilio/status``;
    else None (the URL as the request shows it: no proxy in front)."""
    if public_url:
        return public_url.rstrip("/") + INBOUND_PATH
    if status_callback_url:
        parts = urlsplit(status_callback_url)
        if parts.path.endswith(STATUS_PATH):
            path = parts.path[: -len(STATUS_PATH)] + INBOUND_PATH
            return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return None


def signed_url(scope: Scope, public_url: str | None) -> str:
    """The URL Twilio requested: the configured public URL (behind a proxy) with this request's query."""
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    if public_url:
        parts = urlsplit(public_url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    host = Headers(scope=scope).get("host") or "localhost"
    return str(urlunsplit((str(scope.get("scheme", "http")), host, str(scope["path"]), query, "")))
