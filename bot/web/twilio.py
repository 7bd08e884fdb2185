"""``POST /twilio/status``: Twilio's delivery reports for SMS and calls, checked and recorded.

Each callback is checked against ``X-Twilio-Signature`` (HMAC-SHA1 of the URL Twilio called and the
sorted form parameters, keyed with the auth token); a missing or wrong signature gets 403 and changes
nothing. Behind a proxy the URL Twilio called is the configured status callback URL (``[sms]
status_callback_url``), not the one uvicorn sees; the request's query string is part of it. A good
callback is applied by ``bot.web.delivery_reports`` and answered 204, also for an unknown message
SID, so that Twilio does not retry forever.

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
from bot.web.delivery_reports import record_callback
from bot.web.responses import plain

log = logging.getLogger(__name__)

STATUS_PATH = "/twilio/status"


def routes(
    engine: Engine,
    *,
    auth_token: str,
    public_url: str | None,
    artifacts: ArtifactStore,
    clock: Callable[[], datetime],
) -> list[BaseRoute]:
    """The Twilio callback routes; ``public_url`` is the status callback URL Twilio was given."""
    validator = RequestValidator(auth_token)

    async def status_callback(request: Request) -> Response:
        body = await request.body()  # past the limit, bot.web.limits answers 413
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        url = signed_url(request.scope, public_url)
        signature = request.headers.get("x-twilio-signature")
        if not auth_token or not signature or not validator.validate(url, params, signature):
            log.warning("status callback with a missing or bad signature refused (url %s)", url)
            return plain(403, b"bad signature")
        await asyncio.to_thread(record_callback, engine, params, body, artifacts, clock())
        return plain(204, b"")

    return [Route(STATUS_PATH, status_callback, methods=["POST"])]


def signed_url(scope: Scope, public_url: str | None) -> str:
    """The URL Twilio requested: the configured public URL (behind a proxy) with this request's query."""
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    if public_url:
        parts = urlsplit(public_url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    host = Headers(scope=scope).get("host") or "localhost"
    return str(urlunsplit((str(scope.get("scheme", "http")), host, str(scope["path"]), query, "")))
