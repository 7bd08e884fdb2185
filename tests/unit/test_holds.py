"""The contact gates at one instant (bot.domain.holds), which the outbox and `message show` share."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from bot.domain.holds import ContactGate, contact_hold
from bot.domain.ledger import Channel
from bot.domain.policy import CompliancePolicy

POLICY = CompliancePolicy(window_start=time(8), window_end=time(20), max_messages_per_7d=4)
SHANGHAI_NOON = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)


def test_nothing_holds_inside_the_window_with_no_recent_sends() -> None:
    assert contact_hold(SHANGHAI_NOON, Channel.EMAIL, "Asia/Shanghai", (), POLICY) is None


def test_a_closed_window_holds_until_its_opening() -> None:
    held = contact_hold(SHANGHAI_NOON, Channel.EMAIL, "America/New_York", (), POLICY)
    assert held is not None and held.gate is ContactGate.CONTACT_WINDOW
    assert held.until == datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # 08:00 EDT


def test_the_same_channel_that_local_day_holds_until_the_next_local_midnight() -> None:
    recent = ((Channel.EMAIL.value, SHANGHAI_NOON - timedelta(hours=2)),)  # the outbox passes strings
    held = contact_hold(SHANGHAI_NOON, Channel.EMAIL, "Asia/Shanghai", recent, POLICY)
    assert held is not None and held.gate is ContactGate.SAME_CHANNEL_TODAY
    assert held.until == datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # midnight in Shanghai
    assert contact_hold(SHANGHAI_NOON, Channel.SMS, "Asia/Shanghai", recent, POLICY) is None


def test_the_cap_holds_until_enough_sends_fall_out_of_the_seven_days() -> None:
    sends = [(Channel.SMS, SHANGHAI_NOON - timedelta(days=d, hours=1)) for d in (6, 5, 4, 3, 1)]
    held = contact_hold(SHANGHAI_NOON, Channel.EMAIL, "Asia/Shanghai", sends, POLICY)
    assert held is not None and held.gate is ContactGate.WEEKLY_CAP and held.in_week == 5
    # five in the week, at most four: the second oldest must fall out too
    assert held.until == SHANGHAI_NOON - timedelta(days=5, hours=1) + timedelta(days=7)
    # a send older than the 7 days does not count
    old = [(Channel.SMS, SHANGHAI_NOON - timedelta(days=8)), *sends[2:]]
    assert contact_hold(SHANGHAI_NOON, Channel.EMAIL, "Asia/Shanghai", old, POLICY) is None


def test_the_window_is_asked_first_then_the_channel_then_the_cap() -> None:
    sends = [(Channel.EMAIL, SHANGHAI_NOON - timedelta(hours=h)) for h in (1, 2, 3, 4)]
    night = SHANGHAI_NOON + timedelta(hours=10)  # 22:00 in Shanghai
    closed = contact_hold(night, Channel.EMAIL, "Asia/Shanghai", sends, POLICY)
    assert closed is not None and closed.gate is ContactGate.CONTACT_WINDOW
    open_ = contact_hold(SHANGHAI_NOON, Channel.EMAIL, "Asia/Shanghai", sends, POLICY)
    assert open_ is not None and open_.gate is ContactGate.SAME_CHANNEL_TODAY
