"""The outbox against a real database and real drop folders: sent once, re-checked, recovered."""

from __future__ import annotations

import asyncio
import email
import hashlib
import json
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
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.verify import verify_log
from bot.outreach.cycle import QueuedMessages, queued_messages, run_cycle
from bot.outreach.outbox import Outbox, Outcome
from bot.outreach.planning import preview_plan, record_plan
from bot.render.verification import verify_notice_bytes
from bot.store import tables
from bot.store.engine import make_engine
from bot.store.migrate import upgrade

AS_OF = date(2026, 6, 10)  # a Wednesday, a working day in China
NOON_SHANGHAI = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)


class Clock:
    """An injected clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


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


def _seed(engine: Engine, **customer: object) -> None:
    fields: dict[str, object] = {
        "id": "C1",
        "name": "杭州远航贸易有限公司",
        "tier_override": "cooperative",
        "country": "CN",
        "timezone": "Asia/Shanghai",
        "language": "zh-CN",
        "email": "ap@yuanhang.com.cn",
        "phone": "+8613800138000",
        "address": "杭州市西湖区文三路 1 号",
    }
    fields.update(customer)
    with Session(engine) as session:
        session.add(tables.Customer(**fields))  # type: ignore[arg-type]
        session.flush()
        for number, due in (("I-0", date(2026, 6, 10)), ("I-3", date(2026, 6, 7))):
            session.add(
                tables.Invoice(
                    number=number,
                    customer_id="C1",
                    currency="CNY",
                    amount=Decimal("5000.00"),
                    issue_date=date(2026, 5, 1),
                    due_date=due,
                )
            )
        session.commit()


def _senders(settings: Settings) -> dict[Channel, FileSender]:
    return {
        Channel.EMAIL: FileSender(
            Channel.EMAIL, settings.path("outbox/email"), from_address="ar@xinghe.com.cn"
        ),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
    }


def _cycle(engine: Engine, settings: Settings, clock: Clock) -> object:
    return asyncio.run(
        run_cycle(engine, settings, AS_OF, clock=clock, exclusive=True, senders=dict(_senders(settings)))
    )


def _messages(engine: Engine) -> dict[str, tuple[str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT step, channel, state, attempts FROM message")).all()
    return {f"{r.step}/{r.channel}": (r.state, r.attempts) for r in rows}


def _bodies(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [
            json.loads(r[0])
            for r in connection.execute(sa.text("SELECT body FROM evidence_event ORDER BY seq"))
        ]


def _kinds(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [r[0] for r in connection.execute(sa.text("SELECT kind FROM evidence_event ORDER BY seq"))]


def test_a_cycle_on_an_in_memory_database_records_its_turns(settings: Settings) -> None:
    """Each thread gets its own in-memory SQLite database: the turns run on the loop's thread there."""
    engine = make_engine("sqlite://")
    upgrade(engine)
    try:
        _seed(engine)
        _cycle(engine, settings, Clock(NOON_SHANGHAI))
        assert _messages(engine) == {"due_statement/email": ("sent", 1), "overdue_sms/sms": ("sent", 1)}
        assert _kinds(engine).count("message_sent") == 2
    finally:
        engine.dispose()


