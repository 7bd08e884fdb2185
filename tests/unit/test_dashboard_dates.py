"""The dates of the dashboard's DSO/CEI history."""

from __future__ import annotations

from datetime import date

from bot.reporting.dashboard import history_dates


def test_twelve_month_ends_then_today() -> None:
    dates = history_dates(date(2026, 3, 10))
    assert dates[0] == date(2025, 3, 31) and dates[-2] == date(2026, 2, 28) and dates[-1] == date(2026, 3, 10)
    assert len(dates) == 13 and list(dates) == sorted(dates)
    assert date(2025, 12, 31) in dates and date(2024, 2, 29) not in dates


def test_a_month_end_is_not_counted_twice() -> None:
    dates = history_dates(date(2024, 2, 29), months=3)
    assert dates == (date(2023, 12, 31), date(2024, 1, 31), date(2024, 2, 29))


def test_no_history_is_just_today() -> None:
    assert history_dates(date(2026, 11, 23), months=0) == (date(2026, 11, 23),)
