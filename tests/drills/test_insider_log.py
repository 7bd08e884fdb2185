"""Insider drills of issue 19, findings 1-3: someone who can write to the database (and drop its
triggers) but does not hold the signing key rewrites or trims the evidence log.

* Finding 1: a payment's amount changed, every hash recomputed, checkpoints and Merkle nodes deleted:
  `dunbot evidence verify --db` fails naming the witness, and `evidence export` signs nothing.
* Finding 2: events after the newest checkpoint are reported; removing what a completed cycle recorded
  while its checkpoint could not be signed is caught by the cycle rule.
* Finding 3: the newest checkpoint and the events only it covers, deleted: the triggers refuse; with
  the triggers dropped, the witness catches it, and the id gap catches a middle one removed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.channels.file import FileSender
from bot.config import (
    ComplianceSettings,
    EmailSettings,
    EvidenceSettings,
    Settings,
    SigningSettings,
    SmsSettings,
)
from bot.domain.ledger import Channel
from bot.evidence.canonical import canonical_bytes, chain_hash
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.evidence.service import checkpoint_now, verify_database
from bot.outreach.cycle import run_cycle
from bot.store import tables
from tests.conftest import bypass_triggers, require_cjk_font

AS_OF = "2026-06-10"
NOON = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
CUSTOMERS = """id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact
C1,上海恒通机电设备有限公司,91310000X,cooperative,CN,Asia/Shanghai,zh-CN,finance@hengtong.example.cn,+8613800138000,上海市浦东新区世纪大道1号,am@example.com,30,500000.00,manufacturing,50000000,0,false
"""
INVOICES = """number,customer_id,currency,amount,issue_date,due_date,contract_ref,status
INV-1,C1,CNY,100000.00,2026-04-01,2026-06-07,,open
INV-2,C1,CNY,5000.00,2026-05-01,2026-06-07,,open
"""
PAYMENTS = """reference,invoice_number,amount,paid_on
P-1,INV-2,1000.00,2026-06-08
"""


def dunbot(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "250"},
    )


@pytest.fixture
def cycled(tmp_path: Path) -> Path:
    """`dunbot init` (trial certificate), an import and a cycle: one signed checkpoint, witnessed."""
    require_cjk_font()
    assert dunbot(tmp_path, "init").returncode == 0
    config = tmp_path / "dunbot.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('window = "08:00-20:00"', 'window = "00:00-23:59"'),
        encoding="utf-8",
    )
    for entity, text in (("customers", CUSTOMERS), ("invoices", INVOICES), ("payments", PAYMENTS)):
        (tmp_path / f"{entity}.csv").write_text(text, encoding="utf-8")
        imported = dunbot(tmp_path, "import", entity, f"{entity}.csv")
        assert imported.returncode == 0, imported.stderr
    cycle = dunbot(tmp_path, "cycle", "--as-of", AS_OF)
    assert cycle.returncode == 0, cycle.stderr
    return tmp_path


def _flat(text: str) -> str:
    """Output as one line (the terminal wraps long messages)."""
    return " ".join(text.split())


def _rewrite_payment(database: Path) -> None:
    """The insider's forgery: the payment's amount changed and every hash after it recomputed, the
    checkpoints and Merkle nodes deleted, every trigger dropped first."""
    with sqlite3.connect(database) as connection:
        for table in ("evidence_event", "checkpoint"):
            for operation in ("update", "delete"):
                connection.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
        rows = connection.execute("SELECT seq, kind, body FROM evidence_event ORDER BY seq").fetchall()
        assert any(kind == "payment" and "1000.00" in body for _, kind, body in rows)
        previous = bytes(32)
        for seq, kind, body in rows:
            document = json.loads(body)
            if kind == "payment":
                document = json.loads(body.replace("1000.00", "4000.00"))
            new_body = canonical_bytes(document)
            content = hashlib.sha256(new_body).digest()
            previous = chain_hash(previous, content)
            connection.execute(
                "UPDATE evidence_event SET body = ?, content_hash = ?, chain_hash = ?, leaf_hash = ? WHERE seq = ?",
                (
                    new_body.decode(),
                    content.hex(),
                    previous.hex(),
                    hashlib.sha256(b"\x00" + new_body).hexdigest(),
                    seq,
                ),
            )
        connection.execute("DELETE FROM checkpoint")
        connection.execute("DELETE FROM merkle_node")


def _count(database: Path, table: str) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_finding_1_a_rewritten_log_fails_against_the_witness_and_is_never_signed(cycled: Path) -> None:
    witness = cycled / "witness"
    genuine = dunbot(cycled, "evidence", "verify", "--db")
    assert genuine.returncode == 0, genuine.stdout + genuine.stderr
    assert f"witness {witness}" in genuine.stdout and "the log extends each" in genuine.stdout
    assert sorted(p.name for p in witness.glob("00000001-*")) == [
        f"00000001-{_count(cycled / 'dunbot.db', 'evidence_event')}.{suffix}"
        for suffix in ("p7s", "pem", "statement.txt")
    ]

    _rewrite_payment(cycled / "dunbot.db")
    events = _count(cycled / "dunbot.db", "evidence_event")
    forged = dunbot(cycled, "evidence", "verify", "--db")
    assert forged.returncode == 1, forged.stdout
    said = _flat(forged.stderr)
    assert f"checkpoint 1 was witnessed ({witness}/00000001-" in said and "missing in the database" in said
    assert "not a consistent extension of witnessed checkpoint 1" in said

    export = dunbot(cycled, "evidence", "export", "--customer", "C1", "--out", "forged.zip")
    assert export.returncode == 1 and "Traceback" not in export.stderr
    assert "witnessed checkpoint 1" in _flat(export.stderr) and "nothing is signed" in _flat(export.stderr)
    assert not (cycled / "forged.zip").exists()
    assert _count(cycled / "dunbot.db", "checkpoint") == 0  # nothing signed over the forged log
    assert _count(cycled / "dunbot.db", "evidence_event") == events  # and no export event recorded

    # The next cycle's checkpoint is refused too, so the forgery never reaches the witness.
    again = dunbot(cycled, "cycle", "--as-of", "2026-06-11")
    assert again.returncode == 0, again.stderr
    assert _count(cycled / "dunbot.db", "checkpoint") == 0
    assert sorted(p.name.split(".")[0] for p in witness.glob("*.statement.txt")) == [f"00000001-{events}"]


def test_finding_2_events_after_the_newest_checkpoint_are_reported(cycled: Path) -> None:
    events = _count(cycled / "dunbot.db", "evidence_event")
    opened = dunbot(cycled, "dispute", "open", "INV-1", "--reason", "goods damaged")
    assert opened.returncode == 0, opened.stderr
    verified = dunbot(cycled, "evidence", "verify", "--db", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    after = json.loads(verified.stdout)["after_newest_checkpoint"]
    assert after["events"] == 1 and after["first_seq"] == after["last_seq"] == events + 1
    assert after["oldest_at"] is not None
    text = dunbot(cycled, "evidence", "verify", "--db")
    assert f"1 event(s) after the newest checkpoint (#{events + 1}–#{events + 1}" in _flat(text.stdout)


# --- through the library, on SQLite and PostgreSQL ------------------------------------------------


def _settings(folder: Path, certificate: Any, **signing: Any) -> Settings:
    (folder / "witness").mkdir(exist_ok=True)  # a configured witness folder must exist (a mount)
    return Settings(
        email=EmailSettings(transport="file", drop_dir="outbox/email", from_address="ar@xinghe.com.cn"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts", witness_dir="witness"),
        compliance=ComplianceSettings(window="00:00-23:59"),
        signing=SigningSettings(pkcs12=str(certificate.pkcs12), **signing),
        base_dir=folder,
    )


def _seed(engine: Engine) -> None:
    """One customer, one invoice three days overdue (an SMS, no signed notice)."""
    with Session(engine) as session:
        session.add(
            tables.Customer(
                id="C1",
                name="杭州远航贸易有限公司",
                tier_override="cooperative",
                country="CN",
                timezone="Asia/Shanghai",
                language="zh-CN",
                email="ap@yuanhang.com.cn",
                phone="+8613800138000",
                address="杭州市西湖区文三路 1 号",
            )
        )
        session.flush()
        session.add(
            tables.Invoice(
                number="I-3",
                customer_id="C1",
                currency="CNY",
                amount=Decimal("20000.00"),
                issue_date=date(2026, 4, 1),
                due_date=date(2026, 6, 7),
            )
        )
        session.commit()


def _append(engine: Engine, at: datetime, count: int = 1) -> None:
    with Session(engine) as session:
        events = [NewEvent(kind=EventKind.ALERT, actor="test", data={"n": n}) for n in range(count)]
        append_events(session, at, events)
        session.commit()


def _cycle(engine: Engine, settings: Settings, now: datetime) -> None:
    senders: dict[Channel, Any] = {
        Channel.EMAIL: FileSender(Channel.EMAIL, settings.path("outbox/email")),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
    }
    asyncio.run(
        run_cycle(engine, settings, date(2026, 6, 10), clock=lambda: now, exclusive=True, senders=senders)
    )


def _items(engine: Engine, settings: Settings, witness: Path | None = None) -> dict[str, str]:
    """Each failed item with its messages (an item may fail in several ways)."""
    report = verify_database(engine, settings.path("artifacts"), witness=witness)
    items: dict[str, str] = {}
    for problem in report.all_problems:
        items[problem.item] = f"{items.get(problem.item, '')} {problem.message}".strip()
    return items


def test_finding_2_removing_what_a_cycle_recorded_before_its_checkpoint_failed_is_caught(
    engine: Engine, tmp_path: Path, trial_certificate: Any
) -> None:
    settings = _settings(tmp_path, trial_certificate)
    _seed(engine)
    _append(engine, NOON - timedelta(hours=2), 3)
    first = checkpoint_now(engine, settings, NOON - timedelta(hours=1), "hourly")
    assert first is not None
    # The cycle's checkpoint cannot be signed: the timestamp authority does not answer.
    silent = _settings(tmp_path, trial_certificate, tsa_url="http://127.0.0.1:9/tsa", timeout_seconds=2)
    _cycle(engine, silent, NOON)
    with engine.connect() as connection:
        cycle = connection.execute(sa.text("SELECT ok, checkpoint_id, messages_sent FROM cycle_run")).one()
        recorded = connection.execute(sa.text("SELECT max(seq) FROM evidence_event")).scalar_one()
    assert tuple(cycle) == (True, None, 1) and recorded > first.tree_size
    unsigned = _items(engine, settings, settings.witness_dir)
    assert "older than the last completed cycle" in unsigned["cycle_run"]  # signed by nothing, and said

    with engine.begin() as connection:  # the insider removes all the cycle recorded
        bypass_triggers(connection)
        connection.execute(sa.text("DELETE FROM evidence_event WHERE seq > :n"), {"n": first.tree_size})
    report = verify_database(engine, settings.path("artifacts"), witness=settings.witness_dir)
    assert not report.ok
    assert [p.item for p in report.all_problems] == ["cycle_run"]
    assert (
        "recorded 1 message outcome(s) but no checkpoint was signed since" in report.all_problems[0].message
    )


def test_finding_3_deleting_the_newest_checkpoint_and_its_events_is_refused_then_caught(
    engine: Engine, tmp_path: Path, trial_certificate: Any
) -> None:
    settings = _settings(tmp_path, trial_certificate)
    _seed(engine)
    _cycle(engine, settings, NOON)
    made = []
    for hour in (1, 2):
        _append(engine, NOON + timedelta(hours=hour, minutes=-5), 2)
        made.append(checkpoint_now(engine, settings, NOON + timedelta(hours=hour), "hourly"))
    with engine.connect() as connection:
        ids = connection.execute(sa.text("SELECT id, tree_size FROM checkpoint ORDER BY id")).all()
    assert [i for i, _ in ids] == [1, 2, 3]  # gapless
    assert len(list(settings.witness_dir.glob("*.statement.txt"))) == 3
    assert _items(engine, settings, settings.witness_dir) == {}
    newest, middle = ids[2], ids[1]

    for statement in (
        f"DELETE FROM checkpoint WHERE id = {newest.id}",
        f"UPDATE checkpoint SET tree_size = tree_size - 2 WHERE id = {newest.id}",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(sa.text(statement))

    with engine.begin() as connection:  # the triggers dropped: a middle checkpoint goes
        bypass_triggers(connection)
        connection.execute(sa.text("DELETE FROM checkpoint WHERE id = :id"), {"id": middle.id})
    gap = _items(engine, settings)  # the database alone: its ids have a hole
    assert list(gap) == ["checkpoint ids"] and "checkpoint id(s) 2 are missing" in gap["checkpoint ids"]
    assert "checkpoint 2 was witnessed" in _items(engine, settings, settings.witness_dir)["witness:2"]

    with engine.begin() as connection:  # then the newest checkpoint and the events only it covers
        bypass_triggers(connection)
        connection.execute(sa.text("DELETE FROM checkpoint WHERE id = :id"), {"id": newest.id})
        connection.execute(sa.text("DELETE FROM evidence_event WHERE seq > :n"), {"n": middle.tree_size})
    problems = _items(engine, settings, settings.witness_dir)
    assert "checkpoint 3 was witnessed" in problems["witness:3"]
    assert "missing in the database" in problems["witness:3"]
    assert (
        f"the log has {middle.tree_size} events but witnessed checkpoint 3 covers {newest.tree_size}"
        in (problems["witness:3"])
    )
    assert "checkpoint ids" not in _items(engine, settings)  # no hole left: only the witness knows
