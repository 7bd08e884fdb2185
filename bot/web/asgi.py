"""The few ASGI primitives the daemon's endpoints share: read a bounded body, read a header, answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Callbacks and one-click POSTs are a few hundred bytes; anything this big is not one of them.
MAX_BODY = 64 * 1024


async def read_body(receive: Receive) -> bytes | None:
    """The request body, or None when it passes :data:`MAX_BODY` (answer 413)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await receive()
        chunk = event.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not event.get("more_body"):
            return b"".join(chunks)


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the request header ``name`` (lower case), or None."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str = "text/plain",
    extra_headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Answer with ``body`` in one piece."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *extra_headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
