"""Health and metrics for operators and their probes; none of these needs a login.

* ``GET /healthz`` — the process is up and serving (200, no database work: a liveness probe);
* ``GET /readyz`` — the database answers and a cycle succeeded recently enough (200, else 503 with
  the reasons): a readiness probe;
* ``GET /metrics`` — Prometheus text format (``bot.reporting.operations``); 503 when the database is gone.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.reporting.operations import prometheus_text, readiness, snapshot
from bot.web.responses import plain

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
# What a probe is told when the database fails. The driver's message names the host, the port, the
# database and the user (or, on SQLite, the file): the log has it, the unauthenticated probes do not.
DATABASE_UNAVAILABLE = "database: unavailable (the daemon's log has the details)"

log = logging.getLogger(__name__)


def routes(engine: Engine, clock: Callable[[], datetime], max_cycle_age: timedelta) -> list[BaseRoute]:
    """The probe routes; /readyz fails when no cycle succeeded for ``max_cycle_age`` since start."""
    running_since = clock()

    async def healthz(request: Request) -> Response:
        return _json(200, {"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            current = await asyncio.to_thread(snapshot, engine, clock())
        except sa.exc.SQLAlchemyError as exc:
            _log_database_error("/readyz", exc)
            return _json(503, {"status": "unready", "problems": [DATABASE_UNAVAILABLE]})
        problems = readiness(current, max_cycle_age, running_since)
        success = current.last_success
        document: dict[str, object] = {
            "status": "unready" if problems else "ready",
            "database": "ok",
            "last_successful_cycle": success.finished_at.isoformat() if success else None,
            "problems": problems,
        }
        return _json(503 if problems else 200, document)

    async def metrics(request: Request) -> Response:
        try:
            current = await asyncio.to_thread(snapshot, engine, clock())
        except sa.exc.SQLAlchemyError as exc:
            _log_database_error("/metrics", exc)
            return plain(503, f"{DATABASE_UNAVAILABLE}\n".encode())
        return plain(200, prometheus_text(current), PROMETHEUS_TEXT)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def _json(status: int, document: dict[str, object]) -> Response:
    # json.dumps' own spacing, as before (Starlette's JSONResponse writes it compact).
    return plain(status, json.dumps(document).encode(), "application/json")


def _log_database_error(path: str, exc: Exception) -> None:
    log.warning("%s: the database did not answer: %s", path, str(exc).splitlines()[0])
