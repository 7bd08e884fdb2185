"""The fetch pass against a real Dovecot (TLS with a private CA, STARTTLS) and the demo's .eml folder,
into real SQLite and PostgreSQL: each reply recorded once, stored raw, moved; crashes and a second
poller change nothing."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.config.sections import InboundSettings
from bot.errors import ConfigError, MailboxError
from bot.evidence.artifacts import ArtifactStore
from bot.replies.arrivals import ArrivalOutcome, email_arrival, record_arrivals
from bot.replies.fetch import fetch_pass
from bot.replies.mailbox import open_mailbox
from bot.store import tables
from tests.support.imap_server import ImapServer, Mailbox

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
PASSWORD_ENV = "DUNBOT_TEST_IMAP_PASSWORD"
inbound_t = tables.InboundMessage.__table__  # type: ignore[attr-defined]


def reply(number: int, *, sender: str = "Zhang Wei <Zhang.Wei@Example.CN>") -> bytes:
    return (
        f"From: {sender}\r\n"
        "To: ar+m42@dunbot.example.com\r\n"
        "Subject: =?utf-8?b?5Zue5aSN77ya5YKs5qy+6YCa55+l?=\r\n"  # 回复：催款通知
        f"Message-ID: <reply-{number}@example.cn>\r\n"
        "Date: Mon, 07 Dec 2026 09:00:00 +0800\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"我们会在月底付款。({number})\r\n"
    ).encode()


@pytest.fixture
def mailbox(imap_server: ImapServer, monkeypatch: pytest.MonkeyPatch) -> Mailbox:
    box = imap_server.new_user()
    monkeypatch.setenv(PASSWORD_ENV, box.password)
    return box


def settings_for(box: Mailbox, base: Path, **inbound: Any) -> Settings:
    values: dict[str, Any] = {
        "imap_host": box.host,
        "imap_port": box.tls_port,
        "ca_file": str(box.ca_file),
        "username": box.username,
        "password_env": PASSWORD_ENV,
        **inbound,
    }
    return Settings(base_dir=base, inbound=InboundSettings(**values))


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(inbound_t).order_by(inbound_t.c.id)))


def test_each_reply_is_recorded_raw_once_and_moved(
    engine: Engine, imap_server: ImapServer, mailbox: Mailbox, tmp_path: Path
) -> None:
    """A pass records every message of the folder (fields from its header, raw bytes as an artifact,
    state "received") and moves it to the processed folder, created on the way; a second pass finds
    nothing and writes nothing."""
    sent = [reply(n) for n in range(5)]
    imap_server.append(mailbox, *sent)
    settings = settings_for(mailbox, tmp_path, batch_size=2)

    report = fetch_pass(engine, settings, NOW)

    assert (report.recorded, report.moved) == (5, 5)
    recorded = rows(engine)
    assert len(recorded) == 5
    artifacts = ArtifactStore(tmp_path / "artifacts")
    for row, raw in zip(recorded, sent, strict=True):
        assert row.channel == "email" and row.state == "received"
        assert row.sender == "zhang.wei@example.cn"
        assert row.subject == "回复：催款通知"
        assert row.header_message_id == raw.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()
        assert row.raw_sha256 == hashlib.sha256(raw).hexdigest()
        assert artifacts.get(row.raw_sha256) == raw
        assert row.source_key.startswith(f"imap:{mailbox.host}/{mailbox.username}/INBOX:")
        assert row.created_at == NOW
    assert imap_server.uids(mailbox, "INBOX") == []
    assert imap_server.messages(mailbox, "dunbot-processed") == sent

    again = fetch_pass(engine, settings, NOW)
    assert (again.recorded, again.moved, again.arrivals) == (0, 0, ())
    assert len(rows(engine)) == 5


def test_a_crash_between_commit_and_move_is_a_no_op_the_second_time(
    engine: Engine, imap_server: ImapServer, mailbox: Mailbox, tmp_path: Path
) -> None:
    """Messages recorded by a run that died before moving them are found again, recorded nothing the
    second time (same source_key) and moved then."""
    sent = [reply(n) for n in range(3)]
    imap_server.append(mailbox, *sent)
    settings = settings_for(mailbox, tmp_path)
    artifacts = ArtifactStore(tmp_path / "artifacts")
    # The first run: fetched and committed, then killed before the move.
    with open_mailbox(settings.inbound, mailbox.password, mailbox.ca_file) as box:
        fetched = box.fetch(box.uids())
        first = record_arrivals(
            engine, artifacts, [email_arrival(box.source_key(m.uid), m.raw, NOW) for m in fetched], NOW
        )
    assert [r.outcome for r in first] == [ArrivalOutcome.RECORDED] * 3
    assert len(imap_server.uids(mailbox, "INBOX")) == 3

    report = fetch_pass(engine, settings, NOW)

    assert [r.outcome for r in report.arrivals] == [ArrivalOutcome.ALREADY_RECORDED] * 3
    assert [r.inbound_id for r in report.arrivals] == [r.inbound_id for r in first]
    assert report.moved == 3 and len(rows(engine)) == 3
    assert imap_server.uids(mailbox, "INBOX") == []
    assert imap_server.messages(mailbox, "dunbot-processed") == sent


def test_a_new_uidvalidity_does_not_record_the_same_bytes_again(
    engine: Engine, imap_server: ImapServer, mailbox: Mailbox, tmp_path: Path
) -> None:
    """The folder is recreated (new UIDVALIDITY, so new source keys) with a message already recorded:
    its raw SHA-256 is known, so it is moved without a second row; a new message is still recorded."""
    imap_server.append(mailbox, reply(1), folder="Replies")
    settings = settings_for(mailbox, tmp_path, folder="Replies")
    with open_mailbox(settings.inbound, mailbox.password, mailbox.ca_file) as box:
        old_validity = box.uidvalidity
        fetched = box.fetch(box.uids())
        record_arrivals(
            engine,
            ArtifactStore(tmp_path / "artifacts"),
            [email_arrival(box.source_key(m.uid), m.raw, NOW) for m in fetched],
            NOW,
        )
    client = imap_server.client(mailbox)
    try:
        client.delete_folder("Replies")
    finally:
        client.logout()
    imap_server.append(mailbox, reply(1), reply(2), folder="Replies")

    report = fetch_pass(engine, settings, NOW)

    assert [r.outcome for r in report.arrivals] == [ArrivalOutcome.SAME_CONTENT, ArrivalOutcome.RECORDED]
    assert f":{old_validity}:" not in report.arrivals[0].arrival.source_key
    assert [row.header_message_id for row in rows(engine)] == ["<reply-1@example.cn>", "<reply-2@example.cn>"]
    assert imap_server.uids(mailbox, "Replies") == []


def test_two_pollers_at_once_record_each_reply_once(
    engine: Engine, imap_server: ImapServer, mailbox: Mailbox, tmp_path: Path
) -> None:
    """Two passes started together over the same 120 messages (small batches, so that they overlap):
    every message has exactly one row, each row one message, and the mailbox ends empty. (Two MOVEs
    of one message racing may leave two copies in the processed folder; the database has one row.)"""
    sent = [reply(n) for n in range(120)]
    imap_server.append(mailbox, *sent)
    settings = settings_for(mailbox, tmp_path, batch_size=10)
    start = threading.Barrier(2)
    reports: list[Any] = []
    errors: list[BaseException] = []

    def poll() -> None:
        start.wait()
        try:
            reports.append(fetch_pass(engine, settings, NOW))
        except BaseException as exc:
            errors.append(exc)

    pollers = [threading.Thread(target=poll) for _ in range(2)]
    for poller in pollers:
        poller.start()
    for poller in pollers:
        poller.join(timeout=120)

    assert errors == []
    recorded = rows(engine)
    assert sorted(row.raw_sha256 for row in recorded) == sorted(hashlib.sha256(m).hexdigest() for m in sent)
    assert sum(report.recorded for report in reports) == 120
    assert imap_server.uids(mailbox, "INBOX") == []
    assert set(imap_server.messages(mailbox, "dunbot-processed")) == set(sent)


def test_copy_and_expunge_moves_where_move_is_not_used(
    engine: Engine, imap_server: ImapServer, mailbox: Mailbox, tmp_path: Path
) -> None:
    """The fallback for servers without MOVE (COPY, \\Deleted, UID EXPUNGE) empties the folder into the
    processed one just the same, into a processed folder of the operator's naming (a Chinese name: modified
    UTF-7 on the wire)."""
    sent = [reply(n) for n in range(4)]
    imap_server.append(mailbox, *sent)
    settings = settings_for(mailbox, tmp_path, processed_folder="Archive/已处理")

    report = fetch_pass(engine, settings, NOW, use_move=False)

    assert (report.recorded, report.moved) == (4, 4)
    assert imap_server.uids(mailbox, "INBOX") == []
    assert imap_server.messages(mailbox, "Archive/已处理") == sent


def test_starttls_on_the_plain_port(
    engine: Engine, imap_server: ImapServer, mailbox: Mailbox, tmp_path: Path
) -> None:
    """security = "starttls" logs in on the plain port after upgrading the connection (the server
    refuses a login in clear), and records like the TLS port does."""
    imap_server.append(mailbox, reply(7))
    settings = settings_for(mailbox, tmp_path, imap_port=mailbox.starttls_port, security="starttls")

    report = fetch_pass(engine, settings, NOW)

    assert report.recorded == 1 and report.source.startswith("imap+starttls://")
    assert rows(engine)[0].header_message_id == "<reply-7@example.cn>"


def test_a_refused_login_names_the_settings(
    engine: Engine, imap_server: ImapServer, mailbox: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong password is a configuration error naming inbound.username and inbound.password_env (and
    the variable); a missing variable one naming the variable; nothing is recorded or moved."""
    imap_server.append(mailbox, reply(1))
    settings = settings_for(mailbox, tmp_path)
    monkeypatch.setenv(PASSWORD_ENV, "not the password")
    with pytest.raises(ConfigError) as refused:
        fetch_pass(engine, settings, NOW)
    message = str(refused.value)
    assert "refused the login" in message and "inbound.username" in message
    assert f"inbound.password_env ({PASSWORD_ENV})" in message

    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(
        ConfigError, match=f"environment variable {PASSWORD_ENV} \\(from inbound.password_env\\)"
    ):
        fetch_pass(engine, settings, NOW)
    assert rows(engine) == []
    assert len(imap_server.uids(mailbox, "INBOX")) == 1


