"""Serve the ASGI app with uvicorn inside the daemon's event loop, stopping when the daemon stops."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from bot.errors import ConfigError


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns SIGTERM and says when to stop."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(listen: str) -> socket.socket:
    """Bind ``HOST:PORT`` now, so a port in use is a clear configuration error, not a crash later."""
    host, _, port = listen.rpartition(":")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), int(port)))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"web.listen: cannot listen on {listen}: {exc.strerror}; choose another port"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(app: ASGIApp, listen: str, stop: asyncio.Event, *, sock: socket.socket | None = None) -> None:
    """Serve ``app`` on ``listen`` until ``stop`` is set."""
    sock = sock or bind(listen)
    # log_config=None: uvicorn logs through the root logger, so [logging] (JSON, redaction) applies.
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, log_config=None)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await stop.wait()
    finally:
        server.should_exit = True
        await task
        sock.close()
