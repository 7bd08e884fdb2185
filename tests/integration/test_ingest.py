"""CSV import against a real database: every bad-input case of issue 2, and idempotence."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.errors import ImportValidationError
from bot.evidence.service import verify_database
from bot.ingest.service import ImportDefaults, ImportReport, import_file

NOW = datetime(2026, 6, 10, 1, 0, tzinfo=UTC)
DEFAULTS = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")

CUSTOMER_HEADER = (
    "id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,"
    "payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact"
)
CUSTOMERS = f"""{CUSTOMER_HEADER}
C1,上海恒通机电设备有限公司,91310000X,cooperative,CN,Asia/Shanghai,zh-CN,finance@hengtong.com.cn,+8613800138000,上海市浦东新区世纪大道1号,am@xinghe.com.cn,30,500000.00,manufacturing,50000000,0,false
C2,Bright Harbour Ltd,GB123,B,GB,Europe/London,en,ap@brightharbour.co.uk,+447911123456,"1 Dock Road, London",,45,,retail,,1,
C3,深圳南山科技有限公司,,,,,,ar@nanshan.com.cn,13800138001,,,,,,,,true
"""
CONTRACTS = """ref,grace_days,daily_rate,penalty_rate,penalty_after_days,jurisdiction
K-1,10,0.0005,0.03,45,上海市浦东新区人民法院
"""
INVOICES = """number,customer_id,currency,amount,issue_date,due_date,contract_ref,status
INV-1,C1,CNY,100000.00,2026-04-01,2026-05-26,K-1,open
INV-2,C1,cny,"5,000",2026-05-01,2026-06-07,,
INV-3,C2,GBP,2500.50,2026-04-01,2026-05-11,,open
INV-4,C3,JPY,120000,2026-04-01,2026-05-11,,written_off
"""
PAYMENTS = """reference,invoice_number,amount,paid_on
P-1,INV-2,1000.00,2026-06-08
P-2,INV-3,2500.50,2026-05-20
P-3,INV-3,10.00,2026-05-21
"""

Importer = Callable[..., ImportReport]


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return write  # type: ignore[return-value]


def run(engine: Engine, entity: str, path: Path, **kwargs: object) -> ImportReport:
    return import_file(engine, entity, path, defaults=DEFAULTS, now=NOW, **kwargs)  # type: ignore[arg-type]


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table we write, to prove a failed import wrote nothing."""
    tables = ("customer", "contract", "invoice", "payment", "evidence_event")
    with engine.connect() as connection:
        return {
            t: [tuple(r) for r in connection.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1"))]
            for t in tables
        }


@pytest.fixture
def loaded(engine: Engine, write: Callable[[str, str], Path]) -> Engine:
    for entity, text in (
        ("contracts", CONTRACTS),
        ("customers", CUSTOMERS),
        ("invoices", INVOICES),
        ("payments", PAYMENTS),
    ):
        report = run(engine, entity, write(f"{entity}.csv", text))
        assert report.inserted == report.rows
    return engine


def problems_of(engine: Engine, entity: str, path: Path, **kwargs: object) -> list[str]:
    before = snapshot(engine)
    with pytest.raises(ImportValidationError) as caught:
        run(engine, entity, path, **kwargs)
    assert snapshot(engine) == before, "a failed import must write nothing"
    return caught.value.problems


# --- the happy path ---------------------------------------------------------------------------


def test_import_normalises_and_defaults(loaded: Engine) -> None:
    with loaded.connect() as connection:
        rows = {r.id: r for r in connection.execute(sa.text("SELECT * FROM customer"))}
        c3 = rows["C3"]
        assert (c3.country, c3.timezone, c3.language) == ("CN", "Asia/Shanghai", "zh-CN")
        assert c3.phone == "+8613800138001"  # national number read in the customer's country
        assert c3.payment_terms_days == 30 and c3.open_lawsuits == 0
        assert bool(c3.do_not_contact) is True and bool(rows["C2"].do_not_contact) is False
        assert rows["C2"].tier_override == "cooperative" and c3.tier_override is None
        invoices = {r.number: r for r in connection.execute(sa.text("SELECT * FROM invoice"))}
        assert invoices["INV-2"].currency == "CNY" and Decimal(invoices["INV-2"].amount) == Decimal("5000")
        assert invoices["INV-2"].status == "open" and invoices["INV-4"].status == "written_off"
        assert invoices["INV-1"].contract_ref == "K-1"


def test_reimport_is_a_no_op(loaded: Engine, write: Callable[[str, str], Path]) -> None:
    before = snapshot(loaded)
    for entity, text in (("customers", CUSTOMERS), ("invoices", INVOICES), ("payments", PAYMENTS)):
        report = run(loaded, entity, write(f"again-{entity}.csv", text))
        assert (report.inserted, report.updated, report.unchanged) == (0, 0, report.rows)
    assert snapshot(loaded) == before


def test_events_record_imports_and_each_payment_once(loaded: Engine) -> None:
    with loaded.connect() as connection:
        events = [json.loads(b) for (b,) in connection.execute(sa.text("SELECT body FROM evidence_event"))]
    imports = [e for e in events if e["kind"] == "import"]
    assert [e["data"]["entity"] for e in imports] == ["contracts", "customers", "invoices", "payments"]
    assert all(len(e["data"]["sha256"]) == 64 for e in imports)
    payments = [e for e in events if e["kind"] == "payment"]
    assert sorted(e["data"]["reference"] for e in payments) == ["P-1", "P-2", "P-3"]
    p1 = next(e for e in payments if e["data"]["reference"] == "P-1")
    assert p1["customer"] == "C1" and p1["invoices"] == ["INV-2"]
    assert p1["data"] == {"reference": "P-1", "amount": "1000.00", "currency": "CNY", "paid_on": "2026-06-08"}


def test_evidence_of_an_import_verifies(loaded: Engine, tmp_path: Path) -> None:
    report = verify_database(loaded, tmp_path / "artifacts")
    assert report.ok, report.all_problems
    assert report.log.events_checked == 7  # four imports and three payments


def test_customer_master_data_updates_in_place(loaded: Engine, write: Callable[[str, str], Path]) -> None:
    changed = CUSTOMERS.replace("finance@hengtong.com.cn", "ar@hengtong.com.cn")
    report = run(loaded, "customers", write("changed.csv", changed))
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 2)
    with loaded.connect() as connection:
        assert connection.execute(sa.text("SELECT email FROM customer WHERE id = 'C1'")).scalar() == (
            "ar@hengtong.com.cn"
        )