def test_a_cycle_sends_each_message_once(engine: Engine, settings: Settings) -> None:
    _seed(engine)
    clock = Clock(NOON_SHANGHAI)
    _cycle(engine, settings, clock)
    assert _messages(engine) == {"due_statement/email": ("sent", 1), "overdue_sms/sms": ("sent", 1)}
    emails = list(settings.path("outbox/email").iterdir())
    sms = list(settings.path("outbox/sms").iterdir())
    assert len(emails) == 1 and len(sms) == 1
    raw = emails[0].read_bytes()
    assert b"Message-ID: <dunbot." in raw and b"X-Dunbot-Invoices: I-0" in raw
    assert "I-3" in json.loads(sms[0].read_text(encoding="utf-8"))["body"]

    clock.now += timedelta(hours=2)
    _cycle(engine, settings, clock)  # the same day again: nothing new, nothing twice
    assert len(list(settings.path("outbox/email").iterdir())) == 1
    assert len(list(settings.path("outbox/sms").iterdir())) == 1
    assert _kinds(engine).count("message_sent") == 2

    with engine.connect() as connection:
        body = json.loads(
            connection.execute(
                sa.text("SELECT body FROM evidence_event WHERE kind = 'message_sent' LIMIT 1")
            ).scalar_one()
        )
        report = verify_log(connection, ArtifactStore(settings.path("artifacts")))
    assert report.ok, report.problems
    assert report.artifacts_checked == 3  # the e-mail, the SMS request and the signed notice
    assert set(body["data"]["artifacts"]) <= {"message.eml", "message.json"}
    notice_events = [b for b in _bodies(engine) if b["kind"] == "notice_rendered"]
    assert len(notice_events) == 1 and notice_events[0]["data"]["step"] == "due_statement"
    sent = [
        b for b in _bodies(engine) if b["kind"] == "message_sent" and b["data"]["step"] == "due_statement"
    ]
    assert sent[0]["data"]["notice_sha256"] == notice_events[0]["data"]["notice_sha256"]
    attached = email.message_from_bytes(raw).get_payload()[-1].get_payload(decode=True)
    assert hashlib.sha256(attached).hexdigest() == notice_events[0]["data"]["notice_sha256"]


def test_payment_after_planning_cancels_the_message(engine: Engine, settings: Settings) -> None:
    _seed(engine)
    clock = Clock(NOON_SHANGHAI)
    record_plan(engine, settings, AS_OF, clock())
    with Session(engine) as session:
        session.add(
            tables.Payment(reference="P-1", invoice_number="I-3", amount=Decimal("5000.00"), paid_on=AS_OF)
        )
        session.commit()
    _cycle(engine, settings, clock)
    assert _messages(engine) == {"due_statement/email": ("sent", 1), "overdue_sms/sms": ("cancelled", 0)}
    assert not settings.path("outbox/sms").exists()
    assert "message_cancelled" in _kinds(engine)


def test_outside_the_contact_window_the_message_waits(engine: Engine, settings: Settings) -> None:
    _seed(engine)
    late_evening = datetime(2026, 6, 10, 13, 30, tzinfo=UTC)  # 21:30 in Shanghai
    _cycle(engine, settings, Clock(late_evening))
    assert _messages(engine) == {"due_statement/email": ("planned", 0), "overdue_sms/sms": ("planned", 0)}
    with engine.connect() as connection:
        waits = set(connection.execute(sa.text("SELECT next_attempt_at FROM message")).scalars())
    assert {str(w)[:16] for w in waits} == {"2026-06-11 00:00"}  # 08:00 next morning in Shanghai
    _cycle(engine, settings, Clock(datetime(2026, 6, 11, 0, 5, tzinfo=UTC)))
    assert _messages(engine) == {"due_statement/email": ("sent", 1), "overdue_sms/sms": ("sent", 1)}


def test_a_recipient_still_on_the_day_before_waits_for_its_own_date(
    engine: Engine, settings: Settings
) -> None:
    _seed(engine, country="US", timezone="America/Los_Angeles", language="en")
    _cycle(engine, settings, Clock(datetime(2026, 6, 10, 1, 0, tzinfo=UTC)))  # 18:00 Tuesday in Los Angeles
    assert _messages(engine) == {"due_statement/email": ("planned", 0), "overdue_sms/sms": ("planned", 0)}
    with engine.connect() as connection:
        waits = set(connection.execute(sa.text("SELECT next_attempt_at FROM message")).scalars())
    assert {str(w)[:16] for w in waits} == {"2026-06-10 15:00"}  # 08:00 on Wednesday there
    # Down through Wednesday's window: Thursday 08:30 there, the messages go, one day late.
    _cycle(engine, settings, Clock(datetime(2026, 6, 11, 15, 30, tzinfo=UTC)))
    assert _messages(engine) == {"due_statement/email": ("sent", 1), "overdue_sms/sms": ("sent", 1)}
    sent = [b["data"] for b in _bodies(engine) if b["kind"] == "message_sent"]
    assert [(d["business_date"], d["recipient_date"], d["days_late"]) for d in sent] == [
        ("2026-06-10", "2026-06-11", 1)
    ] * 2


