"""THE MAIN FLOW of legal in a real browser (chromium through Playwright) over real HTTP: export a
pack of a real cycle's evidence from /evidence, verify it with the real `dunbot evidence verify`, then
upload it to /evidence and see the verifier's report, and a tampered copy fail with the altered file
named. In en and zh-CN. Collectors and managers are refused the page."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.access.users import add_user
from tests.integration.test_evidence_pack import NOON, _cycle, _seed, _settings
from tests.support.browser import Clock, ConsoleServer, log_in, screenshot

PASSWORD = "s3cret-horse-battery"
USERS = {
    "lawyer@xinghe.com.cn": ("legal", "en"),
    "fawu@xinghe.com.cn": ("legal", "zh-CN"),
    "li.na@xinghe.com.cn": ("collector", "zh-CN"),
    "boss@xinghe.com.cn": ("manager", "en"),
}


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder the server writes exports and uploads to (the server runs in this
    process), so that a test can see it left nothing behind."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _left_in(folder: Path) -> list[Path]:
    """What is in ``folder`` once the server's background clean-up had its moment."""
    deadline = time.monotonic() + 5
    while any(folder.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(folder.iterdir())


@pytest.fixture
def server(engine: Any, tmp_path: Path, trial_certificate: Any) -> Iterator[ConsoleServer]:
    """The console over a ledger a real cycle has worked (e-mails, SMS, a signed letter), on
    SQLite and PostgreSQL, with a user of each role that matters here."""
    from tests.conftest import require_cjk_font

    require_cjk_font()
    settings = _settings(tmp_path, trial_certificate)
    _seed(engine)
    # In a thread of its own: the module's Playwright holds an event loop on this one.
    cycle = threading.Thread(target=_cycle, args=(engine, settings))
    cycle.start()
    cycle.join()
    clock = Clock(NOON + timedelta(hours=2))
    for name, (role, language) in USERS.items():
        add_user(engine, name, role, PASSWORD, actor="user:ops", now=clock(), language=language)
    running = ConsoleServer(engine, tmp_path / "artifacts", clock, settings=settings)
    running.engine = engine  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        running.close()


def _cli_verify(pack: Path) -> subprocess.CompletedProcess[str]:
    """The real `dunbot evidence verify FILE`, as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "evidence", "verify", str(pack), "--json"],
        cwd=pack.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(pack.parent), "COLUMNS": "200"},
    )


def _tampered(pack: Path, out: Path) -> str:
    """A copy of ``pack`` with one byte of one event changed; the event's file name."""
    with zipfile.ZipFile(pack) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    name = sorted(n for n in files if n.startswith("events/"))[0]
    body = files[name]
    at = body.index(b'"actor"') + 1
    files[name] = body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]
    with zipfile.ZipFile(out, "w") as archive:
        for entry, data in files.items():
            archive.writestr(entry, data)
    return name


