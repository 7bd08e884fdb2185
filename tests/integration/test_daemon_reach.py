"""Every recipient reached on its own business day (DESIGN §4 rule 3), through the daemon's jobs.

The daemon's jobs (:class:`bot.scheduler.DaemonJobs`, the functions APScheduler calls) run against a
real database with an injected clock. The test plays the scheduler: it moves the clock to the next
cron tick (from the real cron trigger) or to the wake-up the jobs asked for, whichever comes first.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.channels.base import Sender
from bot.channels.file import FileSender
from bot.config import (
    ComplianceSettings,
    EmailSettings,
    EvidenceSettings,
    Settings,
    SigningSettings,
    SmsSettings,
)
from bot.domain.calendar import in_contact_window, is_business_day
from bot.domain.ledger import Channel
from bot.outreach.collector import pause
from bot.outreach.message_detail import show_message
from bot.scheduler import DaemonJobs, next_runs
from bot.store import tables

MONDAY = date(2026, 12, 7)
WEEK = [MONDAY + timedelta(days=k) for k in range(5)]  # Monday to Friday, no holiday in any country here

# (customer, country, time zone, language)
RECIPIENTS = [
    ("SH", "CN", "Asia/Shanghai", "zh-CN"),
    ("LON", "GB", "Europe/London", "en"),
    ("BER", "DE", "Europe/Berlin", "en"),
    ("NYC", "US", "America/New_York", "en"),
    ("LAX", "US", "America/Los_Angeles", "en"),
    ("SYD", "AU", "Australia/Sydney", "en"),
    ("HNL", "US", "Pacific/Honolulu", "en"),
]
ZONES = {customer: ZoneInfo(tz) for customer, _, tz, _ in RECIPIENTS}


class Clock:
    """An injected clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def settings(tmp_path: Path, trial_certificate: Any) -> Settings:
    # The default schedule (09:00 Monday to Friday, Asia/Shanghai) and window (08:00-20:00). Five
    # reminders in five business days: the 7-day cap is raised to 5 so that it holds none of them.
    return Settings(
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        email=EmailSettings(transport="file", drop_dir="outbox/email", from_address="ar@xinghe.com.cn"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        compliance=ComplianceSettings(max_messages_per_7d=5),
        base_dir=tmp_path,
    )


def _seed(engine: Engine, recipients: list[tuple[str, str, str, str]], days: list[date]) -> None:
    """Per customer one invoice per day of ``days``, due 7 days later: a pre-due reminder each day."""
    with Session(engine) as session:
        for customer, country, tz, language in recipients:
            session.add(
                tables.Customer(
                    id=customer,
                    name=f"Customer {customer}",
                    tier_override="cooperative",  # the procedural ladder: day -7 is an e-mail reminder
                    country=country,
                    timezone=tz,
                    language=language,
                    email=f"ap@{customer.lower()}.example.com",
                )
            )
        session.flush()
        for customer, *_ in recipients:
            for day in days:
                session.add(
                    tables.Invoice(
                        number=f"{customer}-{day:%m%d}",
                        customer_id=customer,
                        currency="CNY",
                        amount=Decimal("1000.00"),
                        issue_date=date(2026, 11, 1),
                        due_date=day + timedelta(days=7),
                    )
                )
        session.commit()


@dataclass
class Daemon:
    """The daemon's jobs, and what they asked the scheduler for."""

    jobs: DaemonJobs
    clock: Clock
    wake: datetime | None = None
    last_tick: datetime | None = None
    ticks: int = 0
    wakes: int = 0


def _daemon(engine: Engine, settings: Settings, clock: Clock) -> Daemon:
    senders: dict[Channel, Sender] = {
        Channel.EMAIL: FileSender(
            Channel.EMAIL, settings.path("outbox/email"), from_address="ar@xinghe.com.cn"
        ),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
    }
    daemon: Daemon

    def wake_at(when: datetime | None) -> None:
        daemon.wake = when

    jobs = DaemonJobs(
        engine, settings, exclusive=True, clock=clock, senders=senders, stop=asyncio.Event(), wake_at=wake_at
    )
    daemon = Daemon(jobs, clock)
    jobs.plan_wake()  # what run_daemon does at start
    return daemon


def _run_until(daemon: Daemon, end: datetime) -> None:
    """Play the scheduler: fire the cron tick or the wake-up, whichever is next, until ``end``."""
    settings = daemon.jobs.settings
    tz = settings.schedule.timezone or settings.company.timezone

    async def play() -> None:
        while True:
            after = daemon.clock.now
            if daemon.last_tick == after:
                after += timedelta(microseconds=1)  # that tick has fired
            tick = next_runs(settings.schedule.cron, tz, after, 1)[0]
            if daemon.wake is not None and daemon.wake <= tick:
                if daemon.wake > end:
                    return
                daemon.clock.now, daemon.wake = max(daemon.wake, daemon.clock.now), None
                daemon.wakes += 1
                await daemon.jobs.wake()
            else:
                if tick > end:
                    return
                daemon.clock.now = daemon.last_tick = tick
                daemon.ticks += 1
                await daemon.jobs.tick()

    asyncio.run(play())


def _sent(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "SELECT id, customer_id, business_date, state, sent_at FROM message ORDER BY customer_id, business_date"
            )
        ).all()


