"""Hard bounces and numbers the carrier refuses (issue 20 item 7), on SQLite and PostgreSQL: the
message is undelivered, a collector gets one task to fix the contact, and no further message on that
channel goes to the address until an import changes it; then the waiting message goes out."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.channels.file import FileSender
from bot.channels.twilio import TwilioSmsSender
from bot.cli.views.message import print_message
from bot.config import (
    ComplianceSettings,
    EmailSettings,
    EvidenceSettings,
    Settings,
    SigningSettings,
    SmsSettings,
)
from bot.domain.ledger import Channel
from bot.domain.waiting import WaitReason
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.log import append_events
from bot.evidence.verify import verify_log
from bot.ingest.schema import ImportDefaults
from bot.ingest.service import import_file
from bot.outreach.contacts import record_undeliverable
from bot.outreach.cycle import next_send_at, queued_messages, run_cycle
from bot.outreach.message_detail import show_message
from bot.outreach.outbox import Outbox, Outcome
from bot.outreach.planning import record_plan
from bot.store import tables
from tests.integration.test_twilio_callbacks import Running
from tests.support.twilio_server import ACCOUNT_SID, AUTH_TOKEN

DEFAULTS = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")
CUSTOMERS_HEADER = (
    "id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,"
    "payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact"
)


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


@pytest.fixture
def settings(tmp_path: Path, trial_certificate: Any) -> Settings:
    return Settings(
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        email=EmailSettings(transport="file", drop_dir="outbox/email", from_address="ar@xinghe.com.cn"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        compliance=ComplianceSettings(window="08:00-20:00"),
        base_dir=tmp_path,
    )


def _seed(engine: Engine, due: date) -> None:
    with Session(engine) as session:
        session.add(
            tables.Customer(
                id="C1",
                name="杭州远航贸易有限公司",
                tier_override="cooperative",
                country="CN",
                timezone="Asia/Shanghai",
                language="zh-CN",
                email="AP@yuanhang.com.cn",
                phone="+8613800138000",
                address="杭州市西湖区文三路 1 号",
                account_manager="li.wei@xinghe.com.cn",
            )
        )
        session.flush()
        session.add(
            tables.Invoice(
                number="I-1",
                customer_id="C1",
                currency="CNY",
                amount=Decimal("5000.00"),
                issue_date=date(2026, 5, 1),
                due_date=due,
            )
        )
        session.commit()


def _import_contact(engine: Engine, tmp_path: Path, *, email: str, phone: str, now: datetime) -> None:
    """The customer's corrected contact, imported as a collector would."""
    path = tmp_path / "customers.csv"
    path.write_text(
        f"{CUSTOMERS_HEADER}\n"
        f"C1,杭州远航贸易有限公司,,cooperative,CN,Asia/Shanghai,zh-CN,{email},{phone},"
        "杭州市西湖区文三路 1 号,li.wei@xinghe.com.cn,30,,,,0,false\n",
        encoding="utf-8",
    )
    import_file(engine, "customers", path, defaults=DEFAULTS, now=now)


def _file_senders(settings: Settings) -> dict[Channel, Any]:
    return {
        Channel.EMAIL: FileSender(
            Channel.EMAIL, settings.path("outbox/email"), from_address="ar@xinghe.com.cn"
        ),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
    }


def _cycle(engine: Engine, settings: Settings, day: date, senders: dict[Channel, Any]) -> None:
    now = _noon(day)
    asyncio.run(run_cycle(engine, settings, day, clock=lambda: now, exclusive=True, senders=senders))


