"""The request body limit every route shares: reading past it answers 413 ``too large``.

The limit is checked as the body is read, not from ``Content-Length`` up front, so a route answers
exactly as it did when each endpoint read its own bounded body: ``/unsubscribe`` refuses a bad token
(403) before it reads anything, a GET never reads a body, and an unknown path is 404 whatever it
carries. (Starlette's own ``max_body_size`` answers 413 before the route runs, with another text.)

One route takes more: ``POST /evidence/verify``, where legal uploads an evidence pack (a zip of the
case's e-mails, signed PDFs and proofs), may carry up to :data:`MAX_UPLOAD` (50 MiB). Past that it
answers 413 with a text that says so; every other route keeps :data:`MAX_BODY` (64 KiB).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Callbacks and one-click POSTs are a few hundred bytes; anything this big is not one of them.
MAX_BODY = 64 * 1024
# An uploaded evidence pack: a customer's packs are a few MB (their artifacts); 50 MiB is ample.
MAX_UPLOAD = 50 * 1024 * 1024
# The routes allowed a larger body than MAX_BODY, and how large: (method, path) -> bytes.
LARGE_BODIES = {("POST", "/evidence/verify"): MAX_UPLOAD}


def body_limit(scope: Scope, default: int = MAX_BODY) -> int:
    """How many body bytes the request of ``scope`` may carry."""
    return LARGE_BODIES.get((scope.get("method", ""), scope.get("path", "")), default)


def too_large_text(limit: int) -> str:
    """The 413's text: plain ``too large`` for the small routes, the limit named for an upload."""
    if limit <= MAX_BODY:
        return "too large"
    return f"too large: an upload here may be at most {limit // (1024 * 1024)} MiB"


class BodyLimit:
    """ASGI middleware: raise ``HTTPException(413)`` when more than the route's limit is read
    (``max_body``, or the larger one :data:`LARGE_BODIES` gives a route)."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope, self.max_body)
        size = 0

        async def limited_receive() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    # Raised inside the endpoint that reads: its exception handlers answer 413.
                    raise HTTPException(413, too_large_text(limit))
            return message

        await self.app(scope, limited_receive, send)