def _sent_events(engine: Engine) -> dict[int, dict[str, Any]]:
    with engine.connect() as connection:
        bodies = [
            json.loads(body)
            for body in connection.execute(
                sa.text("SELECT body FROM evidence_event WHERE kind = 'message_sent' ORDER BY seq")
            ).scalars()
        ]
    return {body["data"]["message"]: body["data"] for body in bodies}


def _emails(settings: Settings) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted(settings.path("outbox/email").glob("*.eml"))
    ]


def _text(mail: email.message.EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _aware(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def test_five_business_days_every_recipient_is_reached_on_its_local_date_inside_its_window(
    engine: Engine, settings: Settings
) -> None:
    for _, country, _, _ in RECIPIENTS:
        assert all(is_business_day(country, day) for day in WEEK), country
    _seed(engine, RECIPIENTS, WEEK)
    daemon = _daemon(engine, settings, Clock(datetime(2026, 12, 6, 12, 0, tzinfo=UTC)))  # Sunday
    _run_until(daemon, datetime(2026, 12, 12, 12, 0, tzinfo=UTC))  # Saturday, after Honolulu's Friday

    assert daemon.ticks == 5  # 09:00 Shanghai, Monday to Friday: 01:00 UTC
    rows = _sent(engine)
    assert len(rows) == len(RECIPIENTS) * len(WEEK)
    policy = settings.planning_policy().compliance
    events = _sent_events(engine)
    for row in rows:
        zone = ZONES[row.customer_id]
        sent_at = _aware(row.sent_at)
        local = sent_at.astimezone(zone)
        planned = _day(row.business_date)
        assert row.state == "sent", row
        assert local.date() == planned, (row.customer_id, planned, local)  # never earlier, not a day later
        assert in_contact_window(sent_at, str(zone), policy), (row.customer_id, local)
        # And as soon as the window opened that day (or at the tick, when it was open already).
        tick = datetime.combine(planned, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1)
        opening = datetime.combine(planned, policy.window_start, tzinfo=zone).astimezone(UTC)
        assert sent_at == max(tick, opening), (row.customer_id, local)
        event = events[row.id]
        assert (event["business_date"], event["recipient_date"], event["days_late"]) == (
            planned.isoformat(),
            planned.isoformat(),
            0,
        )
    # Each reminder speaks of the recipient's date: due in 7 days, also when the wake-up that sent it
    # came on the company's next day (Honolulu's Friday morning is Saturday in Shanghai).
    english = [m for m in _emails(settings) if not m["X-Dunbot-Invoices"].startswith("SH-")]
    assert len(english) == 6 * len(WEEK)
    for mail in english:
        assert "due in 7 days" in _text(mail), (mail["X-Dunbot-Invoices"], _text(mail))
    # Los Angeles and Honolulu were still on the day before at the tick: reached by a wake-up.
    friday_hnl = next(r for r in rows if r.customer_id == "HNL" and _day(r.business_date) == WEEK[-1])
    assert _aware(friday_hnl.sent_at) == datetime(2026, 12, 11, 18, 0, tzinfo=UTC)  # 08:00 Friday in Honolulu
    assert (
        daemon.wakes >= 5 * 4
    )  # Berlin, London, New York, Los Angeles, Honolulu: four of them after the tick
    assert daemon.wake is None  # nothing waits any more


def test_a_message_whose_whole_window_was_missed_goes_at_the_next_opening_with_the_delay_recorded(
    engine: Engine, settings: Settings
) -> None:
    _seed(engine, [("LON", "GB", "Europe/London", "en")], [MONDAY])
    first = _daemon(engine, settings, Clock(datetime(2026, 12, 7, 0, 30, tzinfo=UTC)))
    _run_until(first, datetime(2026, 12, 7, 2, 0, tzinfo=UTC))  # Monday's tick; then the service goes down
    [held] = _sent(engine)
    assert held.state == "planned"
    assert first.wake == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # it wanted to wake at 08:00 London

    # Back on Tuesday at 03:00 UTC: after Tuesday's tick (not replayed) and before London's window.
    second = _daemon(engine, settings, Clock(datetime(2026, 12, 8, 3, 0, tzinfo=UTC)))
    assert second.wake == second.clock.now  # at start: a waiting message is overdue, wake at once
    _run_until(second, datetime(2026, 12, 8, 12, 0, tzinfo=UTC))

    [sent] = _sent(engine)
    assert sent.state == "sent"
    assert _aware(sent.sent_at) == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # Tuesday's opening, not 03:00
    event = _sent_events(engine)[sent.id]
    assert (event["business_date"], event["recipient_date"], event["days_late"]) == (
        "2026-12-07",
        "2026-12-08",
        1,
    )


def test_a_recipient_still_on_the_day_before_is_not_sent_to_at_the_tick(
    engine: Engine, settings: Settings
) -> None:
    _seed(engine, [("LAX", "US", "America/Los_Angeles", "en")], [MONDAY])
    daemon = _daemon(engine, settings, Clock(datetime(2026, 12, 7, 0, 30, tzinfo=UTC)))
    _run_until(
        daemon, datetime(2026, 12, 7, 15, 59, tzinfo=UTC)
    )  # 17:00 Sunday in LA at the tick: open, but Sunday
    [row] = _sent(engine)
    assert row.state == "planned"
    assert daemon.wake == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # 08:00 Monday in Los Angeles
    assert not settings.path("outbox/email").exists()
    _run_until(daemon, datetime(2026, 12, 7, 16, 1, tzinfo=UTC))
    [row] = _sent(engine)
    assert row.state == "sent"


def test_a_wake_up_that_finds_the_daemon_busy_leaves_the_work_to_it(
    engine: Engine, settings: Settings
) -> None:
    _seed(engine, [("LAX", "US", "America/Los_Angeles", "en")], [MONDAY])
    daemon = _daemon(engine, settings, Clock(datetime(2026, 12, 7, 0, 30, tzinfo=UTC)))
    _run_until(daemon, datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    opening = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    assert daemon.wake == opening
    daemon.clock.now, daemon.wake = opening, None

    async def while_busy() -> object:
        async with daemon.jobs.busy:  # a cycle in flight
            return await daemon.jobs.wake()

    assert asyncio.run(while_busy()) is None
    assert daemon.wake is None  # not planned by the skipped wake-up: the busy one plans after
    assert [r.state for r in _sent(engine)] == ["planned"]
    assert daemon.jobs.plan_wake() == opening  # what the busy one does when it lets go


def test_after_a_failed_wake_up_the_next_waits_the_retry_backoff(engine: Engine, settings: Settings) -> None:
    _seed(engine, [("LAX", "US", "America/Los_Angeles", "en")], [MONDAY])
    daemon = _daemon(engine, settings, Clock(datetime(2026, 12, 7, 0, 30, tzinfo=UTC)))
    _run_until(daemon, datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    with engine.begin() as connection:
        revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'elsewhere'"))
    opening = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    _run_until(daemon, opening)  # the wake-up fails: the schema is not the one this dunbot needs
    assert [r.state for r in _sent(engine)] == ["planned"]
    backoff = timedelta(seconds=settings.outreach.retry_backoff_seconds)
    assert daemon.wake == opening + backoff  # not at once again, in a loop
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    _run_until(daemon, opening + backoff)
    assert [r.state for r in _sent(engine)] == ["sent"]


def test_a_promise_broken_by_the_business_date_does_not_cancel_a_message_to_the_day_before(
    engine: Engine, settings: Settings
) -> None:
    # Promised for Sunday 6 December: broken on Monday, the business date. At Monday's tick it is
    # still Sunday in Los Angeles; the re-check judges the promise on the day the message reaches
    # the customer (Monday), so the message waits for Monday's window instead of being cancelled.
    _seed(engine, [("LAX", "US", "America/Los_Angeles", "en")], [MONDAY])
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE invoice SET promise_date = '2026-12-06'"))
    daemon = _daemon(engine, settings, Clock(datetime(2026, 12, 7, 0, 30, tzinfo=UTC)))
    _run_until(daemon, datetime(2026, 12, 7, 17, 0, tzinfo=UTC))
    [row] = _sent(engine)
    assert row.state == "sent", row
    assert _aware(row.sent_at) == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # 08:00 Monday in LA


def test_a_pause_through_the_business_date_covers_the_recipients_own_day(
    engine: Engine, settings: Settings
) -> None:
    # Paused through Monday after Monday's tick, while the message waits for Monday in Los Angeles:
    # the wake-up at Monday 08:00 LA (already Tuesday in Shanghai) must not send it on the paused day;
    # the re-check cancels it, and `message show` said so beforehand.
    _seed(engine, [("LAX", "US", "America/Los_Angeles", "en")], [MONDAY])
    daemon = _daemon(engine, settings, Clock(datetime(2026, 12, 7, 0, 30, tzinfo=UTC)))
    _run_until(daemon, datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 Monday in Shanghai
    pause(
        engine,
        invoice=f"LAX-{MONDAY:%m%d}",
        customer=None,
        until=MONDAY,
        reason="call first",
        actor="alice",
        now=now,
        today=MONDAY,
    )
    [held] = _sent(engine)
    assert held.state == "planned"
    detail = show_message(engine, settings, held.id, now)
    assert detail.will_cancel is not None and "paused until 2026-12-07" in detail.will_cancel
    _run_until(daemon, datetime(2026, 12, 7, 17, 0, tzinfo=UTC))
    [row] = _sent(engine)
    assert (row.state, row.sent_at) == ("cancelled", None)
