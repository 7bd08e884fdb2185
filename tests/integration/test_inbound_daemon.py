"""The daemon's inbound job: `DaemonJobs.poll_inbound` against a real Dovecot, and `dunbot run` picking
up a reply dropped in the demo's inbox on its own, every [inbound] poll_seconds."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.config.sections import InboundSettings
from bot.scheduler import DaemonJobs
from bot.store import tables
from tests.support.imap_server import ImapServer, Mailbox

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
PASSWORD_ENV = "DUNBOT_TEST_IMAP_PASSWORD"
inbound_t = tables.InboundMessage.__table__  # type: ignore[attr-defined]


def reply(number: int) -> bytes:
    return f"From: a@example.com\r\nSubject: re {number}\r\nMessage-ID: <d{number}@example.com>\r\n\r\nok\r\n".encode()


def jobs_for(engine: Engine, settings: Settings, stop: asyncio.Event) -> DaemonJobs:
    return DaemonJobs(
        engine,
        settings,
        exclusive=True,
        clock=lambda: NOW,
        senders={},
        stop=stop,
        wake_at=lambda when: None,
    )


def settings_for(box: Mailbox, base: Path, password_env: str = PASSWORD_ENV) -> Settings:
    return Settings(
        base_dir=base,
        inbound=InboundSettings(
            imap_host=box.host,
            imap_port=box.tls_port,
            ca_file=str(box.ca_file),
            username=box.username,
            password_env=password_env,
        ),
    )


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(inbound_t)).scalar_one())


def test_the_poll_job_records_moves_and_survives_a_refused_login(
    engine: Engine,
    imap_server: ImapServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A poll records what waits and moves it; a refused login is logged as an error naming the settings
    and the job returns None (the daemon goes on); once SIGTERM was asked for, a poll does nothing."""
    box = imap_server.new_user()
    imap_server.append(box, reply(1), reply(2))
    monkeypatch.setenv(PASSWORD_ENV, box.password)
    stop = asyncio.Event()
    jobs = jobs_for(engine, settings_for(box, tmp_path), stop)

    report: Any = asyncio.run(jobs.poll_inbound())
    assert report is not None and (report.recorded, report.moved) == (2, 2)
    assert imap_server.uids(box, "INBOX") == []

    imap_server.append(box, reply(3))
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with caplog.at_level(logging.ERROR, logger="bot.scheduler"):
        assert asyncio.run(jobs.poll_inbound()) is None
    assert "polling the reply mailbox failed" in caplog.text and "inbound.password_env" in caplog.text

    monkeypatch.setenv(PASSWORD_ENV, box.password)
    stop.set()
    assert asyncio.run(jobs.poll_inbound()) is None
    assert count(engine) == 2 and len(imap_server.uids(box, "INBOX")) == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_dunbot_run_polls_the_inbox_by_itself(tmp_path: Path) -> None:
    """`dunbot run` with [inbound] inbox_dir and poll_seconds = 5 records a reply dropped while it runs
    and moves it to processed/, without any command; it stops cleanly on SIGTERM."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"}
    run = [sys.executable, "-m", "bot"]
    assert (
        subprocess.run([*run, "init"], cwd=tmp_path, env=env, capture_output=True, timeout=120).returncode
        == 0
    )
    config = tmp_path / "dunbot.toml"
    port = _free_port()
    text = config.read_text().replace('listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{port}"')
    config.write_text(
        text.replace("\n[inbound]\n", '\n[inbound]\ninbox_dir = "inbox"\npoll_seconds = 5\n', 1)
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    daemon = subprocess.Popen(
        [*run, "run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(2)
        (inbox / "reply.eml").write_bytes(reply(1))
        deadline = time.monotonic() + 60
        while not (inbox / "processed" / "reply.eml").exists():
            assert daemon.poll() is None, daemon.communicate()
            assert time.monotonic() < deadline, "the daemon did not pick up the reply within 60 s"
            time.sleep(0.5)
    finally:
        os.kill(daemon.pid, signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, stderr
    assert "inbound fetch from" in stderr and "1 new" in stderr
    engine = sa.create_engine(f"sqlite:///{tmp_path}/dunbot.db")
    try:
        with engine.connect() as connection:
            keys = list(connection.execute(sa.select(inbound_t.c.source_key)).scalars())
    finally:
        engine.dispose()
    assert len(keys) == 1 and keys[0].startswith("file:")