def test_what_waits_in_the_outbox_is_reported_for_a_dry_run(engine: Engine, settings: Settings) -> None:
    _seed(engine)
    assert queued_messages(engine, AS_OF, NOON_SHANGHAI) == QueuedMessages(due=0, held=0, next_at=None)
    _cycle(engine, settings, Clock(datetime(2026, 6, 10, 13, 30, tzinfo=UTC)))  # 21:30: both wait
    morning = datetime(2026, 6, 11, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai, when the window opens
    assert queued_messages(engine, AS_OF, morning - timedelta(minutes=1)) == QueuedMessages(
        due=0, held=2, next_at=morning
    )
    assert queued_messages(engine, AS_OF, morning) == QueuedMessages(due=2, held=0, next_at=None)
    assert queued_messages(engine, AS_OF - timedelta(days=1), morning).due == 0  # planned for a later day
    # a cycle that claimed them and died: once the lease runs out they are due again
    outbox = Outbox(
        engine, settings, {}, ArtifactStore(settings.path("artifacts")), worker="gone", clock=Clock(morning)
    )
    try:
        assert len(outbox.claim(AS_OF, 10)) == 2
    finally:
        outbox.close()
    assert queued_messages(engine, AS_OF, morning) == QueuedMessages(due=0, held=0, next_at=None)
    assert queued_messages(engine, AS_OF, morning + outbox.lease + timedelta(seconds=1)).due == 2
    _cycle(engine, settings, Clock(morning))
    assert queued_messages(engine, AS_OF, morning) == QueuedMessages(due=0, held=0, next_at=None)


def test_a_crash_while_sending_becomes_unknown_with_a_review_task(engine: Engine, settings: Settings) -> None:
    _seed(engine)
    clock = Clock(NOON_SHANGHAI)
    record_plan(engine, settings, AS_OF, clock())
    outbox = Outbox(
        engine,
        settings,
        _senders(settings),
        ArtifactStore(settings.path("artifacts")),
        worker="w1",
        clock=clock,
    )
    claims = outbox.claim(AS_OF, 10)
    assert len(claims) == 2
    # The process dies after committing `sending` for the SMS, before the provider answered.
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE message SET state = 'sending', attempts = 1 WHERE channel = 'sms'")
        )
    released, unknown = outbox.recover(exclusive=True)
    assert (released, unknown) == (1, 1)
    _cycle(engine, settings, clock)
    assert _messages(engine) == {"due_statement/email": ("sent", 1), "overdue_sms/sms": ("unknown", 1)}
    assert not settings.path("outbox/sms").exists()  # never resent automatically
    with engine.connect() as connection:
        tasks = connection.execute(sa.text("SELECT kind, status, title FROM task")).all()
    assert [(t.kind, t.status) for t in tasks] == [("review", "open")]
    assert "message_unknown" in _kinds(engine)


def test_a_worker_that_lost_its_lease_cannot_send(engine: Engine, settings: Settings) -> None:
    _seed(engine)
    clock = Clock(NOON_SHANGHAI)
    record_plan(engine, settings, AS_OF, clock())
    store = ArtifactStore(settings.path("artifacts"))
    slow = Outbox(engine, settings, _senders(settings), store, worker="slow", clock=clock)
    fast = Outbox(engine, settings, _senders(settings), store, worker="fast", clock=clock)
    stale = slow.claim(AS_OF, 10)
    clock.now += timedelta(seconds=settings.outreach.lease_seconds + 1)
    assert fast.recover(exclusive=False) == (2, 0)
    fresh = fast.claim(AS_OF, 10)
    assert [f for _, f in fresh] == [f + 1 for _, f in stale]
    outcomes = asyncio.run(_process_all(slow, stale)) + asyncio.run(_process_all(fast, fresh))
    assert [o for _, _, o in outcomes] == [Outcome.LOST, Outcome.LOST, Outcome.SENT, Outcome.SENT]
    assert len(list(settings.path("outbox/email").iterdir())) == 1


async def _process_all(outbox: Outbox, claims: list[tuple[int, int]]) -> list[tuple[str, str, Outcome]]:
    return [await outbox.deliver(message_id, fence, AS_OF) for message_id, fence in claims]


