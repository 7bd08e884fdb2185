"""``/dashboard``: aging per tier, overdue rate, DSO and CEI over time, today's cycle and the
outbox's states (DESIGN §10), for managers and legal (everyone else: 403).

**Where the numbers come from.** Computing the dashboard reads the whole ledger (half a minute on
100,000 customers), so the page shows the snapshot stored after the last cycle, import or sync
(:func:`bot.reporting.dashboard.latest_snapshot`). Without one for today, a small ledger (fewer than
:data:`LIVE_CUSTOMERS` customers) is computed live; a large one shows the newest older snapshot with
a note that today's comes after the next cycle.

**Charts.** pygal's SVG styles itself with a ``<style>`` element, which the console's CSP
(``style-src 'self'``) would block inline in the page. So each chart is an image of its own,
``/dashboard/charts/<kind>.svg?v=<snapshot id or "live">&lang=..``, which the browser renders as an
isolated document (no scripts run in an SVG image, nothing it could reference is loaded). Under each
chart the same numbers are a table, readable without the image.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from gettext import GNUTranslations

import sqlalchemy as sa
from babel.dates import format_date
from babel.numbers import format_decimal
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.reporting.dashboard import (
    Dashboard,
    customer_count,
    dashboard,
    from_json,
    latest_snapshot,
    snapshot_t,
)
from bot.web.charts import Chart, dashboard_charts
from bot.web.console.context import Console
from bot.web.console.i18n import translations

# Who opens the dashboard.
ROLES = ("manager", "legal")
# Below this many customers the page computes a missing day's dashboard itself (about a second).
LIVE_CUSTOMERS = 5000
# A live dashboard is reused for this many seconds (the page and its chart images share it).
LIVE_SECONDS = 60.0
_BABEL = {"zh-CN": "zh_CN", "en": "en"}


@dataclass(frozen=True, slots=True)
class Shown:
    """The dashboard the page shows and where it comes from."""

    board: Dashboard | None
    version: str  # the snapshot's id, or "live"
    computed_at: datetime | None  # when the snapshot was computed; None when live
    stale: bool  # an older day's snapshot: today's comes after the next cycle


class _Boards:
    """Dashboards read or computed recently, and their rendered charts, shared by the page and its
    images: a stored snapshot never changes (cached by id), a live one lives :data:`LIVE_SECONDS`."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.stored: OrderedDict[int, tuple[datetime, Dashboard]] = OrderedDict()
        self.live: dict[date, tuple[float, Dashboard]] = {}
        self.charts: OrderedDict[tuple[str, str], tuple[Chart, ...]] = OrderedDict()

    def shown(self, today: date) -> Shown:
        engine = self.console.engine
        newest = self.newest(today)
        if newest is not None:
            snapshot_id, computed_at, board = newest
            if board.as_of == today:
                return Shown(board, str(snapshot_id), computed_at, stale=False)
        if customer_count(engine) < LIVE_CUSTOMERS:
            return Shown(self.live_board(today), "live", None, stale=False)
        if newest is not None:
            return Shown(board, str(snapshot_id), computed_at, stale=True)
        return Shown(None, "", None, stale=True)

    def newest(self, today: date) -> tuple[int, datetime, Dashboard] | None:
        """The newest stored snapshot on or before ``today``; its JSON is parsed once per id."""
        with self.console.engine.connect() as connection:
            row = connection.execute(
                sa.select(snapshot_t.c.id, snapshot_t.c.computed_at)
                .where(snapshot_t.c.as_of <= today)
                .order_by(snapshot_t.c.as_of.desc(), snapshot_t.c.computed_at.desc(), snapshot_t.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        cached = self.stored.get(row.id)
        if cached is None:
            stored = latest_snapshot(self.console.engine, today)
            if stored is None:  # deleted in between
                return None
            cached = (stored.computed_at, stored.board)
            self._keep(self.stored, stored.id, cached, 8)
            return stored.id, stored.computed_at, stored.board
        return int(row.id), cached[0], cached[1]

    def live_board(self, today: date) -> Dashboard:
        cached = self.live.get(today)
        if cached is not None and time.monotonic() - cached[0] < LIVE_SECONDS:
            return cached[1]
        board = dashboard(self.console.engine, self.console.settings, today, self.console.config.clock())
        self.live = {today: (time.monotonic(), board)}
        self.charts.pop(("live", "en"), None)
        self.charts.pop(("live", "zh-CN"), None)
        return board

    def by_version(self, version: str, today: date) -> Dashboard | None:
        if version == "live":
            if customer_count(self.console.engine) >= LIVE_CUSTOMERS:
                return None
            return self.live_board(today)
        if not version.isdigit():
            return None
        snapshot_id = int(version)
        if snapshot_id in self.stored:
            return self.stored[snapshot_id][1]
        with self.console.engine.connect() as connection:
            row = connection.execute(
                sa.select(snapshot_t.c.computed_at, snapshot_t.c.body).where(snapshot_t.c.id == snapshot_id)
            ).first()
        if row is None:
            return None
        board = from_json(row.body)
        self._keep(self.stored, snapshot_id, (row.computed_at, board), 8)
        return board

    def charts_of(self, version: str, board: Dashboard, language: str) -> tuple[Chart, ...]:
        key = (version, language)
        found = self.charts.get(key)
        if found is None:
            found = dashboard_charts(board, _words(language))
            self._keep(self.charts, key, found, 8)
        return found

    @staticmethod
    def _keep(cache: OrderedDict, key: object, value: object, size: int) -> None:  # type: ignore[type-arg]
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > size:
            cache.popitem(last=False)


@cache
def _words(language: str) -> GNUTranslations:
    return translations(language)


def routes(console: Console) -> list[BaseRoute]:
    boards = _Boards(console)
    lock = asyncio.Lock()  # one computation at a time; the images wait for the page's

    async def page(request: Request) -> Response:
        refused = console.refuse_unless(request, *ROLES)
        if refused:
            return refused
        language = console.language(request)
        today = console.today()
        async with lock:
            shown = await asyncio.to_thread(boards.shown, today)
            charts = (
                await asyncio.to_thread(boards.charts_of, shown.version, shown.board, language)
                if shown.board is not None
                else ()
            )
        locale = _BABEL.get(language, "en")
        return console.render(
            request,
            "dashboard.html",
            shown=shown,
            board=shown.board,
            today=today,
            board_day=format_date(shown.board.as_of, "long", locale=locale) if shown.board else None,
            figures=[_figure(chart, shown.version, language, locale) for chart in charts],
        )

    async def chart(request: Request) -> Response:
        refused = console.refuse_unless(request, *ROLES)
        if refused:
            return refused
        kind = request.path_params["kind"]
        version = request.query_params.get("v", "")
        language = console.language(request)
        today = console.today()
        async with lock:
            board = await asyncio.to_thread(boards.by_version, version, today)
            charts: tuple[Chart, ...] = ()
            if board is not None:
                charts = await asyncio.to_thread(boards.charts_of, version, board, language)
        found = next((one for one in charts if one.kind == kind), None)
        if found is None:
            return console.error(request, 404, "not_found")
        return Response(
            ('<?xml version="1.0" encoding="utf-8"?>\n' + found.svg).encode("utf-8"),
            media_type="image/svg+xml",
        )

    return [
        Route("/dashboard", page, methods=["GET"]),
        Route("/dashboard/charts/{kind}.svg", chart, methods=["GET"]),
    ]


@dataclass(frozen=True, slots=True)
class _Figure:
    kind: str
    title: str
    src: str
    columns: tuple[str, ...]
    rows: tuple[tuple[tuple[str, str, bool], ...], ...]  # (shown, exact value, numeric)


def _figure(chart: Chart, version: str, language: str, locale: str) -> _Figure:
    """A chart for the template: its image's address and its table's cells in the user's locale,
    each with the exact value beside it (``data-value``)."""
    return _Figure(
        kind=chart.kind,
        title=chart.title,
        src=f"/dashboard/charts/{chart.kind}.svg?v={version}",
        columns=chart.columns,
        rows=tuple(tuple(_cell(value, locale) for value in row) for row in chart.rows),
    )


def _cell(value: object, locale: str) -> tuple[str, str, bool]:
    if value is None:
        return "—", "", True
    if isinstance(value, Decimal):
        return format_decimal(value, "#,##0.00", locale=locale), str(value), True
    if isinstance(value, int):
        return format_decimal(value, locale=locale), str(value), True
    if isinstance(value, date):
        return format_date(value, "medium", locale=locale), value.isoformat(), False
    return str(value), str(value), False
