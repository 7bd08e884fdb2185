"""Business days per country and contact windows per time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import parse_window
from bot.domain.calendar import (
    contact_time,
    days_between,
    in_contact_window,
    is_business_day,
    next_business_day,
    next_window_opening,
    supported,
    window_opening_on,
)
from bot.domain.policy import CompliancePolicy

POLICY = CompliancePolicy()


def test_china_national_day_is_off() -> None:
    assert not is_business_day("CN", date(2026, 10, 1))


def test_china_make_up_working_saturday_is_a_business_day() -> None:
    cn = holidays.country_holidays("CN", years=2026)
    make_up_days = sorted(d for d in cn.weekend_workdays if d.year == 2026)
    assert date(2026, 2, 14) in make_up_days  # worked to lengthen the Spring Festival
    for day in make_up_days:
        assert day.weekday() >= 5
        assert is_business_day("CN", day)


def test_ordinary_weekend_and_weekday_in_china() -> None:
    assert not is_business_day("CN", date(2026, 3, 14))  # Saturday
    assert is_business_day("CN", date(2026, 3, 10))  # Tuesday


def test_us_independence_day_and_its_observed_friday() -> None:
    assert not is_business_day("US", date(2025, 7, 4))  # a Friday
    assert not is_business_day("US", date(2026, 7, 3))  # Friday observed for Saturday 4 July
    assert is_business_day("US", date(2026, 7, 6))


def test_unsupported_country_falls_back_to_monday_to_friday() -> None:
    assert not supported("XX")
    assert is_business_day("XX", date(2026, 10, 1))  # Thursday; no holidays known
    assert not is_business_day("XX", date(2026, 10, 3))  # Saturday


def test_supported_countries_ignore_case() -> None:
    assert supported("CN")
    assert supported("cn")
    assert not is_business_day("cn", date(2026, 10, 1))


def test_next_business_day_skips_the_golden_week() -> None:
    assert next_business_day("CN", date(2026, 9, 30)) == date(2026, 10, 8)


def test_days_between_is_signed() -> None:
    assert days_between(date(2026, 1, 1), date(2026, 1, 11)) == 10
    assert days_between(date(2026, 1, 11), date(2026, 1, 1)) == -10


# 08:00 in Shanghai (UTC+8) is 00:00 UTC.
@pytest.mark.parametrize(
    ("now_utc", "inside"),
    [
        (datetime(2026, 3, 10, 0, 0, tzinfo=UTC), True),
        (datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 3, 10, 11, 59, tzinfo=UTC), True),
        (datetime(2026, 3, 10, 12, 0, tzinfo=UTC), False),  # 20:00: the window end is exclusive
    ],
)
def test_contact_window_in_the_customer_time_zone(now_utc: datetime, inside: bool) -> None:
    assert in_contact_window(now_utc, "Asia/Shanghai", POLICY) is inside


def test_next_window_opening_is_now_inside_the_window() -> None:
    now = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    assert next_window_opening(now, "Asia/Shanghai", POLICY) == now


def test_next_window_opening_after_the_evening_is_tomorrow_morning() -> None:
    now = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)  # 21:00 in Shanghai
    assert next_window_opening(now, "Asia/Shanghai", POLICY) == datetime(2026, 3, 11, 0, 0, tzinfo=UTC)


def test_next_window_opening_early_morning_is_the_same_day() -> None:
    now = datetime(2026, 3, 9, 20, 0, tzinfo=UTC)  # 04:00 on 10 March in Shanghai
    assert next_window_opening(now, "Asia/Shanghai", POLICY) == datetime(2026, 3, 10, 0, 0, tzinfo=UTC)


def test_next_window_opening_follows_daylight_saving() -> None:
    # New York springs forward on 8 March 2026: 08:00 is 13:00 UTC the day before, 12:00 UTC on it.
    before = next_window_opening(datetime(2026, 3, 7, 2, 0, tzinfo=UTC), "America/New_York", POLICY)
    after = next_window_opening(datetime(2026, 3, 8, 2, 0, tzinfo=UTC), "America/New_York", POLICY)
    assert before == datetime(2026, 3, 7, 13, 0, tzinfo=UTC)
    assert after == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def test_window_may_span_midnight() -> None:
    night = CompliancePolicy(window_start=time(22, 0), window_end=time(6, 0))
    assert in_contact_window(datetime(2026, 3, 10, 23, 0, tzinfo=UTC), "UTC", night)
    assert in_contact_window(datetime(2026, 3, 10, 5, 0, tzinfo=UTC), "UTC", night)
    assert not in_contact_window(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), "UTC", night)


def test_next_window_opening_is_never_before_now_and_always_inside() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for hour in range(0, 24 * 3):
        now = start + timedelta(hours=hour, minutes=17)
        opening = next_window_opening(now, "Europe/London", POLICY)
        assert opening >= now
        assert in_contact_window(opening, "Europe/London", POLICY)


def test_naive_instants_and_unknown_zones_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        in_contact_window(datetime(2026, 3, 10, 9, 0), "Asia/Shanghai", POLICY)
    with pytest.raises(ValueError, match="unknown time zone"):
        in_contact_window(datetime(2026, 3, 10, 9, 0, tzinfo=UTC), "Mars/Olympus", POLICY)


def _policy(window: str) -> CompliancePolicy:
    start, end = parse_window(window)
    return CompliancePolicy(window_start=start, window_end=end)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# Any window the config accepts: start 00:00-23:59, end 00:01-24:00, not the same minute.
windows = st.tuples(st.integers(0, 24 * 60 - 1), st.integers(1, 24 * 60)).filter(lambda w: w[0] != w[1])
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
zones = st.sampled_from(["UTC", "Asia/Shanghai", "Europe/London", "America/New_York", "Pacific/Honolulu"])


@given(window=windows, now=instants, tz=zones)
def test_the_config_and_the_domain_agree_on_every_window(
    window: tuple[int, int], now: datetime, tz: str
) -> None:
    """The config's text, read as minutes of the day, decides exactly what the domain decides."""
    start, end = window
    policy = _policy(f"{_hhmm(start)}-{_hhmm(end)}")
    local = now.astimezone(ZoneInfo(tz))
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else minute >= start or minute < end
    assert in_contact_window(now, tz, policy) is inside