def test_a_banned_phrase_blocks_the_send_and_raises_a_task(engine: Engine, settings: Settings) -> None:
    _seed(engine, name="Police Supply Ltd", language="en")
    _cycle(engine, settings, Clock(NOON_SHANGHAI))
    # The e-mail names the customer and is blocked; the SMS does not and goes out.
    assert _messages(engine) == {"due_statement/email": ("failed", 0), "overdue_sms/sms": ("sent", 1)}
    with engine.connect() as connection:
        titles = list(connection.execute(sa.text("SELECT title FROM task ORDER BY id")).scalars())
    assert len(titles) == 1 and "banned phrase" in titles[0] and "police" in titles[0]
    assert not settings.path("outbox/email").exists()


def test_opted_out_channel_is_cancelled(engine: Engine, settings: Settings) -> None:
    _seed(engine)
    clock = Clock(NOON_SHANGHAI)
    record_plan(engine, settings, AS_OF, clock())
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE customer SET opted_out = 'sms'"))
    _cycle(engine, settings, clock)
    assert _messages(engine) == {"due_statement/email": ("sent", 1), "overdue_sms/sms": ("cancelled", 0)}


def test_an_invoice_paused_after_planning_cancels_its_message(engine: Engine, settings: Settings) -> None:
    # `dunbot pause` between planning and sending: the fresh re-check cancels (rule 6).
    _seed(engine)
    clock = Clock(NOON_SHANGHAI)
    record_plan(engine, settings, AS_OF, clock())
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE invoice SET paused_until = :until, pause_reason = 'remittance' WHERE number = 'I-3'"
            ),
            {"until": AS_OF},
        )
    _cycle(engine, settings, clock)
    assert _messages(engine) == {"due_statement/email": ("sent", 1), "overdue_sms/sms": ("cancelled", 0)}
    assert "paused" in _last_error(engine, "overdue_sms")


def test_a_customer_paused_after_planning_gets_nothing(engine: Engine, settings: Settings) -> None:
    _seed(engine)
    clock = Clock(NOON_SHANGHAI)
    record_plan(engine, settings, AS_OF, clock())
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE customer SET paused_until = :until, pause_reason = 'talks'"),
            {"until": AS_OF + timedelta(days=3)},
        )
    _cycle(engine, settings, clock)
    assert _messages(engine) == {"due_statement/email": ("cancelled", 0), "overdue_sms/sms": ("cancelled", 0)}
    assert "paused until 2026-06-13" in _last_error(engine, "due_statement")
    assert not settings.path("outbox/email").exists()


def _last_error(engine: Engine, step: str) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                sa.text("SELECT last_error FROM message WHERE step = :step"), {"step": step}
            ).scalar_one()
        )


def _seed_approval_case(engine: Engine) -> int:
    _seed(engine)
    with Session(engine) as session:
        session.add(
            tables.Invoice(
                number="I-60",
                customer_id="C1",
                currency="CNY",
                amount=Decimal("80000.00"),
                issue_date=date(2026, 3, 1),
                due_date=AS_OF - timedelta(days=60),
            )
        )
        session.flush()
        # Its credit_hold notice went out ten days ago: the first demand a legal step needs (issue 16).
        demand_day = AS_OF - timedelta(days=10)
        sent_at = NOON_SHANGHAI - timedelta(days=10)
        session.add(
            tables.StepExecution(
                invoice_number="I-60",
                customer_id="C1",
                tactic="procedural",
                step="credit_hold",
                status="planned",
                business_date=demand_day,
                created_at=sent_at,
                updated_at=sent_at,
            )
        )
        demand = tables.Message(
            customer_id="C1",
            step="credit_hold",
            channel="email",
            business_date=demand_day,
            state="sent",
            sent_at=sent_at,
            created_at=sent_at,
            updated_at=sent_at,
        )
        session.add(demand)
        session.flush()
        assert demand.id is not None
        session.add(tables.MessageInvoice(message_id=demand.id, invoice_number="I-60"))
        session.commit()
    record_plan(engine, Settings(), AS_OF, NOON_SHANGHAI)
    with engine.connect() as connection:
        task = connection.execute(sa.text("SELECT id, step FROM task WHERE kind = 'approval'")).one()
    assert task.step == "payment_order_pack"
    return int(task.id)


