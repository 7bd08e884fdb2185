"""The README's console screenshots, taken from `make demo`'s data as a newcomer sees them.

    python scripts/console_screenshots.py --out docs/screenshots

It runs `dunbot demo` in a temporary folder, starts `dunbot web` there exactly as the demo's closing
lines say (the secret exported from ``session-secret``; only ``[web] listen`` moved to a free port),
logs in with the demo logins through Debian's chromium (Playwright) and saves:

- ``worklist.png``: the collector's worklist (zh-CN),
- ``customer.png``: the page of the collector's customer with the most evidence events,
- ``evidence.png``: legal's evidence page with an exported pack verified (en).

Re-runnable: each run starts from a new demo and overwrites the PNGs. ``--as-of`` fixes the demo's
date (default: the demo's own, the next business day).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.demo_run import DEMO_SECRET_ENV, DEMO_SECRET_FILE, DEMO_USERS  # noqa: E402

CHROMIUM = os.environ.get("DUNBOT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 800}


def _login_of(role: str) -> tuple[str, str]:
    return next((name, password) for name, r, password, _ in DEMO_USERS if r == role)


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dunbot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )


def _wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _busiest_customer(database: Path, manager: str) -> str:
    with closing(sqlite3.connect(database)) as connection:
        row = connection.execute(
            "SELECT c.id FROM customer c LEFT JOIN evidence_event e ON e.customer = c.id "
            "WHERE coalesce(c.assigned_to, c.account_manager) = ? "
            "GROUP BY c.id ORDER BY count(e.seq) DESC, c.id LIMIT 1",
            (manager,),
        ).fetchone()
    if row is None:
        raise SystemExit(f"the demo ledger has no customer of {manager}")
    return str(row[0])


def take(out: Path, as_of: str | None) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dunbot-screens-") as folder:
        work = Path(folder)
        _dunbot("demo", "--dir", "demo", *(("--as-of", as_of) if as_of else ()), cwd=work)
        demo = work / "demo"
        port = _free_port()
        config = demo / "dunbot.toml"
        config.write_text(
            re.sub(r'(?m)^listen = "[^"]*"', f'listen = "127.0.0.1:{port}"', config.read_text("utf-8")),
            encoding="utf-8",
        )
        env = dict(os.environ)
        env[DEMO_SECRET_ENV] = (demo / DEMO_SECRET_FILE).read_text(encoding="utf-8").strip()
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "web"],
            cwd=demo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        saved: list[Path] = []
        try:
            _wait_for(base + "/healthz")
            collector, _ = _login_of("collector")
            customer = _busiest_customer(demo / "dunbot.db", collector)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

                def shoot(role: str, path: str, name: str) -> None:
                    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
                    page = context.new_page()
                    user, password = _login_of(role)
                    page.goto(base + "/login")
                    page.fill("input[name=username]", user)
                    page.fill("input[name=password]", password)
                    with page.expect_navigation():
                        page.click("button[type=submit]")
                    page.goto(base + path)
                    if path == "/evidence":  # export a pack and verify it, as legal does
                        page.fill("input[name=customer]", customer)
                        with page.expect_download() as downloading:
                            page.click("button[name=export]")
                        pack = work / downloading.value.suggested_filename
                        downloading.value.save_as(pack)
                        page.set_input_files("input[name=pack]", str(pack))
                        with page.expect_navigation():
                            page.click("button[name=verify]")
                    target = out / name
                    page.screenshot(path=str(target), full_page=False)
                    saved.append(target)
                    context.close()

                shoot("collector", "/worklist", "worklist.png")
                shoot("collector", f"/customers/{customer}", "customer.png")
                shoot("legal", "/evidence", "evidence.png")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNGs go")
    parser.add_argument("--as-of", help="the demo's date (YYYY-MM-DD)")
    arguments = parser.parse_args()
    for path in take(arguments.out, arguments.as_of):
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
