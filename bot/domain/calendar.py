"""Business days per country and contact windows per recipient time zone.

Business days come from the ``holidays`` package (national calendar, no subdivision), so China's
make-up working weekends (调休) count as working days. Countries the package does not know fall back
to Monday to Friday.

A contact window is [window_start, window_end) in the recipient's local time, every day. An end
before the start crosses midnight (22:00-06:00); an end equal to the start is the whole day (the
config's "00:00-24:00"; 24:00 is ``time(0)``, so "08:00-24:00" is 08:00 to midnight).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from bot.domain.policy import CompliancePolicy

_SATURDAY = 5


@lru_cache(maxsize=1024)
def _calendar(country: str, year: int) -> holidays.HolidayBase | None:
    # Building a holidays object is the expensive part (milliseconds); one per (country, year)
    # is enough for any number of customers.
    try:
        return holidays.country_holidays(country, years=year)
    except NotImplementedError:
        return None


def _normalise(country: str) -> str:
    return country.strip().upper()


def supported(country: str) -> bool:
    """True when ``holidays`` knows the public holidays of ``country`` (ISO 3166 code)."""
    return _calendar(_normalise(country), 2000) is not None


@lru_cache(maxsize=65536)
def is_business_day(country: str, day: date) -> bool:
    """True when ``day`` is a working day in ``country``: not a weekend, not a public holiday.

    Make-up working weekends are working days; unsupported countries work Monday to Friday.
    """
    calendar = _calendar(_normalise(country), day.year)
    if calendar is None:
        return day.weekday() < _SATURDAY
    return bool(calendar.is_working_day(day))


def next_business_day(country: str, day: date) -> date:
    """The first business day strictly after ``day``."""
    candidate = day + timedelta(days=1)
    while not is_business_day(country, candidate):
        candidate += timedelta(days=1)
    return candidate


def days_between(start: date, end: date) -> int:
    """Signed number of days from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    return (end - start).days


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}; use an IANA name such as 'Asia/Shanghai'") from None


def _require_aware(now_utc: datetime) -> None:
    if now_utc.tzinfo is None or now_utc.utcoffset() is None:
        raise ValueError("now_utc must be timezone-aware (UTC); the clock is read once, at the edge")


def in_contact_window(now_utc: datetime, tz: str, policy: CompliancePolicy) -> bool:
    """True when the local time at ``tz`` lies in [window_start, window_end).

    A window whose end is before its start (e.g. 22:00-06:00) spans midnight; one whose end equals
    its start is open all day.
    """
    _require_aware(now_utc)
    local = now_utc.astimezone(_zone(tz)).time().replace(tzinfo=None)
    start, end = policy.window_start, policy.window_end
    if start == end:
        return True
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_window_opening(now_utc: datetime, tz: str, policy: CompliancePolicy) -> datetime:
    """The earliest instant at or after ``now_utc`` inside the contact window, in UTC.

    ``now_utc`` itself when the window is open now.
    """
    _require_aware(now_utc)
    if in_contact_window(now_utc, tz, policy):
        return now_utc.astimezone(UTC)
    zone = _zone(tz)
    local_day = now_utc.astimezone(zone).date()
    # Today's opening if still ahead, else tomorrow's; two days cover DST shifts around midnight.
    for offset in range(3):
        opening = datetime.combine(local_day + timedelta(days=offset), policy.window_start, tzinfo=zone)
        opening_utc = opening.astimezone(UTC)
        if opening_utc >= now_utc:
            return opening_utc
    raise AssertionError("unreachable: a daily window opens within three days")


def window_opening_on(day: date, tz: str, policy: CompliancePolicy) -> datetime:
    """The first instant of the local date ``day`` at ``tz`` inside the contact window, in UTC.

    Local midnight when the window is open then (all day, or a window that crosses midnight), else
    the window's start on ``day``.
    """
    zone = _zone(tz)
    midnight = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    if in_contact_window(midnight, tz, policy):
        return midnight
    return datetime.combine(day, policy.window_start, tzinfo=zone).astimezone(UTC)


def contact_time(now_utc: datetime, business_date: date, tz: str, policy: CompliancePolicy) -> datetime:
    """When a message planned for ``business_date`` may go out to a recipient at ``tz``, in UTC.

    On the recipient's local date ``business_date`` inside the window: never earlier (a recipient
    west of the company is still on the day before when the company's cycle runs), and not a day
    later. When that date is over, or its window has closed, the message is late and goes at the
    next window opening (``now_utc`` itself when the window is open): it was decided on a business
    day, and waiting for another would only make it later.
    """
    _require_aware(now_utc)
    if now_utc.astimezone(_zone(tz)).date() < business_date:
        return window_opening_on(business_date, tz, policy)
    return next_window_opening(now_utc, tz, policy)
