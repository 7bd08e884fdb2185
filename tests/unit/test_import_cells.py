"""Issue 16's cell rules over every value the importer accepts: never an exception but ValueError."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import phonenumbers
import pytest

from bot.ingest.schema import ImportDefaults, clean_cells, country, country_timezone, currency
from bot.ingest.zones import present_day_zones

SHANGHAI = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")


@pytest.mark.parametrize("code", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_every_accepted_country_gives_a_zone_or_says_which_to_choose(code: str) -> None:
    accepted = country(code)
    try:
        zone = country_timezone(accepted, SHANGHAI, 2026)
    except ValueError as exc:
        message = str(exc)
        assert message.startswith("is empty and "), message
        zones = present_day_zones(accepted, 2026)
        assert len(zones) != 1 and all(name in message for name in zones)
    else:
        assert ZoneInfo(zone).key == zone


def test_the_company_country_takes_the_company_zone_only_when_it_is_one_of_its_zones() -> None:
    assert country_timezone("CN", SHANGHAI, 2026) == "Asia/Shanghai"
    utc_company = ImportDefaults(country="CN", timezone="UTC", language="zh-CN")
    with pytest.raises(ValueError, match="CN has 2 time zones; write one of Asia/Shanghai, Asia/Urumqi"):
        country_timezone("CN", utc_company, 2026)


@pytest.mark.parametrize(
    ("text", "stored"), [("CNY", "CNY"), ("usd", "USD"), ("JPY", "JPY"), ("XOF", "XOF"), ("KWD", "KWD")]
)
def test_iso_4217_codes_in_use_are_accepted(text: str, stored: str) -> None:
    assert currency(text) == stored


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RMB", "write CNY (RMB → CNY)"),
        ("XYZ", "not an ISO 4217 currency code in use"),
        ("DEM", "not an ISO 4217 currency code in use"),  # withdrawn with the euro
        ("XXX", "not an ISO 4217 currency code in use"),  # ISO's "no currency"
        ("€", "not an ISO 4217 currency code such as CNY or USD"),
    ],
)
def test_other_currencies_are_refused(text: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        currency(text)


def test_cells_lose_terminal_controls_and_bidi_overrides_and_keep_text_tabs_and_line_breaks() -> None:
    cells = {
        "name": "杭州\x1b[2J远航\x00\x7f\x85\x9b贸易\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
        "address": "上海市\r\n浦东新区\tA座\n3楼\rX",
        "tax_id": "שלום\u200e עולם",  # a left-to-right MARK is ordinary text in Hebrew or Arabic
        "email": "ap@example.cn",
    }
    cleaned, columns = clean_cells(cells)
    assert cleaned == {
        "name": "杭州[2J远航贸易",
        "address": "上海市\r\n浦东新区\tA座\n3楼X",
        "tax_id": "שלום\u200e עולם",
        "email": "ap@example.cn",
    }
    assert columns == ["name", "address"]
    assert clean_cells({"name": "".join(map(chr, range(0x20)))}) == ({"name": "\t\n"}, ["name"])
