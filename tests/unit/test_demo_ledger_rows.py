"""The demo ledger on its own: deterministic, well-formed row by row, consistent, and due on every step."""

from __future__ import annotations

import csv
import tomllib
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email

from bot.config import EXAMPLE_CONFIG
from bot.ingest.demo_ledger import DemoLedgerFiles, generate_demo_ledger

AS_OF = date(2026, 11, 23)  # a Monday

HEADERS = {
    "customers": "id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,"
    "payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact",
    "invoices": "number,customer_id,currency,amount,issue_date,due_date,contract_ref,status",
    "payments": "reference,invoice_number,amount,paid_on",
    "contracts": "ref,grace_days,daily_rate,penalty_rate,penalty_after_days,jurisdiction",
}
TIMEZONE_OF = {
    "CN": "Asia/Shanghai",
    "US": "America/New_York",
    "GB": "Europe/London",
    "DE": "Europe/Berlin",
    "SG": "Asia/Singapore",
    "JP": "Asia/Tokyo",
    "HK": "Asia/Hong_Kong",
}
CURRENCY_OF = {"CN": "CNY", "US": "USD", "GB": "GBP", "DE": "EUR", "SG": "SGD", "JP": "JPY", "HK": "HKD"}
ENTITIES = ("customers", "contracts", "invoices", "payments")


def _config() -> dict[str, object]:
    with Path(EXAMPLE_CONFIG).open("rb") as handle:
        return tomllib.load(handle)


def _ladder_days() -> set[int]:
    ladders = _config()["ladder"]
    assert isinstance(ladders, dict)
    # [ladder] holds the tactics' step arrays and settings beside them (demand_lead_days)
    return {int(step["day"]) for steps in ladders.values() if isinstance(steps, list) for step in steps}


def _industries() -> set[str]:
    scorecard = _config()["scorecard"]
    assert isinstance(scorecard, dict)
    return set(scorecard["industry_risk"])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _decimal(value: str, *, places: int = 2) -> Decimal:
    """A plain decimal (no exponent, no sign, no grouping) with at most ``places`` decimals, ≥ 0."""
    assert value == value.strip() and "e" not in value.lower() and "," not in value, value
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the assertion message is the point
        pytest.fail(f"not a decimal: {value!r}")
    assert number.is_finite() and number >= 0, value
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int) and -exponent <= places, value
    return number


def _iso(value: str) -> date:
    assert len(value) == 10, value
    parsed = date.fromisoformat(value)
    assert parsed.isoformat() == value
    return parsed


def _valid_email(value: str) -> None:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:  # pragma: no cover - the failure message is the point
        pytest.fail(f"invalid e-mail {value!r}: {error}")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> DemoLedgerFiles:
    return generate_demo_ledger(tmp_path_factory.mktemp("demo") / "nested" / "ledger", AS_OF)


@pytest.fixture(scope="module")
def paid(ledger: DemoLedgerFiles) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in _rows(ledger.payments):
        totals[row["invoice_number"]] += Decimal(row["amount"])
    return totals


def _outstanding(invoice: dict[str, str], paid: dict[str, Decimal]) -> Decimal:
    return Decimal(invoice["amount"]) - paid.get(invoice["number"], Decimal(0))


def test_same_date_and_seed_give_byte_identical_files(tmp_path: Path) -> None:
    first = generate_demo_ledger(tmp_path / "a", AS_OF)
    second = generate_demo_ledger(tmp_path / "b", AS_OF, seed=7)
    other = generate_demo_ledger(tmp_path / "c", AS_OF, seed=8)
    for entity in ENTITIES:
        assert getattr(first, entity).read_bytes() == getattr(second, entity).read_bytes()
    assert first.promises == second.promises and first.disputes == second.disputes
    assert any(getattr(first, e).read_bytes() != getattr(other, e).read_bytes() for e in ENTITIES)


