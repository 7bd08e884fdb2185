"""`dunbot run` as an operator runs it: starts, refuses a second instance on SQLite, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(folder: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(folder), "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "init"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
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