def _messages(engine: Engine) -> dict[str, tuple[int, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, step, channel, state, recipient FROM message")).all()
    return {f"{r.step}/{r.channel}": (r.id, r.state, r.recipient) for r in rows}


def _contact_tasks(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT assignee, title, dedupe_key FROM task WHERE dedupe_key LIKE 'contact:%'")
        ).all()
    return [(r.assignee, r.title, r.dedupe_key) for r in rows]


def _undeliverable(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT channel, address, customer_id FROM undeliverable_contact ORDER BY channel")
        ).all()
    return [(r.channel, r.address, r.customer_id) for r in rows]


def _bounce(engine: Engine, message_id: int | None, *, hard: bool, now: datetime) -> None:
    """What the reply handling does with an RFC 3464 DSN for ``message_id``."""
    with Session(engine) as session:
        events = record_undeliverable(
            session.connection(),
            channel="email",
            address="ap@yuanhang.com.cn",
            customer_id="C1",
            message_id=message_id,
            reason="5.1.1 <ap@yuanhang.com.cn>: Recipient address rejected: User unknown",
            hard=hard,
            now=now,
        )
        append_events(session, now, events)
        session.commit()


def test_a_hard_bounce_holds_the_next_email_until_the_address_changes(
    engine: Engine, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A DSN 5.1.1 marks the e-mail undelivered, blocks the address (case-insensitively) and raises
    one task however often it bounces; the next e-mail step waits, planned and unclaimed, with the
    reason in `message show`, not due and not waking the daemon; importing a new address sends it."""
    first, second = date(2026, 6, 10), date(2026, 6, 17)  # -7 days, then the due date (Wednesdays)
    _seed(engine, due=second)
    senders = _file_senders(settings)
    _cycle(engine, settings, first, senders)
    reminder, state, _ = _messages(engine)["pre_due_reminder/email"]
    assert state == "sent"

    _bounce(engine, reminder, hard=True, now=_noon(first))
    _bounce(engine, reminder, hard=True, now=_noon(first))  # the same DSN fetched twice
    assert _messages(engine)["pre_due_reminder/email"][1] == "undelivered"
    assert _undeliverable(engine) == [("email", "ap@yuanhang.com.cn", "C1")]
    tasks = _contact_tasks(engine)
    assert len(tasks) == 1
    assert tasks[0][0] == "li.wei@xinghe.com.cn" and "ap@yuanhang.com.cn bounced hard" in tasks[0][1]

    _cycle(engine, settings, second, senders)
    statement, state, _ = _messages(engine)["due_statement/email"]
    assert state == "planned"  # not claimed, not cancelled: it waits for a new address
    assert len(list(settings.path("outbox/email").glob("*.eml"))) == 1  # only the reminder went
    detail = show_message(engine, settings, statement, _noon(second))
    assert detail.waiting is not None and detail.waiting.goes_at is None
    assert [w.reason for w in detail.waiting.waits] == [WaitReason.UNDELIVERABLE]
    assert "ap@yuanhang.com.cn is undeliverable" in detail.waiting.waits[0].detail
    print_message(detail)  # as `dunbot message show` prints it
    printed = " ".join(capsys.readouterr().out.split())
    assert "- undeliverable: ap@yuanhang.com.cn is undeliverable since 2026-06-10" in printed
    assert "it goes with the first cycle after the customer's contact changes" in printed
    assert queued_messages(engine, second, _noon(second)).due == 0
    assert next_send_at(engine, second, _noon(second)) is None  # the daemon does not spin on it
    assert len(_contact_tasks(engine)) == 1

    _import_contact(
        engine, tmp_path, email="finance@yuanhang.com.cn", phone="+8613800138000", now=_noon(second)
    )
    _cycle(engine, settings, second, senders)
    _, state, recipient = _messages(engine)["due_statement/email"]
    assert (state, recipient) == ("sent", "finance@yuanhang.com.cn")
    kinds = _kinds(engine)
    assert kinds.count("message_undeliverable") == 1  # the second fetch of the DSN added nothing
    with engine.connect() as connection:
        assert verify_log(connection, ArtifactStore(settings.path("artifacts"))).ok


def test_a_soft_bounce_raises_the_task_but_blocks_nothing(engine: Engine, settings: Settings) -> None:
    """A failure that is not hard (4.x.x) marks the message undelivered and asks a collector to check
    the address, but the next e-mail step still goes to it."""
    first, second = date(2026, 6, 10), date(2026, 6, 17)
    _seed(engine, due=second)
    senders = _file_senders(settings)
    _cycle(engine, settings, first, senders)
    reminder = _messages(engine)["pre_due_reminder/email"][0]
    _bounce(engine, reminder, hard=False, now=_noon(first))
    assert _messages(engine)["pre_due_reminder/email"][1] == "undelivered"
    assert _undeliverable(engine) == []
    assert len(_contact_tasks(engine)) == 1
    _cycle(engine, settings, second, senders)
    assert _messages(engine)["due_statement/email"][1] == "sent"


def _twilio(server: Any) -> dict[Channel, Any]:
    return {
        Channel.SMS: TwilioSmsSender(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            from_number="+15005550006",
            messaging_service_sid=None,
            status_callback_url=None,
            api_base_url=server.url,
        )
    }


def _kinds(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text("SELECT kind FROM evidence_event ORDER BY seq")).scalars())


def test_an_sms_the_carrier_refuses_blocks_the_number_until_it_changes(
    engine: Engine, settings: Settings, tmp_path: Path, twilio_server: Any
) -> None:
    """The SMS goes through the real twilio client; Twilio's signed status callback says undelivered
    with 30005 (unknown handset): the number is blocked and one task raised. The next SMS step waits
    (the task-channel step beside it goes on), and after an import with a new number it is sent."""
    first, second = date(2026, 6, 10), date(2026, 6, 15)  # d = 3 (overdue_sms), then d = 8 (call)
    _seed(engine, due=date(2026, 6, 7))
    senders = _twilio(twilio_server)
    _cycle(engine, settings, first, senders)
    assert _messages(engine)["overdue_sms/sms"][1] == "sent"
    sid = twilio_server.accepted[0].sid

    store = ArtifactStore(tmp_path / "callbacks")
    server = Running(engine, store, public_url=None)
    try:
        form = {
            "MessageSid": sid,
            "MessageStatus": "undelivered",
            "AccountSid": ACCOUNT_SID,
            "To": "+8613800138000",
            "ErrorCode": "30005",
            "ErrorMessage": "Unknown destination handset",
        }
        assert server.post(form) == 204
        assert server.post(form) == 204  # Twilio retried the callback
    finally:
        server.close()
    assert _messages(engine)["overdue_sms/sms"][1] == "undelivered"
    assert _undeliverable(engine) == [("sms", "+8613800138000", "C1")]
    assert len(_contact_tasks(engine)) == 1
    undeliverable = [json.loads(b) for b in _bodies(engine, "message_undeliverable")]
    assert len(undeliverable) == 1 and undeliverable[0]["data"]["hard"] is True

    _cycle(engine, settings, second, senders)
    messages = _messages(engine)
    assert messages["collection_call/task"][1] == "sent"
    assert messages["collection_call/sms"][1] == "planned"
    assert len(twilio_server.requests) == 1

    _import_contact(engine, tmp_path, email="ap@yuanhang.com.cn", phone="+8613900139000", now=_noon(second))
    _cycle(engine, settings, second, senders)
    assert _messages(engine)["collection_call/sms"][1:] == ("sent", "+8613900139000")
    assert [r.form["To"] for r in twilio_server.accepted] == ["+8613800138000", "+8613900139000"]


def _bodies(engine: Engine, kind: str) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text("SELECT body FROM evidence_event WHERE kind = :kind ORDER BY seq"), {"kind": kind}
            ).scalars()
        )


def test_a_bounce_between_claim_and_send_holds_the_claimed_message(
    engine: Engine, settings: Settings
) -> None:
    """The address bounces hard (a DSN for an earlier e-mail) after a worker claimed the next one: the
    re-check before sending puts it back, planned and unclaimed, sends nothing and leaves one task."""
    day = date(2026, 6, 10)
    _seed(engine, due=date(2026, 6, 17))
    clock = _noon(day)
    record_plan(engine, settings, day, clock)
    outbox = Outbox(
        engine, settings, _file_senders(settings), ArtifactStore(settings.path("artifacts")), worker="w1",
        clock=lambda: clock,
    )  # fmt: skip
    try:
        claims = outbox.claim(day, 10)
        assert len(claims) == 1
        _bounce(engine, None, hard=True, now=clock)
        assert asyncio.run(outbox.deliver(*claims[0], day))[2] is Outcome.HELD
        assert outbox.claim(day, 10) == []
    finally:
        outbox.close()
    assert _messages(engine)["pre_due_reminder/email"][1] == "planned"
    assert not settings.path("outbox/email").exists()
    assert len(_contact_tasks(engine)) == 1