def test_partial_and_overpayment(loaded: Engine, write: Callable[[str, str], Path]) -> None:
    # INV-3 was paid 2,500.50 + 10.00 against 2,500.50: the importer warned, and another payment warns again.
    report = run(
        loaded,
        "payments",
        write("more.csv", "reference,invoice_number,amount,paid_on\nP-4,INV-3,1.00,2026-05-22\n"),
    )
    assert report.inserted == 1
    assert any("INV-3 is overpaid by 11.00 GBP" in w for w in report.warnings)
    partial = run(
        loaded,
        "payments",
        write("partial.csv", "reference,invoice_number,amount,paid_on\nP-5,INV-1,40000,2026-06-01\n"),
    )
    assert partial.inserted == 1 and partial.warnings == []


def test_overpayment_warns_on_first_import(engine: Engine, write: Callable[[str, str], Path]) -> None:
    run(engine, "contracts", write("k.csv", CONTRACTS))
    run(engine, "customers", write("c.csv", CUSTOMERS))
    run(engine, "invoices", write("i.csv", INVOICES))
    report = run(engine, "payments", write("p.csv", PAYMENTS))
    assert len(report.warnings) == 1
    assert "invoice INV-3 is overpaid by 10.00 GBP" in report.warnings[0]


def test_dry_run_writes_nothing(engine: Engine, write: Callable[[str, str], Path]) -> None:
    before = snapshot(engine)
    report = run(engine, "customers", write("c.csv", CUSTOMERS), dry_run=True)
    assert (report.rows, report.inserted) == (3, 3)
    assert snapshot(engine) == before


