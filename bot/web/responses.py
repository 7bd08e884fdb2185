"""How the daemon's endpoints answer: exact plain responses, and the text of each HTTP error.

Starlette's own responses add ``; charset=utf-8`` to ``text/*`` types and leave ``Content-Length``
out of a 204; the endpoints have always answered ``text/plain`` with a length, and Twilio, mail
providers and probes see exactly that, so :func:`plain` builds the headers itself. Routing errors
(404, 405), a body past the limit (413, ``bot.web.limits``) and any other ``HTTPException`` become
the same short lower-case texts the endpoints use (:func:`http_error`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger(__name__)

# The body of each error the router or the body limit raises (Starlette's default is the reason phrase).
_ERROR_TEXT = {404: b"not found", 405: b"method not allowed", 413: b"too large"}


def plain(
    status: int,
    body: bytes,
    content_type: str = "text/plain",
    extra_headers: Sequence[tuple[str, str]] = (),
) -> Response:
    """``body`` in one piece, with exactly ``content_type``, its length and ``extra_headers``."""
    headers = {"content-type": content_type, "content-length": str(len(body)), **dict(extra_headers)}
    return Response(body, status_code=status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """The answer to an ``HTTPException`` (404, 405 with its ``Allow`` header, 413, ...)."""
    assert isinstance(exc, HTTPException)
    text = _ERROR_TEXT.get(exc.status_code) or exc.detail.encode()
    return plain(exc.status_code, text, extra_headers=tuple((exc.headers or {}).items()))


async def client_gone(request: Request, exc: Exception) -> Response:
    """A client that hung up in the middle of its body: nobody reads the answer, nothing was done."""
    log.info("client disconnected before its request body was read", extra={"path": request.url.path})
    return plain(400, b"client disconnected")
