"""Handling replies (issue 20, DESIGN §11) on real SQLite and PostgreSQL: every action, what goes to a
collector instead, and the reply_received / reply_acted evidence. The classification is given by the
test (:class:`tests.integration.reply_world.Labels`); the raw e-mails and SMS are real ones."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.errors import InputError
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.verify import verify_log
from bot.outreach.contact_log import contact_log
from bot.outreach.reply_tag import reply_address, reply_tag
from bot.replies.confirming import confirm_reply, replies_to_confirm
from bot.replies.handling import handle_pending
from bot.replies.model import Classification, ReplyKind
from tests.integration.reply_world import (
    AS_OF,
    C1_EMAIL,
    C1_PHONE,
    DOMAIN,
    NOW,
    SHARED,
    Labels,
    arrive,
    bounce_bytes,
    email_bytes,
    events,
    inbound_row,
    invoice,
    key_of,
    reply_settings,
    seed,
    sms_bytes,
    tasks,
)

OWNER = "worker-a"
SURE = Decimal("0.97")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return reply_settings(tmp_path, reply_to=f"replies@{DOMAIN}")


@pytest.fixture
def sent(engine: Engine) -> dict[str, int]:
    return seed(engine)


def _handle(engine: Engine, settings: Settings, labels: Labels, **kwargs: object) -> object:
    return handle_pending(engine, settings, kwargs.pop("now", NOW), owner=OWNER, classifier=labels, **kwargs)  # type: ignore[arg-type]


def test_an_opt_out_by_email_or_sms_opts_that_channel_out_at_once(
    engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    """ "unsubscribe" by e-mail opts the customer out of e-mail, "TD" by SMS out of SMS (only): each an
    opt_out event, the reply handled and matched (In-Reply-To, the phone number)."""
    labels = Labels(
        {
            "unsubscribe": Classification(ReplyKind.OPT_OUT, SURE),
            "TD": Classification(ReplyKind.OPT_OUT, SURE),
        }
    )
    mail = arrive(
        engine, settings, email_bytes(C1_EMAIL, "unsubscribe", in_reply_to=key_of(engine, sent["m1"]))
    )
    sms = arrive(engine, settings, sms_bytes(C1_PHONE, "TD", "SM1"), channel="sms", sender=C1_PHONE)
    summary = _handle(engine, settings, labels)
    assert (summary.handled, summary.confirm) == (2, 0)  # type: ignore[attr-defined]
    opted = [(e["customer"], e["data"]["channel"], e["actor"]) for e in events(engine, "opt_out")]
    assert opted == [("C1", "email", OWNER), ("C1", "sms", OWNER)]
    assert (inbound_row(engine, mail).matched_by, inbound_row(engine, sms).matched_by) == (
        "in-reply-to",
        "phone",
    )
    assert inbound_row(engine, mail).state == "handled" and inbound_row(engine, sms).message_id is None
    acted = [(e["data"]["inbound"], e["data"]["action"]) for e in events(engine, "reply_acted")]
    assert acted == [(mail, "opted out of email"), (sms, "opted out of sms")]


def test_a_promise_is_recorded_on_the_invoices_oldest_first_and_marks_the_debt_acknowledged(
    engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    """A promise of 6000 by a date, sent to the e-mail's tagged address: 5000 on I-1 (due first), 1000
    on I-2; the reply_received event marks the acknowledgment of the debt and names the raw e-mail;
    the customer's own date and timezone are what the classifier was given."""
    text = "我们下周五付6000元"
    on = AS_OF + timedelta(days=9)
    labels = Labels(
        {
            text: Classification(
                ReplyKind.PROMISE,
                SURE,
                language="zh-CN",
                promise_date=on,
                promise_amount=Decimal("6000"),
                acknowledges_debt=True,
            )
        }
    )
    tagged = reply_address(f"replies@{DOMAIN}", reply_tag("", sent["m1"], key_of(engine, sent["m1"])))
    raw = email_bytes(C1_EMAIL, text, to=tagged)
    inbound = arrive(engine, settings, raw)
    _handle(engine, settings, labels)
    assert labels.seen == [(text, AS_OF, "Asia/Shanghai")]
    one, two = invoice(engine, "I-1"), invoice(engine, "I-2")
    assert (one.promise_date, one.promise_amount) == (on, Decimal("5000.00"))
    assert (two.promise_date, two.promise_amount) == (on, Decimal("1000.00"))
    (received,) = events(engine, "reply_received")
    data = received["data"]
    assert data["acknowledges_debt"] is True and data["kind"] == "promise" and data["state"] == "handled"
    assert data["match"] == {"by": "tag", "message": sent["m1"], "candidates": []}
    assert data["raw_sha256"] == inbound_row(engine, inbound).raw_sha256
    assert ArtifactStore(settings.path("artifacts")).get(data["raw_sha256"]) == raw
    assert [e["invoices"] for e in events(engine, "promise")] == [["I-1"], ["I-2"]]
    lines = [entry.summary for entry in contact_log(engine, customer="C1") if entry.kind.startswith("reply_")]
    assert lines[0].startswith(
        f"reply {inbound}: email from {C1_EMAIL}, promise (0.97), acknowledges the debt"
    )
    assert lines[1] == f"reply {inbound}: promise to pay by {on} (6000) on I-1, I-2"
    with engine.connect() as connection:  # the chain holds, and every artifact it names is there
        assert verify_log(connection, ArtifactStore(settings.path("artifacts"))).ok