@pytest.mark.parametrize(
    "name, customer, invoice, texts",
    [
        (
            "lawyer@xinghe.com.cn",
            "C2",
            "J-3",
            {
                "h1": "Evidence",
                "passed": "Passed",
                "failed": "Failed",
                "ok": "Verified:",
                "bad": "Not verified",
            },
        ),
        (
            "fawu@xinghe.com.cn",
            "C1",
            "I-15",
            {"h1": "证据", "passed": "通过", "failed": "未通过", "ok": "核验通过", "bad": "核验未通过"},
        ),
    ],
)
def test_legal_exports_a_pack_and_it_verifies_with_the_cli_and_on_the_page(
    browser: Any,
    server: ConsoleServer,
    scratch: Path,
    tmp_path: Path,
    name: str,
    customer: str,
    invoice: str,
    texts: dict[str, str],
) -> None:
    language = USERS[name][1]
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    assert log_in(page, server, name, PASSWORD).status == 200
    page.click("header nav a[href='/evidence']")
    page.wait_for_url(server.url("/evidence"))
    assert page.locator("h1").inner_text() == texts["h1"]
    screenshot(page, f"evidence-{language}")

    # an unknown customer: the page again, naming it, never a traceback
    page.fill("input[name=customer]", "C-NOPE")
    with page.expect_navigation() as navigation:
        page.click("button[name=export]")
    assert navigation.value.status == 404
    assert "C-NOPE" in page.locator("p.problem").inner_text()
    screenshot(page, f"evidence-unknown-customer-{language}")

    # the export: a download, written by the same export_pack the CLI calls
    page.fill("input[name=customer]", customer)
    with page.expect_download() as downloading:
        page.click("button[name=export]")
    download = downloading.value
    assert download.suggested_filename == f"evidence-customer-{customer}.zip"
    pack = tmp_path / language / download.suggested_filename
    pack.parent.mkdir()
    download.save_as(pack)
    assert zipfile.is_zipfile(pack)
    assert _left_in(scratch) == []  # the server's copy is gone once sent

    # the export is an evidence event with the logged-in user as its actor
    with server.engine.connect() as connection:  # type: ignore[attr-defined]
        exports = connection.execute(
            sa.text("SELECT actor, customer FROM evidence_event WHERE kind = 'export' ORDER BY seq")
        ).all()
    assert [(row.actor, row.customer) for row in exports] == [(f"user:{name}", customer)]
    with zipfile.ZipFile(pack) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        last = json.loads(archive.read(manifest["events"][-1]["file"]))
    assert (last["kind"], last["actor"]) == ("export", f"user:{name}")
    assert last["data"]["case"] == f"customer {customer}"

    # `dunbot evidence verify FILE` passes it
    checked = _cli_verify(pack)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    verdict = json.loads(checked.stdout)
    assert verdict["ok"] is True and verdict["events"] == len(manifest["events"])

    # the same pack uploaded: the verifier's report, every check passed
    page.set_input_files("input[name=pack]", str(pack))
    with page.expect_navigation() as navigation:
        page.click("button[name=verify]")
    assert navigation.value.status == 200
    assert texts["ok"] in page.locator("p.verdict").inner_text()
    rows = page.locator("table.checks tbody tr")
    assert rows.count() == len(verdict["items"]) > 3
    assert set(page.locator("table.checks tbody tr td:nth-child(2)").all_inner_texts()) == {texts["passed"]}
    screenshot(page, f"evidence-verified-{language}")

    # a copy with one byte of one event changed fails, naming the altered file
    bad = pack.with_name("tampered.zip")
    altered = _tampered(pack, bad)
    assert _cli_verify(bad).returncode == 1
    page.set_input_files("input[name=pack]", str(bad))
    with page.expect_navigation():
        page.click("button[name=verify]")
    assert texts["bad"] in page.locator("p.verdict").inner_text()
    failed = page.locator("table.checks tbody tr.failed").all_inner_texts()
    assert any(altered in row and texts["failed"] in row and "altered" in row for row in failed), failed
    assert altered in page.locator("p.verdict").inner_text()  # the first failure, named
    screenshot(page, f"evidence-tampered-{language}")
    assert _left_in(scratch) == []  # nor does an upload stay

    # both a customer and an invoice: refused, saying why
    page.fill("input[name=customer]", customer)
    page.fill("input[name=invoice]", invoice)
    with page.expect_navigation() as navigation:
        page.click("button[name=export]")
    assert navigation.value.status == 400
    assert page.locator("p.problem").is_visible()
    # an invoice's pack
    page.fill("input[name=customer]", "")
    with page.expect_download() as downloading:
        page.click("button[name=export]")
    assert downloading.value.suggested_filename == f"evidence-invoice-{invoice}.zip"
    one = pack.with_name(downloading.value.suggested_filename)
    downloading.value.save_as(one)
    assert _cli_verify(one).returncode == 0
    with zipfile.ZipFile(one) as archive:
        last = json.loads(archive.read(json.loads(archive.read("manifest.json"))["events"][-1]["file"]))
    assert (last["actor"], last["data"]["case"]) == (
        f"user:{name}",
        f"invoice {invoice} (customer {customer})",
    )
    context.close()


@pytest.mark.parametrize("name", ["li.na@xinghe.com.cn", "boss@xinghe.com.cn"])
def test_collector_and_manager_are_refused_the_evidence_page(
    browser: Any, server: ConsoleServer, name: str
) -> None:
    role = USERS[name][0]
    context = browser.new_context()
    page = context.new_page()
    log_in(page, server, name, PASSWORD)
    assert page.locator("header nav a[href='/evidence']").count() == 0
    response = page.goto(server.url("/evidence"))
    assert response is not None and response.status == 403
    assert page.locator("h1").inner_text() in {"无权访问", "Not allowed"}
    screenshot(page, f"evidence-refused-{role}")
    # nor can a hand-made POST export anything
    answer = context.request.post(server.url("/evidence/export"), form={"customer": "C1"})
    assert answer.status == 403
    context.close()
