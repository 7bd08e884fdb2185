"""Crash drill of issue 20: 500 replies in a real Dovecot mailbox, `dunbot inbound poll` SIGKILLed in
the middle of its pass three times (in batches of 20, so that kills land between a commit and its
move too), then run to the end. Every reply is recorded exactly once, none is lost, all are moved,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from bot.store import tables
from bot.store.engine import make_engine
from tests.support.imap_server import ImapServer, Mailbox

REPLIES = 500
PASSWORD_ENV = "DUNBOT_IMAP_PASSWORD"
inbound_t = tables.InboundMessage.__table__  # type: ignore[attr-defined]


def reply(number: int) -> bytes:
    return (
        f"From: customer{number}@example.com\r\n"
        f"Subject: =?utf-8?b?5Zue5aSN?= {number}\r\n"
        f"Message-ID: <crash-{number}@example.com>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{'已付款，请查收。' * 20} {number}\r\n"
    ).encode()


def poll(folder: Path, box: Mailbox) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "inbound", "poll", "--json"],
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder), PASSWORD_ENV: box.password},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def recorded(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(inbound_t)).scalar_one())


def test_sigkill_mid_poll_loses_nothing_and_records_nothing_twice(
    db_url: str, imap_server: ImapServer, tmp_path: Path
) -> None:
    """Three SIGKILLs while a pass is recording (after 60, 200 and 350 rows), then a full pass: 500
    rows, one per reply (by raw SHA-256 and Message-ID), each raw artifact intact, the inbox empty
    and every reply in the processed folder."""
    assert (
        subprocess.run(
            [sys.executable, "-m", "bot", "init"],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
            capture_output=True,
            timeout=120,
        ).returncode
        == 0
    )
    box = imap_server.new_user()
    sent = [reply(n) for n in range(REPLIES)]
    imap_server.append(box, *sent)
    config = tmp_path / "dunbot.toml"
    text = config.read_text().replace('url = "sqlite:///dunbot.db"', f'url = "{db_url}"')
    config.write_text(
        text.replace(
            "\n[inbound]\n",
            f"""
[inbound]
imap_host = "127.0.0.1"
imap_port = {box.tls_port}
ca_file = "{box.ca_file}"
username = "{box.username}"
password_env = "{PASSWORD_ENV}"
batch_size = 20
""",
            1,
        )
    )
    init = subprocess.run(
        [sys.executable, "-m", "bot", "init"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr  # the schema in the configured database

    engine = make_engine(db_url)
    try:
        kills = 0
        for threshold in (60, 200, 350):
            process = poll(tmp_path, box)
            deadline = time.monotonic() + 120
            while recorded(engine) < threshold:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the poll made no progress"
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)
            assert process.returncode == -signal.SIGKILL
            kills += 1
            assert recorded(engine) < REPLIES, "the pass finished before it could be killed"
        before = recorded(engine)

        final = poll(tmp_path, box)
        stdout, stderr = final.communicate(timeout=300)
        assert final.returncode == 0, stderr
        with engine.connect() as connection:
            rows = list(connection.execute(sa.select(inbound_t.c.raw_sha256, inbound_t.c.header_message_id)))
    finally:
        engine.dispose()

    assert kills == 3
    assert json.loads(stdout)["recorded"] == REPLIES - before  # the rest, and nothing again
    expected = {hashlib.sha256(raw).hexdigest() for raw in sent}
    assert len(rows) == REPLIES
    assert Counter(row.raw_sha256 for row in rows) == Counter(expected)
    assert len({row.header_message_id for row in rows}) == REPLIES
    artifacts = tmp_path / "artifacts"
    for digest in expected:
        path = artifacts / digest[:2] / digest[2:4] / digest
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert imap_server.uids(box, "INBOX") == []
    assert set(imap_server.messages(box, "dunbot-processed")) == set(sent)