@given(window=windows, now=instants, tz=zones)
def test_the_next_opening_is_never_before_now_and_inside_the_window(
    window: tuple[int, int], now: datetime, tz: str
) -> None:
    policy = _policy(f"{_hhmm(window[0])}-{_hhmm(window[1])}")
    opening = next_window_opening(now, tz, policy)
    assert opening >= now
    assert in_contact_window(opening, tz, policy)
    assert opening - now <= timedelta(hours=25)  # the next day's opening at the latest (DST: 25 h)


def test_all_day_is_open_at_every_minute() -> None:
    all_day = _policy("00:00-24:00")
    start = datetime(2026, 3, 10, tzinfo=UTC)
    assert all(in_contact_window(start + timedelta(minutes=m), "Asia/Shanghai", all_day) for m in range(1440))
    assert next_window_opening(start, "Asia/Shanghai", all_day) == start


def test_a_window_to_24_00_closes_at_midnight() -> None:
    evening = _policy("08:00-24:00")
    assert in_contact_window(datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC), "UTC", evening)
    assert not in_contact_window(datetime(2026, 3, 11, 0, 0, tzinfo=UTC), "UTC", evening)
    assert not in_contact_window(datetime(2026, 3, 11, 7, 59, tzinfo=UTC), "UTC", evening)


def test_window_opening_on_a_local_date() -> None:
    # 08:00 on 10 March in Los Angeles (UTC-7 after 8 March) is 15:00 UTC.
    assert window_opening_on(date(2026, 3, 10), "America/Los_Angeles", POLICY) == datetime(
        2026, 3, 10, 15, 0, tzinfo=UTC
    )
    # A window across midnight is already open at the first instant of the date.
    night = _policy("22:00-06:00")
    assert window_opening_on(date(2026, 3, 10), "UTC", night) == datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
    assert window_opening_on(date(2026, 3, 10), "UTC", _policy("08:00-24:00")) == datetime(
        2026, 3, 10, 8, 0, tzinfo=UTC
    )


MONDAY = date(2026, 12, 7)
ONE_AM_UTC = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai on Monday: the default tick


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("Asia/Shanghai", ONE_AM_UTC),  # 09:00: open now
        ("Australia/Sydney", ONE_AM_UTC),  # 12:00: open now
        ("Europe/London", datetime(2026, 12, 7, 8, 0, tzinfo=UTC)),  # 01:00: later today
        ("Europe/Berlin", datetime(2026, 12, 7, 7, 0, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 12, 7, 13, 0, tzinfo=UTC)),
        ("America/Los_Angeles", datetime(2026, 12, 7, 16, 0, tzinfo=UTC)),  # still Sunday there
        ("Pacific/Honolulu", datetime(2026, 12, 7, 18, 0, tzinfo=UTC)),  # still Sunday there
    ],
)
def test_a_message_for_monday_goes_inside_the_window_on_the_local_monday(tz: str, expected: datetime) -> None:
    when = contact_time(ONE_AM_UTC, MONDAY, tz, POLICY)
    assert when == expected
    assert when.astimezone(ZoneInfo(tz)).date() == MONDAY
    assert in_contact_window(when, tz, POLICY)


def test_a_message_whose_window_is_over_goes_at_the_next_opening_late() -> None:
    evening = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)  # 21:00 Monday in London: the window closed
    when = contact_time(evening, MONDAY, "Europe/London", POLICY)
    assert when == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # Tuesday 08:00
    # Down through the whole window, back inside the next day's window: now.
    tuesday_ten = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
    assert contact_time(tuesday_ten, MONDAY, "Europe/London", POLICY) == tuesday_ten


def test_a_window_across_midnight_keeps_the_evening_of_the_date() -> None:
    night = _policy("22:00-06:00")
    morning = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # 07:00 Monday: the night window has closed
    assert contact_time(morning, MONDAY, "UTC", night) == datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
    sunday_evening = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)  # open, but still Sunday
    assert contact_time(sunday_evening, MONDAY, "UTC", night) == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


@given(
    window=windows,
    now=instants,
    tz=zones,
    offset=st.integers(-3, 3),
)
def test_contact_time_is_on_the_date_or_later_never_before(
    window: tuple[int, int], now: datetime, tz: str, offset: int
) -> None:
    policy = _policy(f"{_hhmm(window[0])}-{_hhmm(window[1])}")
    local_today = now.astimezone(ZoneInfo(tz)).date()
    planned = local_today + timedelta(days=offset)
    when = contact_time(now, planned, tz, policy)
    local_day = when.astimezone(ZoneInfo(tz)).date()
    assert when >= now
    assert in_contact_window(when, tz, policy)
    assert local_day >= planned  # never on an earlier local date
    if local_day > planned:  # late: only because no minute of the planned date was left inside the window
        zone = ZoneInfo(tz)
        minute = max(now, datetime.combine(planned, time(0), tzinfo=zone).astimezone(UTC))
        minute = minute.replace(second=0, microsecond=0)
        while minute.astimezone(zone).date() == planned:
            assert minute < now or not in_contact_window(minute, tz, policy), minute
            minute += timedelta(minutes=1)
