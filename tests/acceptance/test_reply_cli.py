"""`dunbot reply list|show|confirm` as a collector types them, on replies stored as the fetcher
stores them (an ``inbound_message`` row and the raw bytes as an artifact)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.evidence.artifacts import ArtifactStore

RECEIVED = "2026-06-10 02:00:00.000000"  # how SQLAlchemy stores a UTC instant in SQLite


def dunbot(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


def _html_reply() -> bytes:
    mail = EmailMessage()
    mail["From"] = "王会计 <ap@yuanhang.example.cn>"
    mail["To"] = "ar+r7@xinghe.example.cn"
    mail["Subject"] = "回复：逾期付款提醒"
    mail.set_content(
        "<html><body><p>我们下周五付款，</p><p>谢谢。<script>x()</script></p></body></html>", subtype="html"
    )
    return mail.as_bytes()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """A folder with one customer and three replies: an e-mail awaiting confirmation (HTML-only), an
    SMS already handled, and an unmatched e-mail that failed."""
    assert dunbot(tmp_path, "init").returncode == 0
    store = ArtifactStore(tmp_path / "artifacts")
    email_raw = store.put(_html_reply())
    sms_raw = store.put(b"MessageSid=SM1&From=%2B8613800138000&Body=%E9%80%80%E8%AE%A2")
    with sqlite3.connect(tmp_path / "dunbot.db") as db:
        db.execute(
            "INSERT INTO customer (id, name, country, timezone, language, email, phone, payment_terms_days,"
            " open_lawsuits, do_not_contact, credit_hold, opted_out, account_manager)"
            " VALUES ('C1', '杭州远航贸易有限公司', 'CN', 'Asia/Shanghai', 'zh-CN', 'ap@yuanhang.example.cn',"
            " '+8613800138000', 30, 0, 0, 0, '', 'li')"
        )
        db.execute(
            "INSERT INTO invoice (number, customer_id, currency, amount, issue_date, due_date, status)"
            " VALUES ('INV-1', 'C1', 'CNY', '12500.00', '2026-04-01', '2026-05-01', 'open')"
        )
        for values in (
            ("email", "file:a", email_raw, "ap@yuanhang.example.cn", "回复：逾期付款提醒", "confirm", "C1", "tag",
             "promise", "0.62", None),
            ("sms", "sms:SM1", sms_raw, "+8613800138000", "", "handled", "C1", "phone", "opt-out", "0.99",
             "sms opted out"),
            ("email", "file:b", email_raw, "nobody@else.example", "hello", "failed", None, None, None, None, None),
        ):  # fmt: skip
            db.execute(
                "INSERT INTO inbound_message (channel, source_key, raw_sha256, sender, subject, received_at,"
                " state, attempts, customer_id, matched_by, kind, confidence, action, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
                (*values[:5], RECEIVED, *values[5:], RECEIVED, RECEIVED),
            )
    return tmp_path


def test_reply_list_filters_by_state_and_prints_json(inbox: Path) -> None:
    """`reply list --state confirm` lists only the reply awaiting a collector; `--json` gives every
    field; an unknown state is a clear error, exit 1."""
    shown = dunbot(inbox, "reply", "list", "--state", "confirm")
    assert shown.returncode == 0, shown.stderr
    assert "ap@yuanhang.example.cn" in shown.stdout and "promise" in shown.stdout
    assert "+8613800138000" not in shown.stdout
    listed = json.loads(dunbot(inbox, "reply", "list", "--json").stdout)
    assert [(r["id"], r["state"], r["customer"]) for r in listed] == [
        (3, "failed", None),
        (2, "handled", "C1"),
        (1, "confirm", "C1"),
    ]
    assert listed[2]["confidence"] == "0.620" and listed[2]["matched_by"] == "tag"
    bad = dunbot(inbox, "reply", "list", "--state", "lost")
    assert bad.returncode == 1 and "choose one of received, handled, confirm, failed" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_reply_show_reads_the_text_back_from_the_raw_artifact(inbox: Path) -> None:
    """An HTML-only e-mail shows as its visible text (no script); an SMS as its Body; both say who
    sent them, the match and the classification; an unknown id is exit 1 naming the list command."""
    shown = dunbot(inbox, "reply", "show", "1")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout.split("\ntext\n", 1)[1]
    assert [line for line in text.splitlines() if line] == ["我们下周五付款，", "谢谢。"]  # no script
    assert "matched by tag" in shown.stdout and "promise (confidence 0.62)" in shown.stdout
    assert "dunbot reply confirm 1" in shown.stdout
    sms = json.loads(dunbot(inbox, "reply", "show", "2", "--json").stdout)
    assert (sms["text"], sms["kind"], sms["action"]) == ("退订", "opt-out", "sms opted out")
    missing = dunbot(inbox, "reply", "show", "99")
    assert (
        missing.returncode == 1 and "no reply 99" in missing.stderr and "dunbot reply list" in missing.stderr
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("2",), "reply 2 does not await confirmation (it is handled: sms opted out)"),
        (("1", "--as", "maybe"), "--as 'maybe' is not a kind of reply: choose one of bounce, auto-reply"),
        (("99",), "no reply 99"),
    ],
)
def test_reply_confirm_refuses_what_cannot_be_confirmed(
    inbox: Path, args: tuple[str, ...], error: str
) -> None:
    """A reply already handled, a kind that does not exist or an unknown id: exit 1, a clear message,
    and the reply untouched (still in its state, no event)."""
    result = dunbot(inbox, "reply", "confirm", *args)
    assert result.returncode == 1 and error in result.stderr and "Traceback" not in result.stderr
    with sqlite3.connect(inbox / "dunbot.db") as db:
        assert db.execute("SELECT state FROM inbound_message ORDER BY id").fetchall() == [
            ("confirm",),
            ("handled",),
            ("failed",),
        ]
        assert db.execute("SELECT count(*) FROM evidence_event").fetchone() == (0,)


def test_reply_confirm_acts_on_the_reply(inbox: Path) -> None:
    """`reply confirm 1 --as dispute` reaches the reply handling, which acts: the reply leaves
    `confirm` and the command says what was done."""
    result = dunbot(inbox, "reply", "confirm", "1", "--as", "dispute")
    assert result.returncode == 0, result.stderr
    assert "reply 1 confirmed as dispute" in result.stdout
    with sqlite3.connect(inbox / "dunbot.db") as db:
        assert db.execute("SELECT state FROM inbound_message WHERE id = 1").fetchone() == ("handled",)
        assert db.execute("SELECT status FROM invoice WHERE number = 'INV-1'").fetchone() == ("disputed",)
        kinds = [row[0] for row in db.execute("SELECT kind FROM evidence_event ORDER BY seq")]
        assert "reply_acted" in kinds and "dispute" in kinds
