"""Business days per country and contact windows per time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import holidays
import pytest

from bot.domain.calendar import (
    days_between,
    in_contact_window,
    is_business_day,
    next_business_day,
    next_window_opening,
    supported,
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