def test_a_dispute_opens_on_the_invoices_of_the_message_it_answers(
    engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    """A dispute matched by References opens a dispute on both invoices of that e-mail, with the text
    as the reason; another customer's invoice is untouched."""
    text = "The quantity delivered was 20 units short; we will not pay until this is corrected."
    labels = Labels({text: Classification(ReplyKind.DISPUTE, SURE)})
    key = key_of(engine, sent["m1"])
    arrive(engine, settings, email_bytes(C1_EMAIL, text, references=("<older@x.example>", key)))
    _handle(engine, settings, labels)
    assert [invoice(engine, n).status for n in ("I-1", "I-2", "H-1")] == ["disputed", "disputed", "open"]
    disputes = events(engine, "dispute")
    assert [d["invoices"] for d in disputes] == [["I-1"], ["I-2"]]
    assert all(text[:40] in d["data"]["reason"] for d in disputes)


def test_a_paid_claim_pauses_the_invoices_and_asks_to_check_the_attached_remittance(
    engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    """ "已付款" with a remittance PDF: the invoices paused [inbound] paid_claim_days, a remittance task
    naming the attachment, which is kept as an artifact and named in the reply_received event."""
    text = "已付款，见附件水单"
    pdf = b"%PDF-1.4 remittance advice 6000.00 CNY"
    labels = Labels({text: Classification(ReplyKind.PAID, SURE, remittance=True)})
    raw = email_bytes(C1_EMAIL, text, attachments=(("水单.pdf", "application/pdf", pdf),))
    arrive(engine, settings, raw)
    _handle(engine, settings, labels)
    until = AS_OF + timedelta(days=settings.inbound.paid_claim_days)
    assert [invoice(engine, n).paused_until for n in ("I-1", "I-2")] == [until, until]
    (task,) = tasks(engine, "remittance")
    digest = ArtifactStore(settings.path("artifacts")).put(pdf)
    assert task.customer_id == "C1" and task.assignee == f"am-c1@{DOMAIN}" and digest in task.body
    (received,) = events(engine, "reply_received")
    assert received["data"]["artifacts"] == {"水单.pdf": digest}
    assert [e["data"]["until"] for e in events(engine, "pause")] == [until.isoformat()] * 2


def test_a_paid_claim_never_shortens_a_longer_pause(
    engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    """An invoice already paused past the paid-claim days keeps its pause (and no pause event)."""
    from sqlmodel import Session

    from bot.store import tables

    later = AS_OF + timedelta(days=30)
    with Session(engine) as session:
        row = session.get(tables.Invoice, "I-1")
        assert row is not None
        row.paused_until, row.pause_reason = later, "negotiating"
        session.add(row)
        session.commit()
    labels = Labels({"paid yesterday": Classification(ReplyKind.PAID, SURE)})
    arrive(engine, settings, email_bytes(C1_EMAIL, "paid yesterday"))
    _handle(engine, settings, labels)
    assert invoice(engine, "I-1").paused_until == later
    assert [e["invoices"] for e in events(engine, "pause")] == [["I-2"]]


def test_an_automatic_reply_changes_nothing(engine: Engine, settings: Settings, sent: dict[str, int]) -> None:
    """An out-of-office reply is recorded (received, acted: nothing) and changes no invoice or task."""
    text = "I am out of the office until 15 June."
    labels = Labels({text: Classification(ReplyKind.AUTO_REPLY, SURE)})
    raw = email_bytes(C1_EMAIL, text, headers={"Auto-Submitted": "auto-replied"})
    inbound = arrive(engine, settings, raw)
    _handle(engine, settings, labels)
    assert inbound_row(engine, inbound).state == "handled"
    assert [e["kind"] for e in events(engine)] == ["reply_received", "reply_acted"]
    assert tasks(engine) == []
    assert invoice(engine, "I-1").status == "open" and invoice(engine, "I-1").paused_until is None


def test_a_hard_bounce_marks_the_message_undelivered_records_the_address_and_asks_to_fix_it(
    engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    """A DSN (5.1.1) matched by the bounced e-mail's Message-ID: that message undelivered, the
    address in undeliverable_contact, a contact task, and events naming the DSN as report_sha256."""
    import sqlalchemy as sa

    from bot.store import tables

    labels = Labels({}, default=Classification(ReplyKind.BOUNCE, SURE))
    raw = bounce_bytes(key_of(engine, sent["m1"]), C1_EMAIL)
    inbound = arrive(engine, settings, raw)
    _handle(engine, settings, labels)
    row = inbound_row(engine, inbound)
    assert (row.state, row.matched_by, row.message_id) == ("handled", "dsn", sent["m1"])
    with engine.connect() as connection:
        state = connection.execute(
            sa.select(tables.Message.__table__.c.state).where(tables.Message.__table__.c.id == sent["m1"])  # type: ignore[attr-defined]
        ).scalar()
        bad = connection.execute(sa.select(tables.UndeliverableContact.__table__)).all()  # type: ignore[attr-defined]
    assert state == "undelivered"
    assert [(b.channel, b.address, b.customer_id, b.message_id) for b in bad] == [
        ("email", C1_EMAIL, "C1", sent["m1"])
    ]
    (task,) = tasks(engine, "review")
    assert task.customer_id == "C1" and C1_EMAIL in task.title and "bounced hard" in task.title
    (undeliverable,) = events(engine, "message_undeliverable")
    assert undeliverable["data"]["state"] == "undelivered" and undeliverable["data"]["message"] == sent["m1"]
    assert undeliverable["data"]["hard"] is True and undeliverable["data"]["report_sha256"] == row.raw_sha256


def test_another_reply_becomes_a_task_with_its_text(
    engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    """A reply that is none of the above is a task for the customer's collector, with the text."""
    text = "Please send the invoice again with our new VAT number."
    labels = Labels({text: Classification(ReplyKind.OTHER, SURE)})
    arrive(engine, settings, email_bytes("AP@harbour.example", text, subject="VAT number"))
    _handle(engine, settings, labels)
    (task,) = tasks(engine)
    assert (task.kind, task.customer_id, task.assignee) == ("reply", "C2", f"am-c2@{DOMAIN}")
    assert task.body == text and "VAT number" in task.title


def test_below_the_threshold_a_collector_confirms_before_anything_is_done(
    engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    """A dispute at 0.6 (below confirm_below 0.90) waits in "confirm" with a task and changes nothing;
    confirming it as a dispute opens the dispute, closes the task and records who confirmed; a
    second confirmation is refused."""
    text = "这批货好像有点问题"
    labels = Labels({text: Classification(ReplyKind.DISPUTE, Decimal("0.60"))})
    inbound = arrive(engine, settings, email_bytes(C1_EMAIL, text, in_reply_to=key_of(engine, sent["m1"])))
    summary = _handle(engine, settings, labels)
    assert summary.confirm == 1  # type: ignore[attr-defined]
    assert invoice(engine, "I-1").status == "open" and events(engine, "reply_acted") == []
    (task,) = tasks(engine)
    assert task.kind == "reply" and task.status == "open" and "dispute?" in task.title
    assert [p.id for p in replies_to_confirm(engine, customer="C1")] == [inbound]
    action = confirm_reply(engine, settings, inbound, ReplyKind.DISPUTE, "am-c1", NOW + timedelta(hours=1))
    assert action == "dispute opened on I-1, I-2"
    assert invoice(engine, "I-1").status == "disputed"
    (task,) = tasks(engine)
    assert task.status == "done" and task.outcome == "confirmed"
    (acted,) = events(engine, "reply_acted")
    assert acted["actor"] == "am-c1" and acted["data"]["confirmed_by"] == "am-c1"
    assert inbound_row(engine, inbound).state == "handled"
    with pytest.raises(InputError, match="not waiting"):
        confirm_reply(engine, settings, inbound, ReplyKind.DISPUTE, "am-c1", NOW)
    assert replies_to_confirm(engine) == []


def test_a_collector_may_dismiss_a_reply(engine: Engine, settings: Settings, sent: dict[str, int]) -> None:
    """Dismissed (kind None): nothing is done, the task closes, reply_acted says so."""
    labels = Labels({"ok": Classification(ReplyKind.PROMISE, Decimal("0.3"))})
    inbound = arrive(engine, settings, email_bytes(C1_EMAIL, "ok"))
    _handle(engine, settings, labels)
    assert confirm_reply(engine, settings, inbound, None, "am-c1", NOW) == "dismissed"
    assert invoice(engine, "I-1").promise_date is None
    (acted,) = events(engine, "reply_acted")
    assert acted["data"]["kind"] is None and acted["data"]["action"] == "dismissed"
    assert [t.status for t in tasks(engine)] == ["done"]


def test_a_shared_address_matches_no_customer_and_asks_each_collector(
    engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    """An address two customers share: nobody is acted on; a task on each customer; the collector
    names whose it is, and the reply is acted on for that customer only, both tasks closed."""
    text = "STOP"
    labels = Labels({text: Classification(ReplyKind.OPT_OUT, Decimal("0.99"))})
    inbound = arrive(engine, settings, email_bytes(SHARED, text))
    _handle(engine, settings, labels)
    row = inbound_row(engine, inbound)
    assert (row.state, row.customer_id) == ("confirm", None)
    assert sorted(t.customer_id for t in tasks(engine)) == ["S1", "S2"]
    assert events(engine, "opt_out") == []
    (received,) = events(engine, "reply_received")
    assert received["customer"] is None and received["data"]["match"]["candidates"] == ["S1", "S2"]
    with pytest.raises(InputError, match="S1, S2"):
        confirm_reply(engine, settings, inbound, ReplyKind.OPT_OUT, "am-s2", NOW)
    confirm_reply(engine, settings, inbound, ReplyKind.OPT_OUT, "am-s2", NOW, customer="S2")
    assert [(e["customer"], e["data"]["channel"]) for e in events(engine, "opt_out")] == [("S2", "email")]
    assert [t.status for t in tasks(engine)] == ["done", "done"]


def test_a_reply_from_nobody_known_waits_without_a_task(
    engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    """An unknown sender: state confirm, no task (no customer to hang it on), listed to confirm."""
    labels = Labels({"hello": Classification(ReplyKind.OTHER, SURE)})
    inbound = arrive(engine, settings, email_bytes("someone@unknown.example", "hello"))
    _handle(engine, settings, labels)
    assert inbound_row(engine, inbound).state == "confirm" and tasks(engine) == []
    (pending,) = replies_to_confirm(engine)
    assert pending.id == inbound and "no customer matched" in pending.why


def test_a_promise_that_cannot_be_recorded_goes_to_a_collector(
    engine: Engine, settings: Settings, sent: dict[str, int]
) -> None:
    """A promise for a day already past is not recorded: the reply waits for a collector, and none of
    the failed attempt is kept; the collector confirms it with the right date."""
    labels = Labels(
        {"paid on the 1st": Classification(ReplyKind.PROMISE, SURE, promise_date=AS_OF - timedelta(days=9))}
    )
    inbound = arrive(
        engine, settings, email_bytes(C1_EMAIL, "paid on the 1st", in_reply_to=key_of(engine, sent["m1"]))
    )
    _handle(engine, settings, labels)
    row = inbound_row(engine, inbound)
    assert row.state == "confirm" and "in the past" in row.action
    assert events(engine, "promise") == [] and invoice(engine, "I-1").promise_date is None
    on = AS_OF + timedelta(days=3)
    confirm_reply(engine, settings, inbound, ReplyKind.PROMISE, "am-c1", NOW, promise_date=on)
    assert invoice(engine, "I-1").promise_date == on == invoice(engine, "I-2").promise_date
