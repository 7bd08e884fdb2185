"""What a valid row of each entity looks like (DESIGN §2), one parser per column.

A parser takes the cell text (already stripped) and returns the stored value or raises ``ValueError``
whose message is shown to the user after ``FILE:LINE: column:``. Parsing never touches the database;
references to other rows (an invoice's customer, a payment's invoice) are checked by the service.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from bot.domain.ledger import TIER_ALIASES, InvoiceStatus, Language
from bot.domain.money import minor_units, parse_amount
from bot.ingest.zones import country_zones, present_day_zones

Parser = Callable[[str], Any]

_CURRENCY = re.compile(r"[A-Z]{3}")
# ISO 4217 reserves these for tests and for "no currency": no invoice is owed in them.
_NOT_MONEY = frozenset({"XTS", "XXX"})
# Names people write for a currency in place of its code (a hint only; the list is pycountry's).
_COMMON_NAMES = {"RMB": "CNY", "NTD": "TWD", "NIS": "ILS", "STG": "GBP", "UKL": "GBP"}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = frozenset({"true", "yes", "y", "1", "是"})
_FALSE = frozenset({"false", "no", "n", "0", "否"})
MAX_KEY_LENGTH = 64


@dataclass(frozen=True, slots=True)
class ImportDefaults:
    """Values for empty optional customer cells: the company's own country, timezone and language.

    ``timezone`` fills an empty cell only for customers in the company's own country; elsewhere an
    empty timezone is the country's (see :func:`country_timezone`).
    """

    country: str
    timezone: str
    language: str


@dataclass(frozen=True, slots=True)
class Column:
    """One CSV column: its parser, whether it must be filled, and the value an empty cell takes."""

    name: str
    parse: Parser
    required: bool = False
    default: Any = None


@dataclass(frozen=True, slots=True)
class Entity:
    """An importable entity: its table's key column, the exact CSV header and the column parsers."""

    name: str
    key: str
    columns: tuple[Column, ...]

    @property
    def header(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


# --- cell parsers -----------------------------------------------------------------------------


def key(text: str) -> str:
    if len(text) > MAX_KEY_LENGTH:
        raise ValueError(f"is {len(text)} characters long; at most {MAX_KEY_LENGTH} are allowed")
    if any(ch.isspace() and ch != " " for ch in text):
        raise ValueError(f"{text!r} contains a tab or line break")
    return text


def text(value: str) -> str:
    return value


def iso_date(value: str) -> date:
    if not _ISO_DATE.fullmatch(value):
        raise ValueError(f"{value!r} is not a date; write YYYY-MM-DD, e.g. 2026-03-31")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a calendar date") from None


def amount(value: str) -> Decimal:
    parsed = parse_amount(value)
    if parsed < 0:
        raise ValueError(f"{value!r} is negative; amounts must be zero or more")
    return parsed


def positive_amount(value: str) -> Decimal:
    parsed = amount(value)
    if parsed == 0:
        raise ValueError(f"{value!r} is zero; it must be more than zero")
    return parsed


def rate(value: str) -> Decimal:
    parsed = amount(value)
    if parsed > 1:
        raise ValueError(f"{value!r} is a fraction per day or per penalty, e.g. 0.001 or 0.02; not above 1")
    return parsed


def count(value: str) -> int:
    if not re.fullmatch(r"\+?\d+", value):
        raise ValueError(f"{value!r} is not a whole number of zero or more")
    parsed = int(value)
    if parsed > 100_000:
        raise ValueError(f"{value!r} is implausibly large")
    return parsed


def flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{value!r} is not true or false")


def tier(value: str) -> str:
    found = TIER_ALIASES.get(value.lower())
    if found is None:
        raise ValueError(f"{value!r} is not a tier; use strategic, cooperative or cautious (or leave empty)")
    return found.value


@lru_cache(maxsize=1)
def _regions() -> frozenset[str]:
    return frozenset(phonenumbers.SUPPORTED_REGIONS)


def country(value: str) -> str:
    code = value.upper()
    if code not in _regions():
        raise ValueError(f"{value!r} is not an ISO 3166 country code such as CN, US or DE")
    return code


@lru_cache(maxsize=512)
def timezone(value: str) -> str:
    if "/" not in value and value != "UTC":
        raise ValueError(f"{value!r} is not an IANA time zone such as Asia/Shanghai")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as Asia/Shanghai") from None
    return value


def language(value: str) -> str:
    for known in Language:
        if value.lower() == known.value.lower():
            return known.value
    raise ValueError(f"{value!r} is not a supported language; use {' or '.join(v.value for v in Language)}")


def email(value: str) -> str:
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not a valid e-mail address ({exc})") from None


def country_timezone(code: str, company: ImportDefaults, year: int) -> str:
    """The timezone of a customer in ``code`` whose file left it empty, or ``ValueError`` naming the
    zones to choose from.

    In the company's own country it is the company's timezone (the config names the clock the
    company keeps at home, e.g. Asia/Shanghai rather than Asia/Urumqi); elsewhere the country's one
    present-day clock (Europe/London for GB); a country with several (US, AU, RU) must name one.
    """
    if code == company.country and company.timezone in country_zones(code):
        return company.timezone
    zones = present_day_zones(code, year)
    if len(zones) == 1:
        return zones[0]
    if not zones:
        raise ValueError(f"is empty and the tz database names no zone for {code}; write one, e.g. UTC")
    raise ValueError(f"is empty and {code} has {len(zones)} time zones; write one of {', '.join(zones)}")


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(entry.alpha_3 for entry in pycountry.currencies) - _NOT_MONEY


def currency(value: str) -> str:
    code = value.upper()
    if code in _currencies():
        return code
    if code in _COMMON_NAMES:
        raise ValueError(
            f"{value!r} is not an ISO 4217 currency code; write {_COMMON_NAMES[code]} "
            f"({code} → {_COMMON_NAMES[code]})"
        )
    if _CURRENCY.fullmatch(code):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code in use, such as CNY, USD or EUR")
    raise ValueError(f"{value!r} is not an ISO 4217 currency code such as CNY or USD")


def invoice_status(value: str) -> str:
    try:
        return InvoiceStatus(value.lower()).value
    except ValueError:
        choices = ", ".join(s.value for s in InvoiceStatus)
        raise ValueError(f"{value!r} is not a status; use {choices} (empty means open)") from None


def phone(value: str, region: str) -> str:
    """Normalise to E.164; a number without ``+`` is read as a number of ``region``."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{value!r} is not a phone number; write it in E.164, e.g. +8613800138000") from None
    if not phonenumbers.is_valid_number(number):
        if value.startswith("+"):
            # Written in E.164 already: say which country's numbering plan it fails, not how to write it.
            code = number.country_code or 0
            regions = phonenumbers.region_codes_for_country_code(code)
            where = region if region in regions else (regions[0] if regions else "")
            if where in ("", phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY):
                where = f"+{code}"
            raise ValueError(f"{value!r} is not a valid phone number for {where}{_why_invalid(number)}")
        raise ValueError(f"{value!r} is not a valid phone number; write it in E.164, e.g. +8613800138000")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_LENGTH_PROBLEMS = {
    phonenumbers.ValidationResult.TOO_SHORT: " (too short)",
    phonenumbers.ValidationResult.TOO_LONG: " (too long)",
    phonenumbers.ValidationResult.INVALID_LENGTH: " (no number there has that many digits)",
}


def _why_invalid(number: phonenumbers.PhoneNumber) -> str:
    return _LENGTH_PROBLEMS.get(phonenumbers.is_possible_number_with_reason(number), "")


def check_scale(value: Decimal, currency_code: str) -> str | None:
    """A message when ``value`` has more decimals than ``currency_code`` allows, else None."""
    places = minor_units(currency_code)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        return f"{value} has more decimals than {currency_code} allows ({places})"
    return None


# --- entities ---------------------------------------------------------------------------------

CUSTOMERS = Entity(
    name="customers",
    key="id",
    columns=(
        Column("id", key, required=True),
        Column("name", text, required=True),
        Column("tax_id", text),
        Column("tier", tier),
        Column("country", country),
        Column("timezone", timezone),
        Column("language", language),
        Column("email", email),
        Column("phone", text),  # checked against the row's country in parse_row
        Column("address", text),
        Column("account_manager", email),
        Column("payment_terms_days", count, default=30),
        Column("credit_limit", amount),
        Column("industry", text),
        Column("annual_revenue", amount),
        Column("open_lawsuits", count, default=0),
        Column("do_not_contact", flag, default=False),
    ),
)

CONTRACTS = Entity(
    name="contracts",
    key="ref",
    columns=(
        Column("ref", key, required=True),
        Column("grace_days", count),
        Column("daily_rate", rate),
        Column("penalty_rate", rate),
        Column("penalty_after_days", count),
        Column("jurisdiction", text),
    ),
)

INVOICES = Entity(
    name="invoices",
    key="number",
    columns=(
        Column("number", key, required=True),
        Column("customer_id", key, required=True),
        Column("currency", currency, required=True),
        Column("amount", positive_amount, required=True),
        Column("issue_date", iso_date, required=True),
        Column("due_date", iso_date, required=True),
        Column("contract_ref", key),
        Column("status", invoice_status),
    ),
)

PAYMENTS = Entity(
    name="payments",
    key="reference",
    columns=(
        Column("reference", key, required=True),
        Column("invoice_number", key, required=True),
        Column("amount", positive_amount, required=True),
        Column("paid_on", iso_date, required=True),
    ),
)

ENTITIES: Mapping[str, Entity] = {e.name: e for e in (CUSTOMERS, CONTRACTS, INVOICES, PAYMENTS)}
# Import order that satisfies every reference.
IMPORT_ORDER = ("contracts", "customers", "invoices", "payments")


# Control characters a terminal or a text viewer obeys rather than shows: C0 but tab and line feed (a
# carriage return only where it ends a line, as Windows writes multi-line cells), DEL, C1, and the
# bidirectional overrides and isolates that make a name read otherwise than it is stored.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|\r(?!\n)")


def clean_cells(cells: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The cells without control characters, and the columns that had any.

    Imports store the cleaned text; the evidence keeps the cells as imported (see the service).
    """
    cleaned: dict[str, str] = {}
    columns: list[str] = []
    for column, value in cells.items():
        if _CONTROLS.search(value):
            value = _CONTROLS.sub("", value)
            columns.append(column)
        cleaned[column] = value
    return cleaned, columns


def parse_row(
    entity: Entity, cells: Mapping[str, str], defaults: ImportDefaults, today: date
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Parse one row; returns the values by column and the ``(column, message)`` problems.

    ``today`` is the import's date in the company's timezone (the clock is read by the caller).
    """
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for column in entity.columns:
        raw = cells.get(column.name, "").strip()
        if not raw:
            if column.required:
                problems.append((column.name, "is empty; a value is required"))
            values[column.name] = column.default
            continue
        try:
            values[column.name] = column.parse(raw)
        except ValueError as exc:
            problems.append((column.name, str(exc)))
            values[column.name] = None
    if entity is CUSTOMERS:
        _customer_rules(values, problems, defaults, today)
    elif entity is INVOICES:
        _invoice_rules(values, problems)
    return values, problems


def _customer_rules(
    values: dict[str, Any], problems: list[tuple[str, str]], defaults: ImportDefaults, today: date
) -> None:
    failed = {column for column, _ in problems}
    for column, fallback in (("country", defaults.country), ("language", defaults.language)):
        if values[column] is None and column not in failed:
            values[column] = fallback
    if values["timezone"] is None and not failed & {"timezone", "country"}:
        try:
            values["timezone"] = country_timezone(values["country"], defaults, today.year)
        except ValueError as exc:
            problems.append(("timezone", str(exc)))
    if values["phone"] and "country" not in failed:
        try:
            values["phone"] = phone(values["phone"], values["country"])
        except ValueError as exc:
            problems.append(("phone", str(exc)))
    if values["name"] is not None and len(values["name"]) > 200:
        problems.append(("name", "is longer than 200 characters"))


def _invoice_rules(values: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    if values["status"] is None:
        values["status"] = InvoiceStatus.OPEN.value
    issued, due = values["issue_date"], values["due_date"]
    if isinstance(issued, date) and isinstance(due, date) and due < issued:
        problems.append(("due_date", f"{due} is before the issue date {issued}"))
    if values["amount"] is not None and values["currency"] is not None:
        message = check_scale(values["amount"], values["currency"])
        if message:
            problems.append(("amount", message))
