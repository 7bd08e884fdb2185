"""The local servers ``bench/send.py`` sends to, each in its own (spawned) process so that it does
not share the GIL with the client: an aiosmtpd SMTP server that counts what it receives, and the
Twilio-compatible test server (``tests/support/twilio_server.py``).

Not a script: ``bench/send.py`` starts them (``.venv/bin/python bench/send.py --messages 500`` is a
quick run; see its docstring and bench/README.md).
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from typing import Any

from bench.common import free_port


def smtp_server(port: int, ready: Any, count: Any) -> None:
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    threading.Event().wait()


def twilio_server(port: int, ready: Any, count: Any) -> None:
    from tests.support.twilio_server import TwilioServer

    server = TwilioServer().start()  # it picks its own port; hand it to the parent
    count.value = int(server.url.rsplit(":", 1)[1])
    ready.set()
    threading.Event().wait()


def start(target: Callable[..., None]) -> tuple[multiprocessing.Process, int, Any]:
    context = multiprocessing.get_context("spawn")
    ready, count = context.Event(), context.Value("i", 0)
    port = free_port()
    process = context.Process(target=target, args=(port, ready, count), daemon=True)
    process.start()
    if not ready.wait(30):
        raise SystemExit("the local server did not start")
    return process, port, count