def test_an_approved_step_is_sent_by_the_next_cycle(engine: Engine, settings: Settings) -> None:
    from bot.outreach.approval import decide

    task_id = _seed_approval_case(engine)
    result = decide(
        engine,
        settings,
        task_id,
        approve=True,
        reason="",
        actor="user:li",
        now=NOON_SHANGHAI,
        business_date=AS_OF,
    )
    assert result.approved and result.invoices == ("I-60",) and len(result.messages) == 1
    _cycle(engine, settings, Clock(NOON_SHANGHAI))
    with engine.connect() as connection:
        legal = connection.execute(
            sa.text("SELECT kind, assignee, invoices FROM task WHERE kind = 'legal'")
        ).one()
        status = connection.execute(
            sa.text(
                "SELECT status FROM step_execution WHERE invoice_number = 'I-60' AND step = 'payment_order_pack'"
            )
        ).scalar_one()
    assert (legal.kind, legal.assignee, json.loads(legal.invoices)) == ("legal", "legal", ["I-60"])
    assert status == "approved"
    assert _messages(engine)["payment_order_pack/task"] == ("sent", 1)
    assert "approval" in _kinds(engine) and "task_created" in _kinds(engine)
    with pytest.raises(Exception, match="already decided"):
        decide(
            engine,
            settings,
            task_id,
            approve=False,
            reason="x",
            actor="user:li",
            now=NOON_SHANGHAI,
            business_date=AS_OF,
        )


def test_a_rejected_step_is_never_sent(engine: Engine, settings: Settings) -> None:
    from bot.errors import InputError
    from bot.outreach.approval import decide

    task_id = _seed_approval_case(engine)
    with pytest.raises(InputError, match="--reason is required"):
        decide(
            engine,
            settings,
            task_id,
            approve=False,
            reason=" ",
            actor="user:li",
            now=NOON_SHANGHAI,
            business_date=AS_OF,
        )
    decide(
        engine,
        settings,
        task_id,
        approve=False,
        reason="customer in talks",
        actor="user:li",
        now=NOON_SHANGHAI,
        business_date=AS_OF,
    )
    _cycle(engine, settings, Clock(NOON_SHANGHAI))
    assert "payment_order_pack/task" not in _messages(engine)
    record_plan(engine, settings, AS_OF + timedelta(days=1), NOON_SHANGHAI + timedelta(days=1))
    with engine.connect() as connection:
        open_approvals = connection.execute(
            sa.text("SELECT count(*) FROM task WHERE kind='approval' AND status='open'")
        ).scalar_one()
    assert open_approvals == 0
    # Rejected, the invoice is left to the collectors: a manual task, and manual in the plan.
    with engine.connect() as connection:
        manual = connection.execute(sa.text("SELECT invoices, step FROM task WHERE kind = 'manual'")).one()
    assert (json.loads(manual.invoices), manual.step) == (["I-60"], "payment_order_pack")
    later = preview_plan(engine, settings, AS_OF + timedelta(days=1))
    assert [(d.step, d.status.value) for d in later.decisions if d.invoice == "I-60"] == [
        ("payment_order_pack", "manual")
    ]


class RunningClock:
    """Real time, shifted to start at ``start``: waits for retries really pass."""

    def __init__(self, start: datetime) -> None:
        import time

        self.start, self.origin, self.time = start, time.monotonic(), time

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=self.time.monotonic() - self.origin)


def _twilio_settings(settings: Settings, server: object) -> tuple[Settings, dict[Channel, object]]:
    from bot.channels.twilio import TwilioSmsSender
    from bot.config import OutreachSettings
    from tests.support.twilio_server import ACCOUNT_SID, AUTH_TOKEN

    quick = settings.model_copy(
        update={"outreach": OutreachSettings(retry_backoff_seconds=1, max_attempts=3)}
    )
    senders: dict[Channel, object] = dict(_senders(settings))
    senders[Channel.SMS] = TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number="+15005550006",
        messaging_service_sid=None,
        status_callback_url=None,
        api_base_url=server.url,  # type: ignore[attr-defined]
    )
    return quick, senders


