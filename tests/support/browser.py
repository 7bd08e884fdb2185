"""A real browser and a real server for the console's tests.

The browser is Debian's chromium (``apt install chromium``) driven by Playwright, launched with that
executable — never ``playwright install``. The server is the whole app (endpoints and console) served
by uvicorn through ``bot.web.server`` on a free port, with a clock the test moves. Every page a test
visits is saved as a screenshot under ``test-artifacts/screenshots/`` (CI keeps it as an artifact).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.evidence.artifacts import ArtifactStore
from bot.web.app import make_app
from bot.web.console.settings import ConsoleConfig
from bot.web.server import bind, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("DUNBOT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SECRET = "the console's test signing secret"


def browser_missing() -> str | None:
    """Why no browser test can run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]'); CI installs it"
    if not Path(CHROMIUM).exists():
        return (
            f"chromium is not installed at {CHROMIUM} (Debian/Ubuntu: apt install chromium); CI installs it"
        )
    return None


@contextmanager
def launched() -> Iterator[Browser]:
    """Chromium, headless, through Playwright; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


class Clock:
    """The app's clock, moved by the test (idle expiry, lockout)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class ConsoleServer:
    """The app with the console on 127.0.0.1, from a background thread."""

    def __init__(
        self,
        engine: Engine,
        artifacts: Path,
        clock: Clock,
        *,
        secure: bool = False,
        settings: Settings | None = None,
    ) -> None:
        self.sock = bind("127.0.0.1:0")
        self.port = self.sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.clock = clock
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.app = make_app(
            engine,
            auth_token="t",
            public_url=None,
            artifacts=ArtifactStore(artifacts),
            clock=clock,
            unsubscribe_secret=SECRET,  # as dunbot serves it with a public URL: /unsubscribe routed too
            console=ConsoleConfig(
                secret=SECRET,
                secure=secure,
                clock=clock,
                idle=timedelta(minutes=30),
                lockout=timedelta(minutes=15),
                timezone=settings.company.timezone if settings else "Asia/Shanghai",
                settings=settings,
            ),
        )
        self.thread = threading.Thread(
            target=self.loop.run_until_complete,
            args=(serve(self.app, f"127.0.0.1:{self.port}", self.stop, sock=self.sock),),
            daemon=True,
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=10)
        self.loop.close()


def start_clock() -> Clock:
    return Clock(datetime(2026, 12, 7, 1, 0, tzinfo=UTC))


def screenshot(page: Page, name: str) -> Path:
    """Save what ``page`` shows as ``test-artifacts/screenshots/NAME.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "-", name) + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, server: ConsoleServer, name: str, password: str) -> Any:
    """Fill and send the login form as a person does; the response of the page it lands on."""
    page.goto(server.url("/login"))
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    with page.expect_navigation() as navigation:
        page.click("button[type=submit]")
    return navigation.value