def test_files_are_written_where_asked_with_the_exact_headers(
    ledger: DemoLedgerFiles, tmp_path: Path
) -> None:
    for entity in ENTITIES:
        path: Path = getattr(ledger, entity)
        assert path.name == f"{entity}.csv" and path.is_file()
        data = path.read_bytes()
        assert b"\r" not in data and data.endswith(b"\n")
        text = data.decode("utf-8")
        assert text.split("\n", 1)[0] == HEADERS[entity]
    files = generate_demo_ledger(tmp_path / "x" / "y", AS_OF)
    assert files.customers.parent == tmp_path / "x" / "y"


def test_counts_languages_and_countries(ledger: DemoLedgerFiles) -> None:
    customers, invoices = _rows(ledger.customers), _rows(ledger.invoices)
    assert 50 <= len(customers) <= 70
    assert 350 <= len(invoices) <= 450
    assert {c["language"] for c in customers} == {"zh-CN", "en"}
    assert len({c["country"] for c in customers}) >= 5
    assert 1 <= sum(c["do_not_contact"] == "true" for c in customers) <= 3
    assert any(c["tier"] for c in customers)  # a few explicit overrides
    assert 3 <= len(ledger.disputes) <= 5 and 3 <= len(ledger.promises) <= 6


def test_every_customer_row_passes_the_importer_rules(ledger: DemoLedgerFiles) -> None:
    customers = _rows(ledger.customers)
    industries = _industries()
    supported = holidays.list_supported_countries()
    ids = [c["id"] for c in customers]
    assert len(ids) == len(set(ids)) and all(ids)
    for c in customers:
        assert c["name"].strip() and c["address"].strip()
        assert c["tier"] in ("", "strategic", "cooperative", "cautious")
        assert c["country"] in supported and c["country"] in TIMEZONE_OF
        assert c["timezone"] == TIMEZONE_OF[c["country"]]
        ZoneInfo(c["timezone"])
        assert c["language"] == ("zh-CN" if c["country"] == "CN" else "en")
        if c["language"] == "zh-CN":
            assert any("\u4e00" <= ch <= "\u9fff" for ch in c["name"]), c["name"]
        _valid_email(c["email"])
        if c["account_manager"]:
            _valid_email(c["account_manager"])
        if c["phone"]:
            assert c["phone"].startswith("+")
            number = phonenumbers.parse(c["phone"], None)
            assert phonenumbers.is_valid_number(number), c["phone"]
            assert phonenumbers.region_code_for_number(number) == c["country"], c["phone"]
            assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == c["phone"]
        assert c["payment_terms_days"] in ("30", "45", "60")
        for column in ("credit_limit", "annual_revenue"):
            if c[column]:
                _decimal(c[column])
        assert c["industry"] == "" or c["industry"] in industries
        assert int(c["open_lawsuits"]) >= 0 and c["open_lawsuits"].isdigit()
        assert c["do_not_contact"] in ("true", "false")


def test_every_contract_invoice_and_payment_row_is_well_formed(ledger: DemoLedgerFiles) -> None:
    contracts = _rows(ledger.contracts)
    for k in contracts:
        assert k["ref"]
        for column in ("grace_days", "penalty_after_days"):
            assert k[column] == "" or k[column].isdigit()
        for column in ("daily_rate", "penalty_rate"):
            if k[column]:
                assert 0 <= _decimal(k[column], places=6) < 1
    country_of = {c["id"]: c["country"] for c in _rows(ledger.customers)}
    terms_of = {c["id"]: int(c["payment_terms_days"]) for c in _rows(ledger.customers)}
    invoices = _rows(ledger.invoices)
    numbers = [i["number"] for i in invoices]
    assert len(numbers) == len(set(numbers)) and all(numbers)
    for i in invoices:
        assert i["status"] in ("", "open")
        assert i["currency"] == CURRENCY_OF[country_of[i["customer_id"]]]
        amount = _decimal(i["amount"], places=0 if i["currency"] == "JPY" else 2)
        assert amount > 0
        issue, due = _iso(i["issue_date"]), _iso(i["due_date"])
        assert due - issue == timedelta(days=terms_of[i["customer_id"]])
    payments = _rows(ledger.payments)
    references = [p["reference"] for p in payments]
    assert len(references) == len(set(references)) and all(references)
    currency_of = {i["number"]: i["currency"] for i in invoices}
    for p in payments:
        places = 0 if currency_of[p["invoice_number"]] == "JPY" else 2
        assert _decimal(p["amount"], places=places) > 0
        assert _iso(p["paid_on"]) <= AS_OF


