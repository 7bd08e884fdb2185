"""`dunbot inbound poll` as an operator types it, against a real Dovecot: a table of what arrived, the
same as JSON, and clear errors (exit 2, no traceback) for a wrong password or a missing secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.imap_server import ImapServer, Mailbox

PASSWORD_ENV = "DUNBOT_IMAP_PASSWORD"


def reply(number: int) -> bytes:
    return (
        f"From: Li Na <li.na@example.com>\r\nSubject: Re: Invoice INV-{number} overdue\r\n"
        f"Message-ID: <li-{number}@example.com>\r\n\r\nWe will pay on Friday.\r\n"
    ).encode()


def dunbot(folder: Path, *args: str, password: str | None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "COLUMNS": "200"}
    if password is not None:
        env[PASSWORD_ENV] = password
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def configured(tmp_path: Path, imap_server: ImapServer) -> tuple[Path, Mailbox]:
    assert dunbot(tmp_path, "init", password=None).returncode == 0
    box = imap_server.new_user()
    config = tmp_path / "dunbot.toml"
    config.write_text(
        config.read_text().replace(
            "\n[inbound]\n",
            f"""
[inbound]
imap_host = "127.0.0.1"
imap_port = {box.tls_port}
ca_file = "{box.ca_file}"
username = "{box.username}"
password_env = "{PASSWORD_ENV}"
""",
            1,
        )
    )
    return tmp_path, box


def test_poll_prints_what_arrived_then_nothing(
    configured: tuple[Path, Mailbox], imap_server: ImapServer
) -> None:
    """The first poll lists each reply (id, outcome, sender, subject) and the totals; --json on the next
    poll says nothing new arrived; the mailbox is empty and the processed folder holds the replies."""
    folder, box = configured
    imap_server.append(box, reply(1), reply(2))

    first = dunbot(folder, "inbound", "poll", password=box.password)

    assert first.returncode == 0, first.stderr
    assert "Re: Invoice INV-1 overdue" in first.stdout and "li.na@example.com" in first.stdout
    assert "2 new, 0 recorded before, 2 moved to the processed folder" in first.stdout
    imap_server.append(box, reply(3))
    second = dunbot(folder, "inbound", "poll", "--json", password=box.password)
    assert second.returncode == 0, second.stderr
    document = json.loads(second.stdout)
    assert (document["recorded"], document["skipped"], document["moved"]) == (1, 0, 1)
    assert [m["message_id"] for m in document["messages"]] == ["<li-3@example.com>"]
    assert document["messages"][0]["outcome"] == "recorded"
    assert imap_server.uids(box, "INBOX") == []
    assert len(imap_server.uids(box, "dunbot-processed")) == 3


def test_a_wrong_password_or_missing_secret_is_a_clear_config_error(
    configured: tuple[Path, Mailbox], imap_server: ImapServer
) -> None:
    """A refused login exits 2 naming inbound.username and inbound.password_env; an unset variable
    exits 2 naming it; neither prints a traceback, and the reply stays in the mailbox."""
    folder, box = configured
    imap_server.append(box, reply(1))

    refused = dunbot(folder, "inbound", "poll", password="wrong")
    unset = dunbot(folder, "inbound", "poll", password=None)

    assert refused.returncode == 2
    assert "refused the login of inbound.username" in refused.stderr
    assert f"inbound.password_env ({PASSWORD_ENV})" in refused.stderr
    assert unset.returncode == 2
    assert f"environment variable {PASSWORD_ENV} (from inbound.password_env) is not set" in unset.stderr
    assert "Traceback" not in refused.stderr + unset.stderr
    assert len(imap_server.uids(box, "INBOX")) == 1


def test_poll_without_a_mailbox_says_what_to_set(tmp_path: Path) -> None:
    """Without [inbound] imap_host or inbox_dir, poll exits 2 and names both settings."""
    assert dunbot(tmp_path, "init", password=None).returncode == 0
    result = dunbot(tmp_path, "inbound", "poll", password=None)
    assert result.returncode == 2
    assert "set imap_host" in result.stderr and "inbox_dir" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_connect_looks_into_the_mailbox_without_touching_it(
    configured: tuple[Path, Mailbox], imap_server: ImapServer
) -> None:
    """check-config --connect logs in and says how many replies wait and whether the processed folder
    exists, fetching and moving nothing; a wrong password makes the check fail (exit 1) saying so."""
    folder, box = configured
    imap_server.append(box, reply(1), reply(2))

    good = dunbot(folder, "check-config", "--connect", "--json", password=box.password)
    bad = dunbot(folder, "check-config", "--connect", "--json", password="wrong")

    assert good.returncode == 0, good.stdout + good.stderr
    imap = {c["name"]: c for c in json.loads(good.stdout)["connections"]}["imap"]
    assert imap["ok"] and "2 messages waiting in 'INBOX'" in imap["detail"]
    assert "'dunbot-processed' absent" in imap["detail"]
    assert len(imap_server.uids(box, "INBOX")) == 2
    assert bad.returncode == 1
    failed = {c["name"]: c for c in json.loads(bad.stdout)["connections"]}["imap"]
    assert not failed["ok"] and "refused the login" in failed["detail"]