def test_disputed_invoice_stays_disputed_on_reimport(
    loaded: Engine, write: Callable[[str, str], Path]
) -> None:
    with loaded.begin() as connection:
        connection.execute(sa.text("UPDATE invoice SET status = 'disputed' WHERE number = 'INV-1'"))
    report = run(loaded, "invoices", write("again.csv", INVOICES))
    assert report.updated == 0 and report.warnings == []
    assert [c.message for c in report.conflicts] == [
        f"{report.source}:2: status: invoice INV-1 stays disputed as recorded in dunbot; "
        "the source still says open, as at the last import"
    ]
    with loaded.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT status FROM invoice WHERE number='INV-1'")).scalar()
            == "disputed"
        )


def _status(engine: Engine, number: str) -> tuple[str, str]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT status, source_status FROM invoice WHERE number = :n"), {"n": number}
        ).one()
    return str(row.status), str(row.source_status)


def _events(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        bodies = connection.execute(sa.text("SELECT body FROM evidence_event ORDER BY seq")).scalars()
        return [json.loads(str(body)) for body in bodies]


def test_a_dispute_closed_in_dunbot_is_not_reopened_by_the_same_file(
    loaded: Engine, write: Callable[[str, str], Path]
) -> None:
    from bot.outreach.collector import set_dispute

    disputed = INVOICES.replace("K-1,open", "K-1,disputed")
    run(loaded, "invoices", write("disputed.csv", disputed))
    assert _status(loaded, "INV-1") == ("disputed", "disputed")  # the source's own change applies
    set_dispute(loaded, "INV-1", False, "credit note agreed", "ops", NOW)
    events = len(_events(loaded))
    report = run(loaded, "invoices", write("again.csv", disputed))
    assert (report.updated, report.unchanged) == (0, 4)
    assert [(c.invoice, c.source_status, c.dunbot_status) for c in report.conflicts] == [
        ("INV-1", "disputed", "open")
    ]
    assert _status(loaded, "INV-1") == ("open", "disputed")
    assert len(_events(loaded)) == events  # nothing changed, nothing recorded


def test_a_dispute_opened_in_dunbot_is_not_closed_by_the_same_file(
    loaded: Engine, write: Callable[[str, str], Path]
) -> None:
    from bot.outreach.collector import set_dispute

    set_dispute(loaded, "INV-3", True, "goods damaged", "ops", NOW)
    report = run(loaded, "invoices", write("again.csv", INVOICES.replace("2026-05-26", "2026-06-26")))
    assert report.updated == 1  # INV-1's due date moved; INV-3's status did not
    assert [(c.line, c.invoice, c.dunbot_status) for c in report.conflicts] == [(4, "INV-3", "disputed")]
    assert _status(loaded, "INV-3") == ("disputed", "open")
    event = _events(loaded)[-1]
    assert event["kind"] == "import" and event["invoices"] == ["INV-1"]
    data = event["data"]
    assert isinstance(data, dict)
    assert data["kept"] == {"INV-3": {"status": "disputed", "source": "open"}}


def test_a_change_at_the_source_applies_over_dunbots_status(
    loaded: Engine, write: Callable[[str, str], Path]
) -> None:
    from bot.outreach.collector import set_dispute

    set_dispute(loaded, "INV-3", True, "goods damaged", "ops", NOW)
    report = run(
        loaded, "invoices", write("off.csv", INVOICES.replace("2026-05-11,,open", "2026-05-11,,written_off"))
    )
    assert report.updated == 1 and report.conflicts == []
    assert _status(loaded, "INV-3") == ("written_off", "written_off")
    event = _events(loaded)[-1]
    assert event["invoices"] == ["INV-3"]
    assert event["data"]["changes"] == {  # type: ignore[index]
        "INV-3": {"status": ["disputed", "written_off"], "source_status": ["open", "written_off"]}
    }


def test_import_events_name_the_invoices_they_changed(loaded: Engine) -> None:
    imports = {e["data"]["entity"]: e for e in _events(loaded) if e["kind"] == "import"}  # type: ignore[index]
    assert imports["invoices"]["invoices"] == ["INV-1", "INV-2", "INV-3", "INV-4"]
    assert imports["payments"]["invoices"] == ["INV-2", "INV-3"]
    assert imports["customers"]["invoices"] == []


def test_duplicate_rows_with_the_same_content_are_one(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    lines = CUSTOMERS.splitlines()
    report = run(engine, "customers", write("dup.csv", "\n".join([*lines, lines[1]]) + "\n"))
    assert (report.rows, report.inserted, report.unchanged) == (4, 3, 1)


def test_header_in_any_order_and_bom(engine: Engine, write: Callable[[str, str], Path]) -> None:
    text = "name,id,tax_id,tier,country,timezone,language,email,phone,address,account_manager,payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact\nAcme,C9,,,US,America/New_York,en,,,,,,,,,,\n"
    report = run(engine, "customers", write("bom.csv", "\ufeff" + text))
    assert report.inserted == 1


def test_gb18030_file_imports_with_encoding(engine: Engine, write: Callable[[str, str], Path]) -> None:
    path = write("gbk.csv", CUSTOMERS, "gb18030")
    assert run(engine, "customers", path, encoding="gb18030").inserted == 3


def test_multiline_quoted_address_keeps_line_numbers(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    text = CUSTOMERS.replace('"1 Dock Road, London"', '"1 Dock Road\nLondon"').replace(
        "ar@nanshan.com.cn", "not-an-email"
    )
    problems = problems_of(engine, "customers", write("ml.csv", text))
    assert problems[0].startswith(f"{write('x', '').parent / 'ml.csv'}:5: email:")


# --- timezone from the country (issue 16) ----------------------------------------------------


def _customer_row(customer_id: str, country: str, timezone: str = "") -> str:
    return f"{customer_id},Example {customer_id},,,{country},{timezone},en,,,,,,,,,,\n"


def test_an_empty_timezone_is_the_countrys_one_zone(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    text = CUSTOMER_HEADER + "\n" + _customer_row("G1", "GB") + _customer_row("D1", "DE")
    text += (
        _customer_row("J1", "JP") + _customer_row("N1", "CN") + _customer_row("U1", "US", "America/Chicago")
    )
    assert run(engine, "customers", write("c.csv", text)).inserted == 5
    with engine.connect() as connection:
        zones = dict(connection.execute(sa.text("SELECT id, timezone FROM customer")).all())
    # not the company's Asia/Shanghai: each country's own clock (Germany's Busingen keeps Berlin's);
    # in the company's own country the company's zone; a zone the file names is kept
    assert zones == {
        "G1": "Europe/London",
        "D1": "Europe/Berlin",
        "J1": "Asia/Tokyo",
        "N1": "Asia/Shanghai",
        "U1": "America/Chicago",
    }


def test_an_empty_timezone_in_a_country_of_several_zones_is_an_error(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    text = CUSTOMER_HEADER + "\n" + _customer_row("G1", "GB") + _customer_row("U1", "US")
    text += _customer_row("A1", "AU")
    path = write("c.csv", text)
    problems = problems_of(engine, "customers", path)
    assert problems == [
        f"{path}:3: timezone: is empty and US has 8 time zones; write one of America/New_York, "
        "America/Chicago, America/Denver, America/Phoenix, America/Los_Angeles, America/Anchorage, "
        "America/Adak, Pacific/Honolulu",
        f"{path}:4: timezone: is empty and AU has 7 time zones; write one of Australia/Lord_Howe, "
        "Australia/Sydney, Australia/Adelaide, Australia/Brisbane, Australia/Darwin, Australia/Perth, "
        "Australia/Eucla",
    ]


def test_a_company_abroad_names_chinas_zones_too(engine: Engine, write: Callable[[str, str], Path]) -> None:
    # tzdata lists Xinjiang Time beside Beijing Time; only the company's own country takes its zone
    london = ImportDefaults(country="GB", timezone="Europe/London", language="en")
    path = write("c.csv", CUSTOMER_HEADER + "\n" + _customer_row("N1", "CN") + _customer_row("G1", ""))
    with pytest.raises(ImportValidationError) as caught:
        import_file(engine, "customers", path, defaults=london, now=NOW)
    assert caught.value.problems == [
        f"{path}:2: timezone: is empty and CN has 2 time zones; write one of Asia/Shanghai, Asia/Urumqi"
    ]


# --- bad input: each case of issue 2 ----------------------------------------------------------

HEADER_CASES = [
    ("missing", "id,name", "missing column(s) tax_id"),
    ("extra", CUSTOMER_HEADER + ",notes", "column 'notes' is not expected"),
    (
        "misspelt",
        CUSTOMER_HEADER.replace("email", "emial"),
        "column 'emial' is not expected; did you mean 'email'?",
    ),
    ("case", CUSTOMER_HEADER.replace("country", "Country"), "did you mean 'country'?"),
    ("twice", CUSTOMER_HEADER + ",email", "column 'email' appears twice"),
]


@pytest.mark.parametrize(("case", "header", "expected"), HEADER_CASES, ids=[c[0] for c in HEADER_CASES])
def test_bad_header(
    engine: Engine, write: Callable[[str, str], Path], case: str, header: str, expected: str
) -> None:
    path = write(f"{case}.csv", header + "\n" + CUSTOMERS.splitlines()[1] + "\n")
    problems = problems_of(engine, "customers", path)
    assert any(p.startswith(f"{path}:1: header: ") and expected in p for p in problems), problems


CUSTOMER_CASES = [
    ("bad email", "finance@hengtong.com.cn", "not-an-email", 2, "email", "is not a valid e-mail address"),
    (
        "bad phone",
        "+8613800138000",
        "+86123",
        2,
        "phone",
        "'+86123' is not a valid phone number for CN (too short)",
    ),
    (
        "E.164 of another plan",
        "+8613800138000",
        "+86 10 1234 567",
        2,
        "phone",
        "is not a valid phone number for CN",
    ),
    (
        "national and invalid",
        "13800138001",
        "12345",
        4,
        "phone",
        "is not a valid phone number; write it in E.164",
    ),
    ("unknown tier", ",cooperative,", ",gold,", 2, "tier", "'gold' is not a tier"),
    ("unknown timezone", "Europe/London", "Europe/Londn", 3, "timezone", "is not an IANA time zone"),
    ("unknown country", ",GB,", ",XX,", 3, "country", "'XX' is not an ISO 3166 country code"),
    ("bad language", ",en,", ",fr,", 3, "language", "'fr' is not a supported language"),
    ("bad flag", ",true\n", ",maybe\n", 4, "do_not_contact", "'maybe' is not true or false"),
    ("negative limit", "500000.00", "-5", 2, "credit_limit", "is negative"),
    ("empty name", "C2,Bright Harbour Ltd", "C2,", 3, "name", "is empty; a value is required"),
]


@pytest.mark.parametrize(
    ("case", "old", "new", "line", "column", "expected"), CUSTOMER_CASES, ids=[c[0] for c in CUSTOMER_CASES]
)
def test_bad_customer_cell(
    engine: Engine,
    write: Callable[[str, str], Path],
    case: str,
    old: str,
    new: str,
    line: int,
    column: str,
    expected: str,
) -> None:
    assert old in CUSTOMERS
    path = write("bad.csv", CUSTOMERS.replace(old, new, 1))
    problems = problems_of(engine, "customers", path)
    assert any(p.startswith(f"{path}:{line}: {column}: ") and expected in p for p in problems), problems


INVOICE_CASES = [
    (
        "impossible date",
        "2026-05-26,K-1",
        "2026-02-30,K-1",
        2,
        "due_date",
        "'2026-02-30' is not a calendar date",
    ),
    (
        "not a date",
        "2026-04-01,2026-05-11,,open",
        "01/04/2026,2026-05-11,,open",
        4,
        "issue_date",
        "write YYYY-MM-DD",
    ),
    ("negative amount", "100000.00", "-100.00", 2, "amount", "is negative"),
    ("non-numeric amount", "2500.50", "12abc", 4, "amount", "'12abc' is not a number"),
    ("zero amount", "2500.50", "0", 4, "amount", "is zero"),
    ("too many decimals", "120000,", "120000.5,", 5, "amount", "more decimals than JPY allows (0)"),
    (
        "unknown customer",
        "INV-3,C2",
        "INV-3,C9",
        4,
        "customer_id",
        "no customer 'C9'; import customers first",
    ),
    ("unknown contract", ",K-1,", ",K-9,", 2, "contract_ref", "no contract 'K-9'"),
    ("bad status", "written_off", "closed", 5, "status", "'closed' is not a status"),
    ("bad currency", "GBP", "POUNDS", 4, "currency", "is not an ISO 4217 currency code"),
    ("renminbi by its name", "C1,CNY", "C1,RMB", 2, "currency", "write CNY (RMB → CNY)"),
    ("unknown code", "GBP", "XYZ", 4, "currency", "'XYZ' is not an ISO 4217 currency code in use"),
    ("ISO's test code", "GBP", "XTS", 4, "currency", "'XTS' is not an ISO 4217 currency code in use"),
    (
        "due before issue",
        "2026-05-01,2026-06-07",
        "2026-05-01,2026-04-07",
        3,
        "due_date",
        "is before the issue date",
    ),
]


@pytest.fixture
def customers_loaded(engine: Engine, write: Callable[[str, str], Path]) -> Engine:
    run(engine, "contracts", write("contracts.csv", CONTRACTS))
    run(engine, "customers", write("customers.csv", CUSTOMERS))
    return engine


@pytest.mark.parametrize(
    ("case", "old", "new", "line", "column", "expected"), INVOICE_CASES, ids=[c[0] for c in INVOICE_CASES]
)
def test_bad_invoice_cell(
    customers_loaded: Engine,
    write: Callable[[str, str], Path],
    case: str,
    old: str,
    new: str,
    line: int,
    column: str,
    expected: str,
) -> None:
    assert old in INVOICES
    path = write("bad.csv", INVOICES.replace(old, new, 1))
    problems = problems_of(customers_loaded, "invoices", path)
    assert any(p.startswith(f"{path}:{line}: {column}: ") and expected in p for p in problems), problems


def test_every_bad_row_is_listed(customers_loaded: Engine, write: Callable[[str, str], Path]) -> None:
    text = (
        INVOICES.replace("100000.00", "-1")
        .replace("INV-3,C2", "INV-3,C9")
        .replace("2026-04-01,2026-05-11,,written", "2026-04-01,2026-13-11,,written")
    )
    path = write("many.csv", text)
    problems = problems_of(customers_loaded, "invoices", path)
    located = sorted(p.split(": ")[0] + ":" + p.split(": ")[1] for p in problems)
    assert located == sorted([f"{path}:2:amount", f"{path}:4:customer_id", f"{path}:5:due_date"])


def test_duplicate_invoice_with_different_content_in_the_file(
    customers_loaded: Engine, write: Callable[[str, str], Path]
) -> None:
    path = write("dup.csv", INVOICES + "INV-1,C1,CNY,99.00,2026-04-01,2026-05-26,K-1,open\n")
    problems = problems_of(customers_loaded, "invoices", path)
    assert problems == [f"{path}:6: number: 'INV-1' appears again with different content (first on line 2)"]


def test_invoice_already_imported_with_different_amount(
    loaded: Engine, write: Callable[[str, str], Path]
) -> None:
    path = write("changed.csv", INVOICES.replace("100000.00", "90000.00"))
    problems = problems_of(loaded, "invoices", path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:2: amount: number 'INV-1' was imported with amount 100000.00")


def test_invoice_due_date_may_change(loaded: Engine, write: Callable[[str, str], Path]) -> None:
    report = run(loaded, "invoices", write("moved.csv", INVOICES.replace("2026-05-26", "2026-06-26")))
    assert (report.updated, report.unchanged) == (1, 3)
    with loaded.connect() as connection:
        due = connection.execute(sa.text("SELECT due_date FROM invoice WHERE number='INV-1'")).scalar()
    assert str(due) == "2026-06-26"


def test_payment_for_unknown_invoice(loaded: Engine, write: Callable[[str, str], Path]) -> None:
    path = write("p.csv", "reference,invoice_number,amount,paid_on\nP-9,INV-99,10.00,2026-06-01\n")
    assert problems_of(loaded, "payments", path) == [
        f"{path}:2: invoice_number: no invoice 'INV-99'; import invoices first"
    ]


def test_payment_before_its_invoice_was_issued(loaded: Engine, write: Callable[[str, str], Path]) -> None:
    # INV-2 was issued on 2026-05-01
    path = write("p.csv", "reference,invoice_number,amount,paid_on\nP-9,INV-2,10.00,2026-04-30\n")
    assert problems_of(loaded, "payments", path) == [
        f"{path}:2: paid_on: 2026-04-30 is before invoice INV-2 was issued (2026-05-01); "
        "check the date or the invoice number"
    ]
    on_the_day = write("q.csv", "reference,invoice_number,amount,paid_on\nP-9,INV-2,10.00,2026-05-01\n")
    assert run(loaded, "payments", on_the_day).inserted == 1


def test_payment_dated_after_today_in_the_companys_timezone(
    loaded: Engine, write: Callable[[str, str], Path]
) -> None:
    # 17:00 UTC on 9 June is already 10 June in Shanghai, the company's timezone
    evening = datetime(2026, 6, 9, 17, 0, tzinfo=UTC)
    today = write("p.csv", "reference,invoice_number,amount,paid_on\nP-9,INV-1,10.00,2026-06-10\n")
    assert import_file(loaded, "payments", today, defaults=DEFAULTS, now=evening).inserted == 1
    path = write("q.csv", "reference,invoice_number,amount,paid_on\nP-10,INV-1,10.00,2026-06-11\n")
    before = snapshot(loaded)
    with pytest.raises(ImportValidationError) as caught:
        import_file(loaded, "payments", path, defaults=DEFAULTS, now=evening)
    assert caught.value.problems == [
        f"{path}:2: paid_on: 2026-06-11 is in the future (today is 2026-06-10); "
        "import a payment once it has been received"
    ]
    assert snapshot(loaded) == before


def test_payment_changed_after_import(loaded: Engine, write: Callable[[str, str], Path]) -> None:
    path = write("p.csv", PAYMENTS.replace("1000.00", "1500.00"))
    problems = problems_of(loaded, "payments", path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:2: amount: reference 'P-1' was imported")


def test_payment_with_more_decimals_than_the_currency(
    loaded: Engine, write: Callable[[str, str], Path]
) -> None:
    path = write("p.csv", "reference,invoice_number,amount,paid_on\nP-9,INV-4,10.5,2026-06-01\n")
    assert problems_of(loaded, "payments", path) == [
        f"{path}:2: amount: 10.5 has more decimals than JPY allows (0)"
    ]


def test_gb18030_read_as_utf8_hints_at_the_encoding(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    path = write("gbk.csv", CUSTOMERS, "gb18030")
    problems = problems_of(engine, "customers", path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:2: the file is not valid utf-8-sig")
    assert "pass --encoding gb18030" in problems[0]


def test_a_file_read_with_the_wrong_encoding_is_not_a_list_of_odd_columns(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    path = write("c.csv", CUSTOMERS)
    problems = problems_of(engine, "customers", path, encoding="utf-16")
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:1: header: none of the expected columns is there")
    assert "right --encoding" in problems[0] and problems[0].endswith(CUSTOMER_HEADER)
    semicolons = write("s.csv", CUSTOMERS.replace(",", ";"))  # a European Excel export
    (problem,) = problems_of(engine, "customers", semicolons)
    assert "separated by commas, not semicolons" in problem
    capitalised = write("u.csv", CUSTOMERS.replace("id,name,tax_id", "ID,Name,tax_id", 1))
    assert "is not expected; did you mean 'id'?" in problems_of(engine, "customers", capitalised)[0]


def test_a_utf8_file_read_as_gb18030_suggests_another_encoding(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    path = write("c.csv", CUSTOMERS)  # its Chinese names are not valid GB18030 byte sequences
    problems = problems_of(engine, "customers", path, encoding="gb18030")
    assert len(problems) == 1 and "the file is not valid gb18030" in problems[0]
    assert problems[0].endswith("e.g. --encoding utf-8"), problems


def test_unknown_encoding(engine: Engine, write: Callable[[str, str], Path]) -> None:
    path = write("c.csv", CUSTOMERS)
    problems = problems_of(engine, "customers", path, encoding="klingon")
    assert "is not an encoding Python knows" in problems[0]


@pytest.mark.parametrize("content", ["", "\n\n", "\ufeff"])
def test_empty_file(engine: Engine, write: Callable[[str, str], Path], content: str) -> None:
    path = write("empty.csv", content)
    problems = problems_of(engine, "customers", path)
    assert problems == [f"{path}:1: header: the file is empty; the first line must be: {CUSTOMER_HEADER}"]


def test_header_only_file_imports_nothing(engine: Engine, write: Callable[[str, str], Path]) -> None:
    report = run(engine, "customers", write("h.csv", CUSTOMER_HEADER + "\n"))
    assert (report.rows, report.inserted) == (0, 0)


def test_ragged_row(engine: Engine, write: Callable[[str, str], Path]) -> None:
    path = write("r.csv", CUSTOMERS.replace('"1 Dock Road, London"', "1 Dock Road, London"))
    problems = problems_of(engine, "customers", path)
    assert problems == [f"{path}:3: row: has 18 fields, the header has 17; quote values that contain commas"]


def test_missing_file(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportValidationError) as caught:
        run(engine, "customers", tmp_path / "nope.csv")
    assert caught.value.problems == [f"{tmp_path / 'nope.csv'}: no such file"]


def test_import_before_init_says_run_init(sqlite_url: str, write: Callable[[str, str], Path]) -> None:
    from bot.errors import DatabaseNotInitialised
    from bot.store.engine import make_engine

    with pytest.raises(DatabaseNotInitialised, match="dunbot init"):
        run(make_engine(sqlite_url), "customers", write("c.csv", CUSTOMERS))


def test_dates_parse_to_dates(loaded: Engine) -> None:
    with loaded.connect() as connection:
        paid_on = connection.execute(sa.text("SELECT paid_on FROM payment WHERE reference='P-1'")).scalar()
    assert str(paid_on) == date(2026, 6, 8).isoformat()


def test_an_update_records_old_and_new_values(loaded: Engine, write: Callable[[str, str], Path]) -> None:
    run(loaded, "invoices", write("moved.csv", INVOICES.replace("2026-05-26", "2026-06-26")))
    with loaded.connect() as connection:
        body = connection.execute(
            sa.text("SELECT body FROM evidence_event ORDER BY seq DESC LIMIT 1")
        ).scalar()
    data = json.loads(str(body))["data"]
    assert data["updated"] == 1
    assert data["changes"] == {"INV-1": {"due_date": ["2026-05-26", "2026-06-26"]}}
