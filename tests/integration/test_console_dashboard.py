"""``/dashboard`` in a real browser (chromium through Playwright) over real HTTP, on the demo ledger
after a real cycle: manager (zh-CN) and legal (en) see every chart — each an SVG image that loads
with a size under the console's CSP, without a CSP violation — and under each chart its numbers as a
table, equal to the read model's; a collector and an admin get 403. Where no snapshot of today
exists, a small ledger is computed live and a large one shows the last snapshot with a note."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.access.users import add_user
from bot.channels.file import FileSender
from bot.config import EmailSettings, EvidenceSettings, Settings, SigningSettings, SmsSettings
from bot.domain.ledger import Channel
from bot.ingest.demo_ledger import generate_demo_ledger
from bot.ingest.service import ImportDefaults, import_file
from bot.outreach.cycle import run_cycle
from bot.reporting.dashboard import Dashboard, latest_snapshot, refresh_dashboard, snapshot_t
from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from bot.web.charts import dashboard_charts
from bot.web.console import dashboard_page
from bot.web.console.i18n import translations
from tests.support.browser import Clock, ConsoleServer, log_in, screenshot

AS_OF = date(2026, 11, 23)  # a Monday, a working day in China
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
PASSWORD = "s3cret-horse-battery"
USERS = {
    "boss@xinghe.com.cn": ("manager", "zh-CN"),
    "lawyer@xinghe.com.cn": ("legal", "en"),
    "li.na@xinghe.com.cn": ("collector", "zh-CN"),
    "admin@xinghe.com.cn": ("admin", "en"),
}


@pytest.fixture(scope="module")
def ledger(
    tmp_path_factory: pytest.TempPathFactory, trial_certificate: Any
) -> Iterator[tuple[Engine, Settings]]:
    """The demo ledger, imported, after one real cycle, with a user of each role (once per module)."""
    folder = tmp_path_factory.mktemp("dashboard")
    settings = Settings(
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        email=EmailSettings(transport="file", drop_dir="outbox/email", from_address="ar@xinghe.com.cn"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        base_dir=folder,
    )
    engine = make_engine(f"sqlite:///{folder / 'dunbot.db'}")
    upgrade(engine)
    files = generate_demo_ledger(folder / "ledger", AS_OF)
    defaults = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")
    for entity in ("contracts", "customers", "invoices", "payments"):
        import_file(engine, entity, getattr(files, entity), defaults=defaults, now=NOW)
    senders = {
        Channel.EMAIL: FileSender(Channel.EMAIL, settings.path("outbox/email"), from_address="ar@x.cn"),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
    }
    # In a thread of its own: the module's browser holds an event loop on this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(
            asyncio.run,
            run_cycle(engine, settings, AS_OF, clock=lambda: NOW, exclusive=True, senders=senders),
        ).result()
    for name, (role, language) in USERS.items():
        add_user(engine, name, role, PASSWORD, actor="user:ops", now=NOW, language=language)
    yield engine, settings
    engine.dispose()


@pytest.fixture
def server(ledger: tuple[Engine, Settings], tmp_path: Path) -> Iterator[ConsoleServer]:
    engine, settings = ledger
    server = ConsoleServer(engine, tmp_path / "artifacts", Clock(NOW + timedelta(hours=2)), settings=settings)
    yield server
    server.close()


def _stored(engine: Engine, settings: Settings) -> Dashboard:
    with engine.begin() as connection:
        connection.execute(snapshot_t.delete())
    return refresh_dashboard(engine, settings, AS_OF, NOW + timedelta(hours=1))


def _open(browser: Any, server: ConsoleServer, name: str) -> tuple[Any, Any, list[str]]:
    """A logged-in page and the console's error messages (a CSP violation is one)."""
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []

    def console_error(message: Any) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", console_error)
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, server, name, PASSWORD)
    return context, page, problems


def _expected(board: Dashboard, language: str) -> dict[str, list[list[str]]]:
    """Each chart's table as the read model gives it: exact values (``data-value``), "" for none."""
    found: dict[str, list[list[str]]] = {}
    for chart in dashboard_charts(board, translations(language)):
        found[chart.kind] = [
            ["" if v is None else v.isoformat() if isinstance(v, date) else str(v) for v in row]
            for row in chart.rows
        ]
    return found


def _check_charts_and_tables(page: Any, board: Dashboard, language: str) -> None:
    expected = _expected(board, language)
    assert len(expected) >= 5 + 4  # demo ledger: several currencies' aging, DSO, CEI, overdue rate, outbox
    sections = page.locator("section.chart")
    assert sections.count() == len(expected)
    for kind, rows in expected.items():
        section = page.locator(f"#chart-{kind}")
        image = section.locator("img")
        # The SVG loaded and has a size: the browser decoded it under the page's CSP.
        size = image.evaluate("i => [i.complete, i.naturalWidth, i.naturalHeight]")
        assert size[0] and size[1] > 0 and size[2] > 0, (kind, size)
        assert image.get_attribute("alt") == section.locator("h2").inner_text()
        cells = section.locator("table.numbers tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.children].map(c => c.dataset.value))"
        )
        assert cells == rows, kind
    # Some numbers are there at all (not an empty dashboard passing trivially).
    assert any(Decimal(v) > 0 for row in expected["outbox"] for v in row[1:])
    assert expected["aging-CNY"] and expected["dso"]