def test_twilio_500_then_success_is_sent_once(
    engine: Engine, settings: Settings, twilio_server: object
) -> None:
    quick, senders = _twilio_settings(settings, twilio_server)
    _seed(engine)
    twilio_server.push(("status", 500))  # type: ignore[attr-defined]
    asyncio.run(
        run_cycle(engine, quick, AS_OF, clock=RunningClock(NOON_SHANGHAI), exclusive=True, senders=senders)
    )  # type: ignore[arg-type]
    requests = twilio_server.requests  # type: ignore[attr-defined]
    assert [r.outcome for r in requests] == ["status:500", "accepted"]
    assert requests[0].key == requests[1].key  # the same message, retried with its own key
    assert len(twilio_server.accepted) == 1  # type: ignore[attr-defined]
    assert _messages(engine)["overdue_sms/sms"] == ("sent", 2)
    kinds = _kinds(engine)
    assert kinds.count("message_failed") == 1 and kinds.count("message_sent") == 2


def test_twilio_21610_records_the_opt_out(engine: Engine, settings: Settings, twilio_server: object) -> None:
    quick, senders = _twilio_settings(settings, twilio_server)
    _seed(engine)
    twilio_server.push(("twilio_error", 21610))  # type: ignore[attr-defined]
    asyncio.run(
        run_cycle(engine, quick, AS_OF, clock=RunningClock(NOON_SHANGHAI), exclusive=True, senders=senders)
    )  # type: ignore[arg-type]
    assert _messages(engine)["overdue_sms/sms"] == ("failed", 1)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT opted_out FROM customer")).scalar_one() == "sms"
    assert "opt_out" in _kinds(engine)
    # A later SMS step for the same customer is cancelled, never requested from Twilio.
    with Session(engine) as session:
        session.add(
            tables.Invoice(
                number="I-7",
                customer_id="C1",
                currency="CNY",
                amount=Decimal("100.00"),
                issue_date=date(2026, 5, 1),
                due_date=AS_OF - timedelta(days=7),
            )
        )
        session.commit()
    asyncio.run(
        run_cycle(engine, quick, AS_OF, clock=RunningClock(NOON_SHANGHAI), exclusive=True, senders=senders)
    )  # type: ignore[arg-type]
    assert len(twilio_server.requests) == 1  # type: ignore[attr-defined]


