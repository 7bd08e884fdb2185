"""The request body limit every route shares: reading past it answers 413 ``too large``.

The limit is checked as the body is read, not from ``Content-Length`` up front, so a route answers
exactly as it did when each endpoint read its own bounded body: ``/unsubscribe`` refuses a bad token
(403) before it reads anything, a GET never reads a body, and an unknown path is 404 whatever it
carries. (Starlette's own ``max_body_size`` answers 413 before the route runs, with another text.)
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Callbacks and one-click POSTs are a few hundred bytes; anything this big is not one of them.
MAX_BODY = 64 * 1024


class BodyLimit:
    """ASGI middleware: raise ``HTTPException(413)`` when more than ``max_body`` bytes are read."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = 0

        async def limited_receive() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_body:
                    # Raised inside the endpoint that reads: its exception handlers answer 413.
                    raise HTTPException(413, "too large")
            return message

        await self.app(scope, limited_receive, send)
