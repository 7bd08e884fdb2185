"""Why a planned message waits, and from when it can go (bot.domain.waiting), gate by gate."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from bot.domain.holds import contact_hold
from bot.domain.ledger import Channel
from bot.domain.policy import CompliancePolicy
from bot.domain.waiting import PendingMessage, WaitReason, explain_wait

POLICY = CompliancePolicy(window_start=time(8), window_end=time(20), max_messages_per_7d=4)
DAY = date(2026, 6, 10)  # a Wednesday
SHANGHAI_NOON = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)


def _message(**changes: object) -> PendingMessage:
    fields: dict[str, object] = {"channel": Channel.EMAIL, "business_date": DAY, "timezone": "Asia/Shanghai"}
    fields.update(changes)
    return PendingMessage(**fields)  # type: ignore[arg-type]


def test_inside_the_window_with_nothing_in_the_way_it_goes_now() -> None:
    explained = explain_wait(_message(), POLICY, SHANGHAI_NOON)
    assert explained.waits == () and explained.goes_at == SHANGHAI_NOON


def test_outside_the_window_it_waits_for_the_opening() -> None:
    # 04:00 UTC is midnight in New York: the window opens at 08:00 EDT, 12:00 UTC.
    explained = explain_wait(_message(timezone="America/New_York"), POLICY, SHANGHAI_NOON)
    assert [(w.reason, w.until) for w in explained.waits] == [
        (WaitReason.CONTACT_WINDOW, datetime(2026, 6, 10, 12, 0, tzinfo=UTC))
    ]
    assert "08:00-20:00 America/New_York" in explained.waits[0].detail
    assert explained.goes_at == datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def test_a_business_date_not_yet_begun_where_the_recipient_is() -> None:
    # 04:00 UTC on 10 June is still 9 June, 18:00, in Honolulu: nothing before its own 10 June, 08:00.
    explained = explain_wait(_message(timezone="Pacific/Honolulu"), POLICY, SHANGHAI_NOON)
    assert [w.reason for w in explained.waits] == [WaitReason.BUSINESS_DATE, WaitReason.CONTACT_WINDOW]
    assert explained.goes_at == datetime(2026, 6, 10, 18, 0, tzinfo=UTC)  # 08:00 HST


def test_one_message_per_channel_per_local_day() -> None:
    earlier = (Channel.EMAIL, SHANGHAI_NOON - timedelta(hours=2))
    other_channel = (Channel.SMS, SHANGHAI_NOON - timedelta(hours=1))
    explained = explain_wait(_message(recent=(earlier, other_channel)), POLICY, SHANGHAI_NOON)
    assert [w.reason for w in explained.waits] == [WaitReason.SAME_CHANNEL_TODAY]
    assert explained.goes_at == datetime(2026, 6, 11, 0, 0, tzinfo=UTC)  # 08:00 the next day in Shanghai
    sms = explain_wait(_message(channel=Channel.SMS, recent=(earlier,)), POLICY, SHANGHAI_NOON)
    assert sms.waits == () and sms.goes_at == SHANGHAI_NOON


def test_the_seven_day_cap_waits_until_the_oldest_send_falls_out() -> None:
    sends = tuple((Channel.SMS, SHANGHAI_NOON - timedelta(days=d, hours=1)) for d in (6, 5, 4, 1))
    explained = explain_wait(_message(recent=sends), POLICY, SHANGHAI_NOON)
    assert [w.reason for w in explained.waits] == [WaitReason.WEEKLY_CAP]
    oldest = SHANGHAI_NOON - timedelta(days=6, hours=1)
    assert explained.goes_at == oldest + timedelta(days=7)
    assert "4 automated message(s) in the 7 days before; at most 4" in explained.waits[0].detail
    # tasks are not messages: a task message never waits for the window or the caps
    assert explain_wait(_message(channel=Channel.TASK, recent=sends), POLICY, SHANGHAI_NOON).waits == ()


def test_the_cap_can_push_a_message_out_of_the_window_and_into_the_next_day() -> None:
    # The slot frees at 19:30 Shanghai time on the 11th... then the e-mail sent that day holds it to the 12th.
    sends = (
        (Channel.SMS, datetime(2026, 6, 4, 11, 30, tzinfo=UTC)),
        (Channel.SMS, datetime(2026, 6, 5, 3, 0, tzinfo=UTC)),
        (Channel.SMS, datetime(2026, 6, 8, 3, 0, tzinfo=UTC)),
        (Channel.EMAIL, datetime(2026, 6, 9, 3, 0, tzinfo=UTC)),
    )
    explained = explain_wait(_message(recent=sends), POLICY, SHANGHAI_NOON)
    assert explained.goes_at == datetime(2026, 6, 11, 11, 30, tzinfo=UTC)  # 19:30 in Shanghai, in the window
    late = ((Channel.SMS, datetime(2026, 6, 4, 12, 30, tzinfo=UTC)), *sends[1:])
    pushed = explain_wait(_message(recent=late), POLICY, SHANGHAI_NOON)
    assert [w.reason for w in pushed.waits] == [WaitReason.WEEKLY_CAP, WaitReason.CONTACT_WINDOW]
    assert pushed.goes_at == datetime(2026, 6, 12, 0, 0, tzinfo=UTC)  # 20:30 is closed: 08:00 next morning


def test_a_retry_waits_for_its_backoff() -> None:
    retry_at = SHANGHAI_NOON + timedelta(minutes=10)
    explained = explain_wait(
        _message(attempts=1, last_error="421 try later", next_attempt_at=retry_at), POLICY, SHANGHAI_NOON
    )
    assert [(w.reason, w.until) for w in explained.waits] == [(WaitReason.RETRY, retry_at)]
    assert "attempt 1 failed (421 try later)" in explained.waits[0].detail
    assert explained.goes_at == retry_at
    # a backoff already over holds nothing
    assert (
        explain_wait(
            _message(attempts=1, last_error="x", next_attempt_at=SHANGHAI_NOON), POLICY, SHANGHAI_NOON
        ).waits
        == ()
    )


def test_a_pause_holds_until_the_day_after_its_last_day() -> None:
    explained = explain_wait(
        _message(paused_until=date(2026, 6, 12), pause_reason="audit"), POLICY, SHANGHAI_NOON
    )
    # the pause ends at midnight, the window opens at 08:00
    assert [w.reason for w in explained.waits] == [WaitReason.PAUSED, WaitReason.CONTACT_WINDOW]
    assert explained.waits[0].detail == "paused until 2026-06-12: audit"
    assert explained.goes_at == datetime(2026, 6, 13, 0, 0, tzinfo=UTC)  # 13 June, 08:00 in Shanghai
    ended = explain_wait(_message(paused_until=date(2026, 6, 9)), POLICY, SHANGHAI_NOON)
    assert ended.waits == ()


def test_an_approval_waits_for_a_person() -> None:
    explained = explain_wait(_message(approval_task=7), POLICY, SHANGHAI_NOON)
    assert [(w.reason, w.until) for w in explained.waits] == [(WaitReason.APPROVAL, None)]
    assert "dunbot approve 7" in explained.waits[0].detail
    assert explained.goes_at is None


def test_a_hold_the_gates_no_longer_explain_is_still_honoured() -> None:
    # e.g. held for the one-per-day rule by an SMS that was since cancelled
    held = SHANGHAI_NOON + timedelta(hours=3)
    explained = explain_wait(_message(next_attempt_at=held), POLICY, SHANGHAI_NOON)
    assert [(w.reason, w.until) for w in explained.waits] == [(WaitReason.HELD, held)]
    assert explained.goes_at == held
    # held into the night: then it waits for the window as well
    night = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)  # 21:00 in Shanghai
    late = explain_wait(_message(next_attempt_at=night), POLICY, SHANGHAI_NOON)
    assert [w.reason for w in late.waits] == [WaitReason.HELD, WaitReason.CONTACT_WINDOW]
    assert late.goes_at == datetime(2026, 6, 11, 0, 0, tzinfo=UTC)


def test_one_per_day_in_a_window_crossing_midnight_names_the_next_window_start() -> None:
    # Kept as `message show` always said it; the outbox retries at the next local midnight (when the
    # shared gate opens), inside a 22:00-06:00 window, so it sends earlier than named here.
    night = CompliancePolicy(window_start=time(22), window_end=time(6), max_messages_per_7d=4)
    late = datetime(2026, 6, 10, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    recent = ((Channel.EMAIL, late - timedelta(minutes=20)),)
    explained = explain_wait(_message(recent=recent), night, late)
    assert [w.reason for w in explained.waits] == [WaitReason.SAME_CHANNEL_TODAY]
    assert explained.goes_at == datetime(2026, 6, 11, 14, 0, tzinfo=UTC)  # 22:00 on the 11th
    held = contact_hold(late, Channel.EMAIL, "Asia/Shanghai", recent, night)
    assert held is not None and held.until == datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # midnight