def test_a_letter_is_queued_for_the_mailroom_and_its_tracking_recorded(
    engine: Engine, settings: Settings
) -> None:
    from bot.channels.letter import LetterQueueSender
    from bot.errors import InputError
    from bot.outreach.tasks import finish_task, list_tasks

    _seed(engine)
    with Session(engine) as session:
        session.add(
            tables.Invoice(
                number="I-15",
                customer_id="C1",
                currency="CNY",
                amount=Decimal("20000.00"),
                issue_date=date(2026, 4, 1),
                due_date=AS_OF - timedelta(days=15),
            )
        )
        session.commit()
    senders: dict[Channel, object] = dict(_senders(settings))
    senders[Channel.LETTER] = LetterQueueSender(settings.path("outbox/letters"))
    asyncio.run(
        run_cycle(engine, settings, AS_OF, clock=Clock(NOON_SHANGHAI), exclusive=True, senders=senders)
    )  # type: ignore[arg-type]
    assert _messages(engine)["formal_notice/letter"] == ("sent", 1)
    queue = settings.path("outbox/letters")
    manifest = [
        json.loads(line) for line in (queue / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(manifest) == 1 and manifest[0]["invoices"] == ["I-15"]
    assert "杭州市西湖区" in manifest[0]["recipient"]
    letter = (queue / manifest[0]["file"]).read_bytes()
    assert manifest[0]["file"].endswith(".pdf") and manifest[0]["signed"] is True
    assert verify_notice_bytes(letter, "letter.pdf").ok
    assert hashlib.sha256(letter).hexdigest() == manifest[0]["sha256"]
    # The e-mail of the same step carries the very same signed file.
    (formal,) = [
        email.message_from_bytes(p.read_bytes())
        for p in settings.path("outbox/email").iterdir()
        if b"X-Dunbot-Step: formal_notice" in p.read_bytes()
    ]
    attachments = [part for part in formal.walk() if part.get_content_type() == "application/pdf"]
    assert [a.get_payload(decode=True) for a in attachments] == [letter]
    assert attachments[0].get_filename() == f"{manifest[0]['reference']}.pdf"
    (mailroom,) = [t for t in list_tasks(engine) if t.kind == "letter"]
    assert mailroom.assignee == "mailroom" and manifest[0]["reference"] in mailroom.title
    with pytest.raises(InputError, match="--tracking"):
        finish_task(engine, mailroom.id, "posted", "user:mailroom", NOON_SHANGHAI)
    store = ArtifactStore(settings.path("artifacts"))
    done = finish_task(
        engine,
        mailroom.id,
        "posted",
        "user:mailroom",
        NOON_SHANGHAI,
        tracking="RR123456789CN",
        artifacts=store,
    )
    assert done.outcome == "posted: RR123456789CN"
    with engine.connect() as connection:
        body = connection.execute(
            sa.text("SELECT body FROM evidence_event WHERE kind = 'task_done' ORDER BY seq DESC LIMIT 1")
        ).scalar_one()
    data = json.loads(body)["data"]
    assert data["tracking"] == "RR123456789CN"
    # ...and kept as an artifact the event names: the letter's delivery proof in a pack
    record = json.loads(store.get(data["tracking_sha256"]))
    assert record["tracking"] == "RR123456789CN" and record["task"] == mailroom.id
    assert record["recorded_by"] == "user:mailroom" and manifest[0]["reference"] in record["letter"]


def _smtp_settings(settings: Settings, server: object) -> tuple[Settings, dict[Channel, object]]:
    from bot.channels.smtp import SmtpSender
    from bot.config import OutreachSettings
    from tests.support.smtp_server import PASSWORD, USERNAME

    quick = settings.model_copy(
        update={"outreach": OutreachSettings(retry_backoff_seconds=1, max_attempts=3)}
    )
    senders: dict[Channel, object] = dict(_senders(settings))
    senders[Channel.EMAIL] = SmtpSender(
        host=server.host,  # type: ignore[attr-defined]
        port=server.port,  # type: ignore[attr-defined]
        starttls=True,
        username=USERNAME,
        password=PASSWORD,
        from_address="ar@xinghe.com.cn",
        timeout=5.0,
        tls_context=server.client_context(),  # type: ignore[attr-defined]
    )
    return quick, senders


def _email_cycle(engine: Engine, settings: Settings, senders: dict[Channel, object]) -> None:
    async def cycle() -> None:
        clock = RunningClock(NOON_SHANGHAI)
        try:
            await run_cycle(engine, settings, AS_OF, clock=clock, exclusive=True, senders=senders)  # type: ignore[arg-type]
        finally:
            await senders[Channel.EMAIL].aclose()  # type: ignore[attr-defined]

    asyncio.run(cycle())


def test_smtp_421_then_success_is_sent_once(engine: Engine, settings: Settings, smtp_server: object) -> None:
    quick, senders = _smtp_settings(settings, smtp_server)
    _seed(engine)
    smtp_server.push("421")  # type: ignore[attr-defined]
    _email_cycle(engine, quick, senders)
    assert _messages(engine)["due_statement/email"] == ("sent", 2)
    assert len(smtp_server.received) == 1  # type: ignore[attr-defined]


def test_smtp_550_fails_without_retry(engine: Engine, settings: Settings, smtp_server: object) -> None:
    quick, senders = _smtp_settings(settings, smtp_server)
    _seed(engine)
    smtp_server.push("550")  # type: ignore[attr-defined]
    _email_cycle(engine, quick, senders)
    assert _messages(engine)["due_statement/email"] == ("failed", 1)
    assert smtp_server.received == []  # type: ignore[attr-defined]
    with engine.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT count(*) FROM task WHERE kind = 'review'")).scalar_one() == 1
        )


def test_smtp_dropped_after_data_is_unknown_and_never_resent(
    engine: Engine, settings: Settings, smtp_server: object
) -> None:
    quick, senders = _smtp_settings(settings, smtp_server)
    _seed(engine)
    smtp_server.push("drop_after_data")  # type: ignore[attr-defined]
    _email_cycle(engine, quick, senders)
    _email_cycle(engine, quick, senders)  # and again: still not resent
    assert _messages(engine)["due_statement/email"] == ("unknown", 1)
    assert len(smtp_server.received) == 1  # type: ignore[attr-defined]
    with engine.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT count(*) FROM task WHERE kind = 'review'")).scalar_one() == 1
        )