def test_an_untrusted_certificate_or_a_wrong_port_is_a_clear_mailbox_error(
    engine: Engine, mailbox: Mailbox, tmp_path: Path
) -> None:
    """Without the CA the server's certificate is refused, and the message says to set inbound.ca_file;
    TLS spoken to the STARTTLS port fails naming inbound.security; both as MailboxError."""
    with pytest.raises(MailboxError, match=r"not trusted .*inbound\.ca_file"):
        fetch_pass(engine, settings_for(mailbox, tmp_path, ca_file=None), NOW)
    with pytest.raises(MailboxError, match=r"inbound\.security"):
        fetch_pass(engine, settings_for(mailbox, tmp_path, imap_port=mailbox.starttls_port), NOW)


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "inbox"
    folder.mkdir()
    yield folder


def test_the_demo_folder_is_read_once_and_emptied_into_processed(
    engine: Engine, inbox: Path, tmp_path: Path
) -> None:
    """inbox_dir: each .eml is recorded (source_key "file:<sha256>") and moved to processed/ beside it;
    other files stay; a file recorded by a run that died before moving it is only moved; a name
    already taken in processed/ gets another one, nothing is overwritten."""
    for n in range(3):
        (inbox / f"{n}.eml").write_bytes(reply(n))
    (inbox / "notes.txt").write_text("not a message")
    settings = Settings(base_dir=tmp_path, inbound=InboundSettings(inbox_dir="inbox"))

    report = fetch_pass(engine, settings, NOW)

    assert (report.recorded, report.moved) == (3, 3)
    assert [row.source_key for row in rows(engine)] == [
        f"file:{hashlib.sha256(reply(n)).hexdigest()}" for n in range(3)
    ]
    assert sorted(p.name for p in inbox.iterdir()) == ["notes.txt", "processed"]
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["0.eml", "1.eml", "2.eml"]

    (inbox / "0.eml").write_bytes(reply(0))  # as if the move had not happened
    again = fetch_pass(engine, settings, NOW)
    assert [r.outcome for r in again.arrivals] == [ArrivalOutcome.ALREADY_RECORDED]
    assert len(rows(engine)) == 3
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["0.1.eml", "0.eml", "1.eml", "2.eml"]
    assert not (inbox / "0.eml").exists()


