"""`dunbot run` as an operator runs it: starts, refuses a second instance on SQLite, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.outreach.unsubscribe import unsubscribe_token


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(folder: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(folder), "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return _init(tmp_path, _env(tmp_path))


def _init(tmp_path: Path, env: dict[str, str]) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "init"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    config = tmp_path / "dunbot.toml"
    text = config.read_text(encoding="utf-8").replace(
        'listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{_free_port()}"'
    )
    config.write_text(text, encoding="utf-8")
    return tmp_path


def _start(folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=folder,
        env=_env(folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float = 30) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} not printed; stderr so far: {''.join(seen)}")


def test_sigterm_stops_the_daemon_cleanly(folder: Path) -> None:
    daemon = _start(folder)
    try:
        line = _wait_for_line(daemon, "dunbot running")
        assert "next cycles:" in line
        os.kill(daemon.pid, signal.SIGTERM)
        _, rest = daemon.communicate(timeout=30)
        assert daemon.returncode == 0, rest
        assert "dunbot stopped" in rest
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()


def test_a_second_instance_on_sqlite_refuses_to_start(folder: Path) -> None:
    first = _start(folder)
    try:
        _wait_for_line(first, "dunbot running")
        second = subprocess.run(
            [sys.executable, "-m", "bot", "run"],
            cwd=folder,
            env=_env(folder),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert "another dunbot" in second.stderr and f"pid {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        cycle = subprocess.run(
            [sys.executable, "-m", "bot", "cycle"],
            cwd=folder,
            env=_env(folder),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cycle.returncode == 2 and "another dunbot" in cycle.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)


def test_the_daemon_serves_the_unsubscribe_link_signed_with_its_secret(folder: Path) -> None:
    config = folder / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        '# public_url = "https://dunbot.example.com"', 'public_url = "https://dunbot.example.com"'
    )
    text = text.replace(
        '# session_secret_env = "DUNBOT_SESSION_SECRET"', 'session_secret_env = "DUNBOT_SESSION_SECRET"'
    )
    config.write_text(text, encoding="utf-8")
    listen = next(line for line in text.splitlines() if line.startswith("listen = ")).split('"')[1]
    daemon = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=folder,
        env={**_env(folder), "DUNBOT_SESSION_SECRET": "the daemon's secret"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def status(token: str) -> int:
        url = f"http://{listen}/unsubscribe?m=dunbot.1.20261207%40example.com&t={token}"
        deadline = time.monotonic() + 30
        while True:  # "dunbot running" is printed as the listener starts: it may not answer yet
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    return int(response.status)
            except urllib.error.HTTPError as exc:
                exc.close()
                return int(exc.code)
            except urllib.error.URLError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    try:
        _wait_for_line(daemon, "dunbot running")
        key = "<dunbot.1.20261207@example.com>"
        # The configured secret reached the app: its token passes (no such e-mail: 404), another is 403.
        assert status(unsubscribe_token("the daemon's secret", key)) == 404
        assert status(unsubscribe_token("another secret", key)) == 403
        os.kill(daemon.pid, signal.SIGTERM)
        _, rest = daemon.communicate(timeout=30)
        assert daemon.returncode == 0, rest
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()


def test_a_bad_cron_is_a_config_error(folder: Path) -> None:
    config = folder / "dunbot.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('cron = "0 9 * * 1-5"', 'cron = "0 25 * * 1-5"'),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config"],
        cwd=folder,
        env=_env(folder),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "dunbot.toml:schedule.cron:" in result.stderr


LIBFAKETIME = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))), Path("/nonexistent"))


def _faked(folder: Path, instant: str) -> dict[str, str]:
    # The daemon's own pid (LD_PRELOAD, not the forking `faketime` wrapper); its clock starts at
    # ``instant`` and runs on from there.
    return {**_env(folder), "LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": f"@{instant}", "TZ": "UTC"}


@pytest.mark.skipif(
    not LIBFAKETIME.exists(), reason="libfaketime is not installed (apt-get install faketime)"
)
def test_the_daemon_wakes_when_a_london_customers_window_opens(tmp_path: Path) -> None:
    """The 09:00 Shanghai tick is 01:00 in London: the daemon sends at 08:00 London, not the next tick."""
    # The TRIAL certificate is made on the faked clock too: one made at the real time would not be
    # valid yet at a faked instant before it, and the cycle's preflight would refuse to start.
    folder = _init(tmp_path, _faked(tmp_path, "2026-12-06 12:00:00"))
    (folder / "customers.csv").write_text(
        "id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,"
        "payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact\n"
        "LON,Thames Tools Ltd,,B,GB,Europe/London,en,ap@thames.example.com,,,,30,,,,0,\n",
        encoding="utf-8",
    )
    (folder / "invoices.csv").write_text(
        "number,customer_id,currency,amount,issue_date,due_date,contract_ref,status\n"
        "INV-1,LON,GBP,1200.00,2026-11-01,2026-12-14,,open\n",  # due in 7 days: the pre-due reminder
        encoding="utf-8",
    )
    for entity in ("customers", "invoices"):
        imported = subprocess.run(
            [sys.executable, "-m", "bot", "import", entity, f"{entity}.csv"],
            cwd=folder,
            env=_env(folder),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert imported.returncode == 0, imported.stderr
    tick = subprocess.run(  # Monday's cycle at 09:00 in Shanghai
        [sys.executable, "-m", "bot", "cycle", "--as-of", "2026-12-07"],
        cwd=folder,
        env=_faked(folder, "2026-12-07 01:00:00"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tick.returncode == 0, tick.stderr
    assert not (folder / "outbox" / "email").exists()  # 01:00 in London: it waits

    daemon = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=folder,
        env=_faked(folder, "2026-12-07 07:59:52"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _wait_for_line(daemon, "next waiting message due at 2026-12-07T08:00+00:00")
        assert "Traceback" not in line
        _wait_for_line(daemon, "woke to send: 1 sent", timeout=60)
        os.kill(daemon.pid, signal.SIGTERM)
        _, rest = daemon.communicate(timeout=30)
        assert daemon.returncode == 0, rest
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert len(list((folder / "outbox" / "email").glob("*.eml"))) == 1
    with sqlite3.connect(folder / "dunbot.db") as database:
        state, sent_at = database.execute("SELECT state, sent_at FROM message").fetchone()
    assert state == "sent"
    assert str(sent_at).startswith("2026-12-07 08:00:0")  # 08:00 in London, as the window opens