def test_references_resolve(ledger: DemoLedgerFiles, paid: dict[str, Decimal]) -> None:
    customer_ids = {c["id"] for c in _rows(ledger.customers)}
    contract_refs = {k["ref"] for k in _rows(ledger.contracts)}
    invoices = {i["number"]: i for i in _rows(ledger.invoices)}
    for i in invoices.values():
        assert i["customer_id"] in customer_ids
        assert i["contract_ref"] == "" or i["contract_ref"] in contract_refs
    assert set(paid) <= set(invoices)
    for number in ledger.disputes:
        assert number in invoices and _outstanding(invoices[number], paid) > 0
    assert len(set(ledger.disputes)) == len(ledger.disputes)
    for number, _promised, amount in ledger.promises:
        assert number in invoices and _outstanding(invoices[number], paid) > 0
        assert number not in ledger.disputes
        if amount is not None:
            assert 0 < amount <= Decimal(invoices[number]["amount"])


def test_promises_include_future_ones_and_a_broken_one(
    ledger: DemoLedgerFiles, paid: dict[str, Decimal]
) -> None:
    dates = [promised for _, promised, _ in ledger.promises]
    assert sum(d > AS_OF for d in dates) >= 2
    assert any(d < AS_OF for d in dates)  # the date passed and the invoice is still unpaid
    assert any(amount is not None for *_, amount in ledger.promises)
    assert any(amount is None for *_, amount in ledger.promises)


def test_payment_history_has_full_partial_late_on_time_and_over_payments(
    ledger: DemoLedgerFiles, paid: dict[str, Decimal]
) -> None:
    invoices = {i["number"]: i for i in _rows(ledger.invoices)}
    last_paid: dict[str, date] = {}
    for p in _rows(ledger.payments):
        on = date.fromisoformat(p["paid_on"])
        last_paid[p["invoice_number"]] = max(on, last_paid.get(p["invoice_number"], on))
    outstanding = {n: _outstanding(invoices[n], paid) for n in paid}
    settled = [n for n, left in outstanding.items() if left <= 0]
    assert any(left < 0 for left in outstanding.values())  # an overpayment
    assert any(left > 0 for left in outstanding.values())  # a part payment
    late = [n for n in settled if last_paid[n] > date.fromisoformat(invoices[n]["due_date"])]
    on_time = [n for n in settled if last_paid[n] <= date.fromisoformat(invoices[n]["due_date"])]
    assert late and on_time
    # Enough history for a real payment-history score (DESIGN §3: ≥ 3 paid in the last 365 days).
    recent: dict[str, int] = defaultdict(int)
    for n in settled:
        if (AS_OF - last_paid[n]).days <= 365:
            recent[invoices[n]["customer_id"]] += 1
    assert sum(count >= 3 for count in recent.values()) >= 40


def test_every_ladder_step_has_an_unpaid_invoice_due_that_day(
    ledger: DemoLedgerFiles, paid: dict[str, Decimal]
) -> None:
    days = _ladder_days()
    assert {-7, 0, 7, 15, 30, 60, 90} <= days
    unpaid_offsets = {
        (AS_OF - date.fromisoformat(i["due_date"])).days
        for i in _rows(ledger.invoices)
        if _outstanding(i, paid) > 0
    }
    missing = sorted(days - unpaid_offsets)
    assert missing == []
    # and invoices in between the steps too
    assert len(unpaid_offsets - days) >= 5


@pytest.mark.parametrize("as_of", [date(2026, 1, 1), date(2027, 6, 30)])
def test_other_plan_dates_also_cover_every_step(tmp_path: Path, as_of: date) -> None:
    files = generate_demo_ledger(tmp_path, as_of)
    offsets = {(as_of - date.fromisoformat(i["due_date"])).days for i in _rows(files.invoices)}
    assert _ladder_days() <= offsets
