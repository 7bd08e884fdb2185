"""record_undeliverable (issue 20), the one way a bounce or an undeliverable SMS is recorded, on real
SQLite and PostgreSQL: what a soft and a hard failure change, and that recording one twice (a
provider retrying its callback) changes nothing more."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.evidence.log import NewEvent, append_events
from bot.outreach.undeliverable import Undeliverable, record_undeliverable, undeliverable_addresses
from tests.integration.reply_world import C1_EMAIL, NOW, events, seed, tasks


def _record(engine: Engine, message: int | None, *, hard: bool, address: str = C1_EMAIL) -> Undeliverable:
    found: list[NewEvent] = []
    with engine.begin() as connection:
        result = record_undeliverable(
            connection,
            found,
            customer="C1",
            channel="email",
            address=address,
            message=message,
            hard=hard,
            reason="550 5.1.1 user unknown" if hard else "452 4.2.2 mailbox full",
            actor="worker-1",
            now=NOW,
            evidence={"report_sha256": "ab" * 32},
        )
        append_events(connection, NOW, found)
    return result


def test_a_soft_failure_marks_the_message_only_and_a_second_report_adds_nothing(engine: Engine) -> None:
    """Mailbox full: the message undelivered with one event and a task to check the contact; the
    address is not recorded; the same report again changes nothing and raises no second task."""
    sent = seed(engine)
    first = _record(engine, sent["m1"], hard=False)
    assert first.message_marked and not first.contact_recorded and first.task is not None
    again = _record(engine, sent["m1"], hard=False)
    assert again == Undeliverable(False, False, None)
    assert [e["data"]["state"] for e in events(engine, "message_delivered")] == ["undelivered"]
    assert len(tasks(engine, "contact")) == 1
    with engine.connect() as connection:
        assert undeliverable_addresses(connection, "C1") == {}


def test_a_hard_failure_records_the_address_for_the_no_more_mail_rule(engine: Engine) -> None:
    """User unknown: the address (lower-cased) is recorded for C1, an event names it with the report,
    and undeliverable_addresses gives it to whoever decides where mail may go."""
    sent = seed(engine)
    result = _record(engine, sent["m1"], hard=True, address=C1_EMAIL.upper())
    assert result.message_marked and result.contact_recorded
    with engine.connect() as connection:
        assert undeliverable_addresses(connection, "C1") == {"email": {C1_EMAIL}}
    (recorded,) = events(engine, "contact_undeliverable")
    assert recorded["data"]["address"] == C1_EMAIL and recorded["data"]["report_sha256"] == "ab" * 32
    (task,) = tasks(engine, "contact")
    assert "No further email goes to" in task.body and task.created_at == NOW
