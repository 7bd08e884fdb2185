"""Collector work against a real database: tasks, resolving unknown messages, the contact log."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.channels.file import FileSender
from bot.config import EmailSettings, EvidenceSettings, Settings, SigningSettings, SmsSettings
from bot.domain.ledger import Channel
from bot.domain.waiting import WaitExplanation
from bot.errors import InputError
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.evidence.verify import verify_log
from bot.outreach.collector import opt_out, pause, record_promise, set_dispute
from bot.outreach.contact_log import contact_log
from bot.outreach.cycle import run_cycle
from bot.outreach.message_detail import show_message
from bot.outreach.outbox import Outbox
from bot.outreach.planning import record_plan
from bot.outreach.tasks import finish_task, list_tasks
from bot.store import tables

AS_OF = date(2026, 6, 10)
NOON = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)
TOLERANCE = Decimal("1.00")


@pytest.fixture
def settings(tmp_path: Path, trial_certificate: Any) -> Settings:
    return Settings(
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        email=EmailSettings(transport="file", drop_dir="outbox/email"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        base_dir=tmp_path,
    )


@pytest.fixture
def seeded(engine: Engine, settings: Settings) -> Engine:
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
                account_manager="am@xinghe.com.cn",
            )
        )
        session.flush()
        for number, days in (("I-3", 3), ("I-7", 7), ("I-0", 0)):
            session.add(
                tables.Invoice(
                    number=number,
                    customer_id="C1",
                    currency="CNY",
                    amount=Decimal("5000.00"),
                    issue_date=date(2026, 4, 1),
                    due_date=AS_OF - timedelta(days=days),
                )
            )
        session.commit()
    record_plan(engine, settings, AS_OF, NOON)
    # The SMS is found mid-send after a crash: unknown, with a review task.
    outbox = Outbox(
        engine, settings, {}, ArtifactStore(settings.path("artifacts")), worker="w", clock=lambda: NOON
    )
    outbox.claim(AS_OF, 100)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE message SET state = 'sending', attempts = 1 WHERE channel = 'sms'")
        )
    outbox.recover(exclusive=True)
    senders = {
        Channel.EMAIL: FileSender(Channel.EMAIL, settings.path("outbox/email")),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
    }
    asyncio.run(run_cycle(engine, settings, AS_OF, clock=lambda: NOON, exclusive=True, senders=dict(senders)))
    return engine


def _task(engine: Engine, kind: str) -> int:
    return next(t.id for t in list_tasks(engine) if t.kind == kind)


def test_open_tasks_are_listed_and_filtered(seeded: Engine) -> None:
    kinds = sorted(t.kind for t in list_tasks(seeded))
    assert kinds == ["call", "review"]  # collection_call for I-7, the review of the unknown SMS
    call = next(t for t in list_tasks(seeded) if t.kind == "call")
    assert call.invoices == ("I-7",) and call.step == "collection_call"
    assert sorted(t.kind for t in list_tasks(seeded, assignee="collector")) == ["call", "review"]
    assert list_tasks(seeded, assignee="nobody") == []


def test_finishing_a_task_is_recorded_once(seeded: Engine) -> None:
    call = _task(seeded, "call")
    done = finish_task(seeded, call, "called Ms Wang, pays Friday", "user:li", NOON)
    assert done.status == "done" and done.note == "called Ms Wang, pays Friday"
    assert call not in [t.id for t in list_tasks(seeded)]
    assert call in [t.id for t in list_tasks(seeded, include_done=True)]
    with pytest.raises(InputError, match="already done"):
        finish_task(seeded, call, "again", "user:li", NOON)
    with pytest.raises(InputError, match="no task 999"):
        finish_task(seeded, 999, "x", "user:li", NOON)
    with pytest.raises(InputError, match="--note is required"):
        finish_task(seeded, _task(seeded, "review"), "  ", "user:li", NOON)
    kinds = [e.kind for e in contact_log(seeded, customer="C1")]
    assert kinds.count("task_done") == 1


def test_resolving_an_unknown_message(seeded: Engine, settings: Settings) -> None:
    review = _task(seeded, "review")
    with pytest.raises(InputError, match="--outcome must be one of"):
        finish_task(seeded, review, "checked", "user:li", NOON, outcome="maybe")
    finish_task(seeded, review, "Twilio console shows it delivered", "user:li", NOON, outcome="delivered")
    with seeded.connect() as connection:
        state = connection.execute(sa.text("SELECT state FROM message WHERE channel = 'sms'")).scalar_one()
        report = verify_log(connection, ArtifactStore(settings.path("artifacts")))
    assert state == "sent"
    assert report.ok, report.problems
    resolved = [e for e in contact_log(seeded, invoice="I-7") if e.kind == "message_resolved"]
    assert len(resolved) == 1 and resolved[0].body["data"]["outcome"] == "delivered"
    assert resolved[0].actor == "user:li"


def test_outcome_is_only_for_reviews_of_messages(seeded: Engine) -> None:
    with pytest.raises(InputError, match="applies only to the review of a message"):
        finish_task(seeded, _task(seeded, "call"), "done", "user:li", NOON, outcome="delivered")


def test_approval_tasks_are_decided_with_approve_or_reject(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(
            tables.Customer(id="C9", name="x", country="CN", timezone="Asia/Shanghai", language="zh-CN")
        )
        session.flush()
        session.add(tables.Task(kind="approval", customer_id="C9", step="lawyer_letter", created_at=NOON))
        session.commit()
    task = list_tasks(engine)[0]
    with pytest.raises(InputError, match=f"dunbot approve {task.id}"):
        finish_task(engine, task.id, "ok", "user:li", NOON)


def test_the_contact_log_filters_and_orders(seeded: Engine) -> None:
    by_invoice = contact_log(seeded, invoice="I-7")
    assert by_invoice and all("I-7" in e.invoices for e in by_invoice)
    assert [e.seq for e in by_invoice] == sorted(e.seq for e in by_invoice)
    everything = contact_log(seeded)
    assert {e.kind for e in everything} >= {"step_planned", "message_sent", "message_unknown", "task_created"}
    sent = next(e for e in everything if e.kind == "message_sent")
    assert "email" in sent.summary and "ap@yuanhang.com.cn" in sent.summary
    with pytest.raises(InputError, match="no customer 'C404'"):
        contact_log(seeded, customer="C404")
    with pytest.raises(InputError, match="no invoice 'I-404'"):
        contact_log(seeded, invoice="I-404")


# --- rows inserted directly: no cycle, every branch of the services --------------------------------


@pytest.fixture
def desk(engine: Engine) -> dict[str, int]:
    """One customer, two invoices, an SMS of unknown fate, its review task and a call task."""
    with Session(engine) as session:
        session.add(
            tables.Customer(
                id="D1", name="Bright Harbour Ltd", country="GB", timezone="Europe/London", language="en"
            )
        )
        session.flush()
        for number in ("D-1", "D-2"):
            session.add(
                tables.Invoice(
                    number=number,
                    customer_id="D1",
                    currency="GBP",
                    amount=Decimal("100.00"),
                    issue_date=date(2026, 4, 1),
                    due_date=date(2026, 5, 1),
                )
            )
        session.flush()
        message = tables.Message(
            customer_id="D1",
            step="overdue_sms",
            channel="sms",
            business_date=AS_OF,
            recipient="+447911123456",
            state="unknown",
            attempts=1,
            last_error="timeout after the request was sent",
            created_at=NOON,
            updated_at=NOON,
        )
        session.add(message)
        session.flush()
        assert message.id is not None
        session.add(tables.MessageInvoice(message_id=message.id, invoice_number="D-1"))
        review = tables.Task(
            kind="review",
            customer_id="D1",
            invoices='["D-1"]',
            step="overdue_sms",
            assignee="ar@example.com",
            title="Did the SMS arrive?",
            dedupe_key=f"review:message:{message.id}",
            created_at=NOON,
        )
        call = tables.Task(
            kind="call",
            customer_id="D1",
            invoices='["D-2"]',
            step="collection_call",
            assignee="li",
            title="Call about D-2",
            created_at=NOON + timedelta(minutes=1),
        )
        session.add_all([review, call])
        session.commit()
        assert review.id is not None and call.id is not None
        return {"message": message.id, "review": review.id, "call": call.id}


def _message_state(engine: Engine, message: int) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                sa.text("SELECT state FROM message WHERE id = :id"), {"id": message}
            ).scalar_one()
        )


def test_done_task_writes_one_event_with_its_facts(engine: Engine, desk: dict[str, int]) -> None:
    later = NOON + timedelta(hours=2)
    assert [t.id for t in list_tasks(engine)] == [desk["review"], desk["call"]]
    assert [t.id for t in list_tasks(engine, assignee="li")] == [desk["call"]]
    done = finish_task(engine, desk["call"], "left a voicemail", "user:li", later)
    assert (done.status, done.outcome, done.note, done.done_at) == ("done", "done", "left a voicemail", later)
    with pytest.raises(InputError, match=rf"task {desk['call']} is already done \(at 2026-06-10 06:00 UTC\)"):
        finish_task(engine, desk["call"], "again", "user:li", later)
    [event] = contact_log(engine, invoice="D-2")
    assert (event.kind, event.actor, event.customer, event.invoices) == (
        "task_done",
        "user:li",
        "D1",
        ("D-2",),
    )
    data = event.body["data"]
    assert (data["task"], data["kind"], data["step"], data["title"], data["note"]) == (
        desk["call"],
        "call",
        "collection_call",
        "Call about D-2",
        "left a voicemail",
    )
    assert "Call about D-2" in event.summary


def test_not_delivered_fails_the_message_and_the_chain_verifies(engine: Engine, desk: dict[str, int]) -> None:
    finish_task(engine, desk["review"], "carrier says undelivered", "user:ar", NOON, outcome="not-delivered")
    assert _message_state(engine, desk["message"]) == "failed"
    kinds = [e.kind for e in contact_log(engine, customer="D1")]
    assert kinds == ["task_done", "message_resolved"]
    resolved = contact_log(engine, invoice="D-1")[-1]
    assert resolved.body["data"]["state"] == "failed" and resolved.body["data"]["message"] == desk["message"]
    with engine.connect() as connection:
        report = verify_log(connection)
    assert report.ok, report.problems


def test_a_message_no_longer_unknown_leaves_the_task_open(engine: Engine, desk: dict[str, int]) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE message SET state = 'delivered' WHERE id = :id"), {"id": desk["message"]}
        )
    with pytest.raises(InputError, match="is delivered, not unknown"):
        finish_task(engine, desk["review"], "checked", "user:ar", NOON, outcome="delivered")
    # one transaction: nothing of the refused attempt remains
    assert desk["review"] in [t.id for t in list_tasks(engine)]
    assert contact_log(engine) == []
    # without --outcome the review is simply closed; the message is left as it is
    finish_task(engine, desk["review"], "already delivered, nothing to do", "user:ar", NOON)
    assert _message_state(engine, desk["message"]) == "delivered"
    assert [e.kind for e in contact_log(engine)] == ["task_done"]


def test_the_log_without_filters_is_the_latest_200_in_order(engine: Engine, desk: dict[str, int]) -> None:
    with Session(engine) as session:
        append_events(
            session,
            NOON,
            [
                NewEvent(
                    kind=EventKind.ALERT, actor="system", data={"n": n}, customer="D1", invoices=("D-1",)
                )
                for n in range(205)
            ],
        )
        session.commit()
    latest = contact_log(engine)
    assert [e.seq for e in latest] == list(range(6, 206))
    assert latest[0].body["data"] == {"n": 5} and latest[0].summary == "n=5"
    with engine.connect() as connection:
        bodies = {
            seq: body for seq, body in connection.execute(sa.text("SELECT seq, body FROM evidence_event"))
        }
    assert all(e.body == json.loads(str(bodies[e.seq])) for e in latest)
    assert len(contact_log(engine, customer="D1")) == 205
    assert contact_log(engine, invoice="D-2") == []


# --- promises and disputes settle call tasks; pauses; opt-outs (issue 16) -------------------------

PROMISED = date(2030, 1, 15)  # a promise must lie ahead whatever today is


def _task_row(engine: Engine, task: int) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT * FROM task WHERE id = :id"), {"id": task}).one()
    return dict(row._mapping)


def _add_call_task(engine: Engine, invoices: list[str], step: str = "care_call") -> int:
    with Session(engine) as session:
        task = tables.Task(
            kind="call",
            customer_id="D1",
            invoices=json.dumps(invoices),
            step=step,
            assignee="li",
            title=f"Call about {', '.join(invoices)}",
            body="Ask for the cash plan.",
            created_at=NOON,
        )
        session.add(task)
        session.commit()
        assert task.id is not None
        return task.id


def test_a_promise_closes_the_call_task_of_its_invoice(engine: Engine, desk: dict[str, int]) -> None:
    changes = record_promise(
        engine, "D-2", PROMISED, None, "user:li", NOON, made_on=AS_OF, tolerance=TOLERANCE
    )
    assert [(c.task, c.step, c.closed, c.remaining) for c in changes] == [
        (desk["call"], "collection_call", True, ())
    ]
    row = _task_row(engine, desk["call"])
    assert (row["status"], row["outcome"]) == ("done", "promised")
    assert "D-2: payment promised for 2030-01-15" in row["note"]
    # the review task is about D-1 and is not a call: untouched
    assert _task_row(engine, desk["review"])["status"] == "open"
    events = contact_log(engine, invoice="D-2")
    assert [e.kind for e in events] == ["promise", "task_done"]
    done = events[1]
    assert done.actor == "user:li" and done.body["data"]["task"] == desk["call"]
    assert done.body["data"]["outcome"] == "promised"
    with engine.connect() as connection:
        assert verify_log(connection).ok


def test_a_call_task_about_more_invoices_stays_open_for_the_others(
    engine: Engine, desk: dict[str, int]
) -> None:
    both = _add_call_task(engine, ["D-1", "D-2"])
    changes = set_dispute(engine, "D-1", True, "goods damaged", "user:ar", NOON)
    assert [(c.task, c.closed, c.remaining) for c in changes] == [(both, False, ("D-2",))]
    row = _task_row(engine, both)
    assert row["status"] == "open" and json.loads(row["invoices"]) == ["D-2"]
    assert row["body"].startswith("Ask for the cash plan.") and "D-1: disputed (goods damaged)" in row["body"]
    [updated] = [e for e in contact_log(engine, customer="D1") if e.kind == "task_updated"]
    assert updated.invoices == ("D-1", "D-2") and updated.actor == "user:ar"
    assert updated.body["data"]["dropped"] == ["D-1"] and updated.body["data"]["remaining"] == ["D-2"]
    # a promise on D-2 then closes it, together with the collection call about D-2 alone
    closed = record_promise(
        engine, "D-2", PROMISED, Decimal("40.00"), "user:ar", NOON, made_on=AS_OF, tolerance=TOLERANCE
    )
    assert sorted((c.task, c.closed) for c in closed) == sorted([(both, True), (desk["call"], True)])
    assert [t.id for t in list_tasks(engine)] == [desk["review"]]
    assert sum(e.kind == "task_done" for e in contact_log(engine, customer="D1")) == 2


def test_closing_a_dispute_leaves_tasks_alone(engine: Engine, desk: dict[str, int]) -> None:
    set_dispute(engine, "D-1", True, "wrong quantity", "user:ar", NOON)
    call = _add_call_task(engine, ["D-1"])
    assert set_dispute(engine, "D-1", False, "credit note issued", "user:ar", NOON) == []
    assert _task_row(engine, call)["status"] == "open"


def test_a_refused_promise_changes_no_task(engine: Engine, desk: dict[str, int]) -> None:
    with pytest.raises(InputError, match="--amount must be positive"):
        record_promise(
            engine, "D-2", PROMISED, Decimal("-1"), "user:li", NOON, made_on=AS_OF, tolerance=TOLERANCE
        )
    with pytest.raises(InputError, match="no invoice 'D-404'"):
        record_promise(engine, "D-404", PROMISED, None, "user:li", NOON, made_on=AS_OF, tolerance=TOLERANCE)
    assert _task_row(engine, desk["call"])["status"] == "open"
    assert contact_log(engine) == []


def test_pausing_an_invoice_and_a_customer(engine: Engine, desk: dict[str, int]) -> None:
    today = AS_OF
    first = pause(
        engine,
        invoice="D-1",
        customer=None,
        until=date(2026, 6, 30),
        reason="awaiting the customer's audit",
        actor="user:li",
        now=NOON,
        today=today,
    )
    assert (first.scope, first.target, first.customer, first.previous_until) == ("invoice", "D-1", "D1", None)
    again = pause(
        engine,
        invoice="D-1",
        customer=None,
        until=today,  # today itself is allowed: the last day of the pause
        reason="audit done early",
        actor="user:li",
        now=NOON,
        today=today,
    )
    assert again.previous_until == date(2026, 6, 30)
    whole = pause(
        engine,
        invoice=None,
        customer="D1",
        until=date(2026, 7, 15),
        reason="restructuring talks",
        actor="user:ar",
        now=NOON,
        today=today,
    )
    assert (whole.scope, whole.customer) == ("customer", "D1")
    with engine.connect() as connection:
        invoice = connection.execute(
            sa.text("SELECT paused_until, pause_reason FROM invoice WHERE number = 'D-1'")
        ).one()
        customer = connection.execute(
            sa.text("SELECT paused_until, pause_reason FROM customer WHERE id = 'D1'")
        ).one()
    assert (str(invoice[0]), invoice[1]) == ("2026-06-10", "audit done early")
    assert (str(customer[0]), customer[1]) == ("2026-07-15", "restructuring talks")
    events = [e for e in contact_log(engine, customer="D1") if e.kind == "pause"]
    assert [(e.actor, e.invoices, e.body["data"]["until"]) for e in events] == [
        ("user:li", ("D-1",), "2026-06-30"),
        ("user:li", ("D-1",), "2026-06-10"),
        ("user:ar", (), "2026-07-15"),
    ]
    assert events[1].body["data"]["previous_until"] == "2026-06-30"
    assert events[2].summary == "customer paused until 2026-07-15: restructuring talks"
    assert [e.kind for e in contact_log(engine, invoice="D-1")] == ["pause", "pause"]


@pytest.mark.parametrize(
    ("invoice", "customer", "until", "reason", "message"),
    [
        ("D-404", None, date(2026, 7, 1), "x", "no invoice 'D-404'"),
        (None, "C404", date(2026, 7, 1), "x", "no customer 'C404'"),
        ("D-1", None, date(2026, 6, 9), "x", r"--until 2026-06-09 is in the past \(today is 2026-06-10\)"),
        ("D-1", "D1", date(2026, 7, 1), "x", "name exactly one"),
        (None, None, date(2026, 7, 1), "x", "name exactly one"),
        ("D-1", None, date(2026, 7, 1), "  ", "--reason is required"),
    ],
)
def test_a_pause_that_cannot_be_recorded_writes_nothing(
    engine: Engine,
    desk: dict[str, int],
    invoice: str | None,
    customer: str | None,
    until: date,
    reason: str,
    message: str,
) -> None:
    with pytest.raises(InputError, match=message):
        pause(
            engine,
            invoice=invoice,
            customer=customer,
            until=until,
            reason=reason,
            actor="user:li",
            now=NOON,
            today=AS_OF,
        )
    assert contact_log(engine) == []
    with engine.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT paused_until FROM invoice WHERE number = 'D-1'")).scalar()
            is None
        )


def test_opting_out_is_recorded_once(engine: Engine, desk: dict[str, int]) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE customer SET phone = '+447911123456', opted_out = 'voice'"))
    assert opt_out(engine, "D1", Channel.SMS, "asked by phone to stop texts", "user:li", NOON) is True
    assert opt_out(engine, "D1", Channel.SMS, "asked again", "user:li", NOON) is False
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT opted_out FROM customer")).scalar_one() == "sms,voice"
    [event] = contact_log(engine, customer="D1")
    assert (event.kind, event.actor) == ("opt_out", "user:li")
    assert event.body["data"] == {
        "channel": "sms",
        "recipient": "+447911123456",
        "reason": "asked by phone to stop texts",
    }
    with pytest.raises(InputError, match="no customer 'C404'"):
        opt_out(engine, "C404", Channel.SMS, "x", "user:li", NOON)
    with pytest.raises(InputError, match=re.escape("--channel must be one of email|letter|sms|voice;")):
        opt_out(engine, "D1", Channel.TASK, "x", "user:li", NOON)
    with pytest.raises(InputError, match="--reason is required"):
        opt_out(engine, "D1", Channel.EMAIL, " ", "user:li", NOON)
    assert len(contact_log(engine, customer="D1")) == 1


def test_tasks_say_how_much_is_owed_how_late_and_since_when(engine: Engine, desk: dict[str, int]) -> None:
    with Session(engine) as session:
        session.add(
            tables.Invoice(
                number="D-3",
                customer_id="D1",
                currency="EUR",
                amount=Decimal("70.00"),
                issue_date=date(2026, 4, 1),
                due_date=date(2026, 5, 20),
            )
        )
        session.add(
            tables.Payment(reference="P-1", invoice_number="D-2", amount=Decimal("30.50"), paid_on=AS_OF)
        )
        session.add(
            tables.Payment(reference="P-2", invoice_number="D-2", amount=Decimal("9.50"), paid_on=AS_OF)
        )
        session.add(
            tables.Task(
                kind="approval",
                customer_id="D1",
                invoices='["D-1", "D-2", "D-3"]',
                step="lawyer_letter",
                assignee="ar@example.com",
                created_at=NOON + timedelta(minutes=2),
            )
        )
        session.commit()
    review, call, approval = list_tasks(engine, as_of=AS_OF)
    assert (review.outstanding, review.due_date, review.days_overdue) == (
        (("GBP", Decimal("100.00")),),
        date(2026, 5, 1),
        40,
    )
    assert call.outstanding == (("GBP", Decimal("60.00")),)  # 100.00 less two payments
    assert approval.kind == "approval"
    assert approval.outstanding == (("EUR", Decimal("70.00")), ("GBP", Decimal("160.00")))
    assert (approval.due_date, approval.days_overdue) == (date(2026, 5, 1), 40)  # the earliest
    assert list_tasks(engine, as_of=date(2026, 4, 30))[0].days_overdue == -1  # not due yet
    # without a day, nothing is computed
    assert list_tasks(engine)[0].outstanding == () and list_tasks(engine)[0].days_overdue is None


# --- `dunbot message show` -------------------------------------------------------------------------


def _message_id(engine: Engine, customer: str, channel: str, step: str | None = None) -> int:
    query = "SELECT id FROM message WHERE customer_id = :c AND channel = :ch" + (
        " AND step = :s" if step else ""
    )
    with engine.connect() as connection:
        return int(connection.execute(sa.text(query), {"c": customer, "ch": channel, "s": step}).scalar_one())


def test_an_email_shows_what_was_sent_its_signed_pdf_and_its_history(
    seeded: Engine, settings: Settings
) -> None:
    detail = show_message(seeded, settings, _message_id(seeded, "C1", "email"), NOON)
    assert (detail.step, detail.state, detail.invoices) == ("due_statement", "sent", ("I-0",))
    [eml] = list(settings.path("outbox/email").glob("*.eml"))
    sent = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(sent, email.message.EmailMessage)
    body = sent.get_body(preferencelist=("plain",))
    assert isinstance(body, email.message.EmailMessage)
    assert detail.content is not None
    assert detail.content.subject == str(sent["Subject"]) and "I-0" in detail.content.text
    assert detail.content.text == body.get_content()
    assert dict(detail.content.headers)["To"] == "ap@yuanhang.com.cn"
    assert detail.content.source is not None and detail.content.source.name == "message.eml"
    assert (
        detail.content.source.path is not None and detail.content.source.path.read_bytes() == eml.read_bytes()
    )
    with seeded.connect() as connection:
        reference, digest = connection.execute(sa.text("SELECT reference, sha256 FROM notice")).one()
    [pdf] = detail.attachments
    assert (pdf.name, pdf.content_type, pdf.sha256) == (f"{reference}.pdf", "application/pdf", digest)
    assert detail.signed_pdf == pdf and pdf.path is not None
    assert hashlib.sha256(pdf.path.read_bytes()).hexdigest() == digest and pdf.size == pdf.path.stat().st_size
    assert [h.state for h in detail.history] == ["planned", "notice signed", "sent"]
    assert all(h.seq is not None for h in detail.history)
    assert [h.seq for h in detail.history] == sorted(h.seq for h in detail.history if h.seq is not None)
    assert detail.waiting is None


def test_an_unknown_sms_and_a_task_message(seeded: Engine, settings: Settings) -> None:
    sms = show_message(seeded, settings, _message_id(seeded, "C1", "sms"), NOON)
    assert sms.state == "unknown" and sms.content is None
    assert "no stored copy" in sms.content_note
    assert [h.state for h in sms.history] == ["planned", "unknown", "task"]
    assert sms.task == _task(seeded, "review")
    call = show_message(seeded, settings, _message_id(seeded, "C1", "task"), NOON)
    assert call.task == _task(seeded, "call") and call.content is None
    assert "collector task" in call.content_note
    with pytest.raises(InputError, match="no message 999"):
        show_message(seeded, settings, 999, NOON)


@pytest.fixture
def abroad(engine: Engine, settings: Settings) -> Engine:
    """A New York customer whose overdue SMS is planned at 04:00 UTC: midnight where it lives."""
    with Session(engine) as session:
        session.add(
            tables.Customer(
                id="N1",
                name="Hudson Tools Inc.",
                tier_override="cooperative",
                country="US",
                timezone="America/New_York",
                language="en",
                phone="+12125550123",
            )
        )
        session.flush()
        session.add(
            tables.Invoice(
                number="N-3",
                customer_id="N1",
                currency="USD",
                amount=Decimal("900.00"),
                issue_date=date(2026, 4, 1),
                due_date=AS_OF - timedelta(days=3),
            )
        )
        session.commit()
    senders = {Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms"))}
    asyncio.run(run_cycle(engine, settings, AS_OF, clock=lambda: NOON, exclusive=True, senders=dict(senders)))
    return engine


def test_a_held_message_says_it_waits_for_the_window_until_when_the_outbox_holds_it(
    abroad: Engine, settings: Settings
) -> None:
    message = _message_id(abroad, "N1", "sms")
    detail = show_message(abroad, settings, message, NOON)
    assert detail.state == "planned" and detail.content is None and "not rendered yet" in detail.content_note
    assert detail.waiting is not None
    [wait] = detail.waiting.waits
    # the outbox held it: its own next attempt is exactly when the explanation says it can go
    assert detail.next_attempt_at == datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # 08:00 in New York
    assert (wait.reason.value, wait.until, detail.waiting.goes_at) == (
        "contact_window",
        detail.next_attempt_at,
        detail.next_attempt_at,
    )
    # inside the window nothing holds it any more
    assert show_message(abroad, settings, message, NOON + timedelta(hours=9)).waiting == WaitExplanation(
        (), NOON + timedelta(hours=9)
    )


def test_a_retry_and_a_pause_are_reasons_to_wait(abroad: Engine, settings: Settings) -> None:
    message = _message_id(abroad, "N1", "sms")
    later = NOON + timedelta(hours=9)  # 09:00 in New York: the window is open
    with abroad.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE message SET attempts = 1, last_error = 'Twilio 20429: too many requests',"
                " next_attempt_at = :at WHERE id = :id"
            ),
            {"at": later + timedelta(minutes=5), "id": message},
        )
    detail = show_message(abroad, settings, message, later)
    assert detail.waiting is not None
    assert [(w.reason.value, w.until) for w in detail.waiting.waits] == [
        ("retry", later + timedelta(minutes=5))
    ]
    pause(
        abroad,
        invoice="N-3",
        customer=None,
        until=AS_OF,
        reason="customer on holiday",
        actor="user:li",
        now=later,
        today=AS_OF,
    )
    paused = show_message(abroad, settings, message, later)
    # A pause through the message's business date: the outbox's re-check cancels it, as for a
    # promise; message show says so instead of promising it for the day after the pause.
    assert paused.will_cancel == (
        "paused until 2026-06-10: customer on holiday; the outbox's re-check cancels it"
    )
    assert paused.waiting is not None and "paused" not in {w.reason.value for w in paused.waiting.waits}


def test_an_altered_artifact_is_named_and_the_rest_still_shows(seeded: Engine, settings: Settings) -> None:
    message = _message_id(seeded, "C1", "email")
    source = show_message(seeded, settings, message, NOON).content
    assert source is not None and source.source is not None and source.source.path is not None
    path = source.source.path
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b"Subject", b"Subjekt", 1))
    detail = show_message(seeded, settings, message, NOON)
    assert detail.content is None
    assert "could not be read" in detail.content_note and "does not match its hash" in detail.content_note
    assert [f.name for f in detail.attachments] == ["message.eml"]
    assert [h.state for h in detail.history] == ["planned", "notice signed", "sent"]


def test_an_opted_out_channel_is_shown_as_cancelled_at_the_re_check(
    abroad: Engine, settings: Settings
) -> None:
    message = _message_id(abroad, "N1", "sms")
    assert show_message(abroad, settings, message, NOON).will_cancel is None
    assert opt_out(abroad, "N1", Channel.SMS, "replied STOP", "user:li", NOON)
    later = NOON + timedelta(hours=9)  # 09:00 in New York
    assert show_message(abroad, settings, message, later).will_cancel == "the customer opted out of sms"
    # and the outbox does just that when it next runs
    senders = {Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms"))}
    asyncio.run(
        run_cycle(abroad, settings, AS_OF, clock=lambda: later, exclusive=True, senders=dict(senders))
    )
    after = show_message(abroad, settings, message, later)
    assert after.state == "cancelled" and after.last_error == "the customer opted out of sms"
    assert after.waiting is None and after.will_cancel is None
    assert [h.state for h in after.history][-1] == "cancelled"
