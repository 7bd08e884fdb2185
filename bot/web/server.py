"""Serve the ASGI app with uvicorn inside the daemon's event loop, stopping when the daemon stops."""

from __future__ import annotations

import asyncio
import gc
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


async def serve(
    app: ASGIApp,
    listen: str,
    stop: asyncio.Event,
    *,
    sock: socket.socket | None = None,
    freeze_heap: bool = False,
) -> None:
    """Serve ``app`` on ``listen`` until ``stop`` is set.

    ``freeze_heap`` (``dunbot web`` and ``dunbot run``, once per process): what is alive when serving
    starts — the imported modules, the app, the settings, the ORM's metadata — is moved out of the
    cyclic garbage collector's reach (``gc.freeze``), so its full collections no longer walk it in
    the middle of a page: a manager's 4,000-task worklist on PostgreSQL went from p95 157 ms to
    101 ms (bench/worklist.py). Not for tests that serve many apps in one process.
    """
    sock = sock or bind(listen)
    if freeze_heap:
        gc.collect()
        gc.freeze()
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