def test_a_message_with_broken_headers_is_still_recorded(engine: Engine, inbox: Path, tmp_path: Path) -> None:
    """A message whose From and Subject cannot be read (an unknown charset, raw GBK bytes, a NUL) is
    recorded with what could be read, never dropped: the raw bytes are what the evidence keeps."""
    broken = (
        b"From: <<<@@@\r\nSubject: =?x-unknown?q?=FF=FE?= \x00\xb7\xa2\xc6\xb1\r\nMessage-ID:\r\n\r\n"
        b"\xff\xfe body\r\n"
    )
    (inbox / "broken.eml").write_bytes(broken)
    settings = Settings(base_dir=tmp_path, inbound=InboundSettings(inbox_dir=str(inbox)))

    report = fetch_pass(engine, settings, NOW)

    assert report.recorded == 1
    row = rows(engine)[0]
    assert row.raw_sha256 == hashlib.sha256(broken).hexdigest() and row.header_message_id is None
    assert "\x00" not in row.subject and row.sender == ""
    assert ArtifactStore(tmp_path / "artifacts").get(row.raw_sha256) == broken


def test_no_mailbox_configured_is_a_config_error(engine: Engine, tmp_path: Path) -> None:
    """Without imap_host or inbox_dir a pass refuses, saying what to set."""
    with pytest.raises(ConfigError, match=r"set imap_host .* or inbox_dir"):
        fetch_pass(engine, Settings(base_dir=tmp_path), NOW)
    assert rows(engine) == []


def test_the_same_bytes_twice_in_one_batch_are_one_row(
    engine: Engine, imap_server: ImapServer, mailbox: Mailbox, tmp_path: Path
) -> None:
    """A message delivered twice into the mailbox (same bytes, two UIDs, one batch) is one row; the
    second copy is "same content", naming that row, and both leave the folder."""
    imap_server.append(mailbox, reply(1), reply(1), reply(2))

    report = fetch_pass(engine, settings_for(mailbox, tmp_path), NOW)

    outcomes = [(r.outcome, r.inbound_id) for r in report.arrivals]
    first_id = outcomes[0][1]
    assert outcomes[0] == (ArrivalOutcome.RECORDED, first_id)
    assert outcomes[1] == (ArrivalOutcome.SAME_CONTENT, first_id)
    assert outcomes[2][0] is ArrivalOutcome.RECORDED and outcomes[2][1] != first_id
    assert len(rows(engine)) == 2 and report.moved == 3
    assert imap_server.uids(mailbox, "INBOX") == []