@pytest.mark.parametrize("name", ["boss@xinghe.com.cn", "lawyer@xinghe.com.cn"])
def test_manager_and_legal_see_the_charts_and_their_numbers(
    browser: Any, ledger: tuple[Engine, Settings], server: ConsoleServer, name: str
) -> None:
    engine, settings = ledger
    board = _stored(engine, settings)
    role, language = USERS[name]
    context, page, problems = _open(browser, server, name)
    response = page.goto(server.url("/dashboard"))
    assert response is not None and response.status == 200
    assert "img-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    heading = page.locator("h1").inner_text()
    assert heading == ("仪表盘" if language == "zh-CN" else "Dashboard")
    _check_charts_and_tables(page, board, language)
    assert page.locator("section.cycle p.hint").count() == 0  # the cycle ran today
    notice = page.locator("p.notice").inner_text()
    assert ("2026" in notice) and "stale" not in (page.locator("p.notice").get_attribute("class") or "")
    # Today's cycle: the one that just ran.
    cycle = board.last_cycle
    assert cycle is not None
    assert page.locator("table.cycle td.num").first.get_attribute("data-value") == str(cycle.messages_sent)
    if language == "zh-CN":
        assert "今日催收周期" in page.content() and "各等级账龄" in page.content()
    else:
        assert "Today's cycle" in page.content() and "Aging per tier" in page.content()
    # A chart image on its own: SVG, no script, under the console's headers.
    image = context.request.get(server.url(page.locator("section.chart img").first.get_attribute("src")))
    assert image.status == 200 and image.headers["content-type"].startswith("image/svg+xml")
    assert "<script" not in image.text() and image.headers["cache-control"] == "no-store"
    assert problems == []  # no CSP violation, no failed load
    screenshot(page, f"dashboard-{role}-{language}")
    context.close()


@pytest.mark.parametrize("name", ["li.na@xinghe.com.cn", "admin@xinghe.com.cn"])
def test_collector_and_admin_get_403(browser: Any, server: ConsoleServer, name: str) -> None:
    context, page, _ = _open(browser, server, name)
    response = page.goto(server.url("/dashboard"))
    assert response is not None and response.status == 403
    assert page.locator("section.chart").count() == 0
    chart = context.request.get(server.url("/dashboard/charts/outbox.svg?v=live"))
    assert chart.status == 403 and "svg" not in chart.headers["content-type"]
    screenshot(page, f"dashboard-refused-{USERS[name][0]}")
    context.close()


def test_without_todays_snapshot_a_small_ledger_is_computed_live(
    browser: Any, ledger: tuple[Engine, Settings], server: ConsoleServer
) -> None:
    engine, settings = ledger
    with engine.begin() as connection:
        connection.execute(snapshot_t.delete())
    context, page, problems = _open(browser, server, "lawyer@xinghe.com.cn")
    page.goto(server.url("/dashboard"))
    page.wait_for_load_state("networkidle")
    assert "computed now" in page.locator("p.notice").inner_text()
    from bot.reporting.dashboard import dashboard

    _check_charts_and_tables(page, dashboard(engine, settings, AS_OF, server.clock()), "en")
    assert problems == []
    assert latest_snapshot(engine, AS_OF) is None  # a page reads; it stores nothing
    screenshot(page, "dashboard-live-en")
    context.close()


def test_a_large_ledger_without_todays_snapshot_shows_the_last_one(
    browser: Any,
    ledger: tuple[Engine, Settings],
    server: ConsoleServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, settings = ledger
    board = _stored(engine, settings)  # yesterday's, as the server's clock moves a day on
    server.clock.advance(timedelta(days=1))
    monkeypatch.setattr(dashboard_page, "LIVE_CUSTOMERS", 10)  # the demo ledger counts as large
    context, page, problems = _open(browser, server, "boss@xinghe.com.cn")
    page.goto(server.url("/dashboard"))
    page.wait_for_load_state("networkidle")
    notice = page.locator("p.notice")
    assert "stale" in (notice.get_attribute("class") or "")
    assert "下一次催收周期" in notice.inner_text() and "2026年11月23日" in notice.inner_text()
    assert "今日尚未运行催收周期" in page.locator("section.cycle p.hint").inner_text()
    # Wide tables scroll inside the page instead of widening it.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    _check_charts_and_tables(page, board, "zh-CN")
    assert problems == []
    screenshot(page, "dashboard-stale-zh-CN")
    # No snapshot at all: only the note.
    with engine.begin() as connection:
        connection.execute(snapshot_t.delete())
    page.goto(server.url("/dashboard"))
    assert page.locator("section.chart").count() == 0
    assert "下一次催收周期" in page.locator("p.notice").inner_text()
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(snapshot_t)).scalar() == 0
    screenshot(page, "dashboard-none-zh-CN")
    context.close()
