"""A country's time zones, from the IANA tz database's own country table (DESIGN §4 rule 3).

``zone.tab`` (shipped by the ``tzdata`` package, which tracks the IANA releases) lists every zone of
every country. Several of them keep the same clock today and differ only in history (Germany's
Europe/Berlin and Europe/Busingen; the Eastern zones of the United States): for reaching a customer
inside a contact window only the clock from now on matters, so zones whose UTC offsets agree over
the coming years count as one. A country with one such clock gives its customers their timezone;
one with several makes the ledger name it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

# How far ahead two zones must keep the same clock to count as one: two years cover every DST
# rule in force, and a change announced for later is in a later tzdata release by then.
_HORIZON_DAYS = 2 * 366
_SAMPLE_HOURS = (0, 6, 12, 18)


@lru_cache(maxsize=1)
def _zone_table() -> dict[str, tuple[str, ...]]:
    """country (ISO 3166 alpha-2) -> its zones, in the order of ``zone.tab``."""
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    zones: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        zones.setdefault(fields[0], []).append(fields[2])
    return {country: tuple(names) for country, names in zones.items()}


@lru_cache(maxsize=1)
def _present_day_names() -> frozenset[str]:
    """The zones ``zonenow.tab`` names for each present-day clock: the best name for a group."""
    text = resources.files("tzdata").joinpath("zoneinfo", "zonenow.tab").read_text(encoding="utf-8")
    return frozenset(line.split("\t")[2] for line in text.splitlines() if line and not line.startswith("#"))


def country_zones(country: str) -> tuple[str, ...]:
    """Every zone the tz database lists for ``country`` (empty for a country it does not list)."""
    return _zone_table().get(country.upper(), ())


def _instants(start: date) -> Iterator[datetime]:
    first = datetime(start.year, start.month, start.day, tzinfo=UTC)
    for day in range(_HORIZON_DAYS):
        for hour in _SAMPLE_HOURS:
            yield first + timedelta(days=day, hours=hour)


@lru_cache(maxsize=256)
def present_day_zones(country: str, year: int) -> tuple[str, ...]:
    """One zone per distinct clock of ``country`` from 1 January of ``year`` on.

    Each clock is named by the zone ``zonenow.tab`` uses for it, else by its first zone in
    ``zone.tab`` (Europe/Berlin for Germany; America/New_York, America/Chicago, ... for the US).
    """
    groups: dict[tuple[timedelta | None, ...], list[str]] = {}
    instants = list(_instants(date(year, 1, 1)))
    for name in country_zones(country):
        zone = ZoneInfo(name)
        offsets = tuple(instant.astimezone(zone).utcoffset() for instant in instants)
        groups.setdefault(offsets, []).append(name)
    preferred = _present_day_names()
    return tuple(next((n for n in names if n in preferred), names[0]) for names in groups.values())
