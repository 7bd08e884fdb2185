"""Issue 16's import checks through the command line: a clear `FILE:LINE: column:` error, exit 1,
no traceback, nothing written; and what an import does not undo."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

HEADER = (
    "id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,"
    "payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact"
)
CUSTOMERS = f"""{HEADER}
C1,上海恒通机电设备有限公司,91310000X,cooperative,CN,,zh-CN,finance@hengtong.example.cn,+8613800138000,上海市浦东新区世纪大道1号,am@example.com,30,,,,0,false
C2,Bright Harbour Ltd,GB123,cautious,GB,,en,ap@brightharbour.example.com,+447911123456,"1 Dock Road, London",,45,,,,0,
"""


def dunbot(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200"},
    )


def counts(folder: Path) -> dict[str, int]:
    with sqlite3.connect(folder / "dunbot.db") as connection:
        return {
            table: int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("customer", "invoice", "payment", "evidence_event")
        }


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    result = dunbot(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    return tmp_path


def refused(folder: Path, *args: str) -> str:
    """Run a command that must fail on bad input; return its stderr."""
    before = counts(folder)
    result = dunbot(folder, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert counts(folder) == before, "a refused command wrote something"
    return result.stderr


INVOICES = """number,customer_id,currency,amount,issue_date,due_date,contract_ref,status
INV-1,C1,CNY,100000.00,2026-04-01,2026-05-26,,open
INV-2,C2,GBP,2500.50,2026-04-01,2026-05-11,,
"""


@pytest.fixture
def loaded(workdir: Path) -> Path:
    (workdir / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (workdir / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    for entity in ("customers", "invoices"):
        result = dunbot(workdir, "import", entity, f"{entity}.csv")
        assert result.returncode == 0, result.stderr
    return workdir


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("RMB", "bad.csv:2: currency: 'RMB' is not an ISO 4217 currency code; write CNY (RMB → CNY)"),
        ("XYZ", "bad.csv:2: currency: 'XYZ' is not an ISO 4217 currency code in use"),
    ],
)
def test_a_currency_not_in_iso_4217_is_refused(loaded: Path, code: str, expected: str) -> None:
    (loaded / "bad.csv").write_text(INVOICES.replace("INV-1,C1,CNY", f"INV-9,C1,{code}"), "utf-8")
    assert expected in refused(loaded, "import", "invoices", "bad.csv")


def test_a_payment_before_the_issue_date_or_after_today_is_refused(loaded: Path) -> None:
    header = "reference,invoice_number,amount,paid_on\n"
    (loaded / "early.csv").write_text(header + "P-1,INV-1,10.00,2026-03-31\n", "utf-8")
    stderr = refused(loaded, "import", "payments", "early.csv")
    assert "early.csv:2: paid_on: 2026-03-31 is before invoice INV-1 was issued (2026-04-01)" in stderr
    # two days on, so a run across the company's midnight cannot make it today
    later = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=2)
    (loaded / "late.csv").write_text(header + f"P-1,INV-1,10.00,{later}\n", "utf-8")
    stderr = refused(loaded, "import", "payments", "late.csv")
    assert f"late.csv:2: paid_on: {later} is in the future" in stderr


def test_an_e164_number_not_valid_for_its_country_says_so(workdir: Path) -> None:
    (workdir / "bad.csv").write_text(CUSTOMERS.replace("+8613800138000", "+86 123"), "utf-8")
    stderr = refused(workdir, "import", "customers", "bad.csv")
    assert "bad.csv:2: phone: '+86 123' is not a valid phone number for CN (too short)" in stderr
    assert "E.164" not in stderr


def _company_today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the example config's company timezone


def test_a_promise_that_cannot_be_kept_is_refused(loaded: Path) -> None:
    (loaded / "paid.csv").write_text(
        "reference,invoice_number,amount,paid_on\nP-1,INV-2,2500.50,2026-05-20\n"
    )
    assert dunbot(loaded, "import", "payments", "paid.csv").returncode == 0
    soon = str(_company_today() + timedelta(days=10))
    past = str(_company_today() - timedelta(days=2))
    stderr = refused(loaded, "promise", "INV-1", "--date", past)
    assert f"--date {past} is in the past" in stderr
    stderr = refused(loaded, "promise", "INV-1", "--date", soon, "--amount", "100000.01")
    assert "--amount 100,000.01 is more than invoice INV-1 still owes (100,000.00 CNY)" in stderr
    stderr = refused(loaded, "promise", "INV-2", "--date", soon)
    assert "invoice INV-2 is paid (outstanding 0.00 GBP); there is nothing to promise" in stderr
    kept = dunbot(loaded, "promise", "INV-1", "--date", soon, "--amount", "50,000")
    assert kept.returncode == 0, kept.stderr
    assert f"promise recorded for INV-1: {soon}, 50000" in kept.stdout


def test_an_empty_timezone_is_the_countrys(workdir: Path) -> None:
    (workdir / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    result = dunbot(workdir, "import", "customers", "customers.csv")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(workdir / "dunbot.db") as connection:
        zones = dict(connection.execute("SELECT id, timezone FROM customer").fetchall())
    assert zones == {"C1": "Asia/Shanghai", "C2": "Europe/London"}


def test_an_empty_timezone_in_the_us_names_the_zones_to_choose_from(workdir: Path) -> None:
    (workdir / "us.csv").write_text(CUSTOMERS.replace(",GB,", ",US,").replace("+447911123456", ""), "utf-8")
    stderr = refused(workdir, "import", "customers", "us.csv")
    assert "us.csv:3: timezone: is empty and US has 8 time zones; write one of America/New_York," in stderr
    assert "Pacific/Honolulu" in stderr


def _invoice_status(folder: Path, number: str) -> str:
    with sqlite3.connect(folder / "dunbot.db") as connection:
        return str(connection.execute("SELECT status FROM invoice WHERE number = ?", (number,)).fetchone()[0])


def test_reimporting_the_same_file_does_not_reopen_a_closed_dispute(loaded: Path) -> None:
    (loaded / "disputed.csv").write_text(
        INVOICES.replace("2026-05-26,,open", "2026-05-26,,disputed"), "utf-8"
    )
    assert dunbot(loaded, "import", "invoices", "disputed.csv").returncode == 0
    assert _invoice_status(loaded, "INV-1") == "disputed"
    closed = dunbot(loaded, "dispute", "close", "INV-1", "--reason", "credit note agreed")
    assert closed.returncode == 0, closed.stderr
    before = counts(loaded)
    again = dunbot(loaded, "import", "invoices", "disputed.csv")
    assert again.returncode == 0, again.stderr
    assert "0 new, 0 updated, 2 unchanged" in again.stdout
    assert (
        "disputed.csv:2: status: invoice INV-1 stays open as recorded in dunbot; the source still says "
        "disputed, as at the last import"
    ) in again.stdout
    as_json = dunbot(loaded, "import", "invoices", "disputed.csv", "--json")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert (report["entity"], report["updated"], report["unchanged"]) == ("invoices", 0, 2)
    assert [(c["invoice"], c["source"], c["dunbot"]) for c in report["conflicts"]] == [
        ("INV-1", "disputed", "open")
    ]
    assert _invoice_status(loaded, "INV-1") == "open"
    assert counts(loaded) == before


def test_import_events_name_the_invoices_they_changed(loaded: Path) -> None:
    with sqlite3.connect(loaded / "dunbot.db") as connection:
        bodies = [
            json.loads(b) for (b,) in connection.execute("SELECT body FROM evidence_event ORDER BY seq")
        ]
    (event,) = [b for b in bodies if b["kind"] == "import" and b["data"]["entity"] == "invoices"]
    assert event["invoices"] == ["INV-1", "INV-2"]


ERP = """
CREATE TABLE ar_customers (id TEXT, name TEXT, tax_id TEXT, tier TEXT, country TEXT, timezone TEXT,
  language TEXT, email TEXT, phone TEXT, address TEXT, account_manager TEXT, payment_terms_days INT,
  credit_limit TEXT, industry TEXT, annual_revenue TEXT, open_lawsuits INT, do_not_contact TEXT);
CREATE TABLE ar_invoices (number TEXT, customer_id TEXT, currency TEXT, amount TEXT, issue_date TEXT,
  due_date TEXT, contract_ref TEXT, status TEXT);
INSERT INTO ar_customers VALUES
  ('C1', 'Acme', NULL, NULL, 'CN', NULL, 'zh-CN', NULL, NULL, NULL, NULL, 30, NULL, NULL, NULL, 0, NULL),
  ('C2', 'Bright Harbour Ltd', NULL, NULL, 'GB', NULL, 'en', NULL, NULL, NULL, NULL, 30, NULL, NULL, NULL, 0, NULL);
INSERT INTO ar_invoices VALUES
  ('INV-1', 'C1', 'CNY', '100000.00', '2026-04-01', '2026-05-26', NULL, 'open'),
  ('INV-2', 'C2', 'GBP', '2500.50', '2026-04-01', '2026-05-11', NULL, 'open');
"""


@pytest.fixture
def with_source(workdir: Path) -> Path:
    with sqlite3.connect(workdir / "erp.db") as erp:
        erp.executescript(ERP)
    config = workdir / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    wired = (
        '[source]\nurl = "sqlite:///erp.db"\n'
        'customers = "SELECT * FROM ar_customers"\ninvoices = "SELECT * FROM ar_invoices"\n'
    )
    assert "[source]" in text
    config.write_text(text.replace("[source]", wired, 1), encoding="utf-8")
    return workdir


def test_sync_fills_timezones_and_keeps_a_dispute_opened_in_dunbot(with_source: Path) -> None:
    first = dunbot(with_source, "sync", "--json")
    assert first.returncode == 0, first.stderr
    assert [(r["entity"], r["inserted"]) for r in json.loads(first.stdout)] == [
        ("customers", 2),
        ("invoices", 2),
    ]
    with sqlite3.connect(with_source / "dunbot.db") as connection:
        zones = dict(connection.execute("SELECT id, timezone FROM customer").fetchall())
    assert zones == {"C1": "Asia/Shanghai", "C2": "Europe/London"}
    assert dunbot(with_source, "dispute", "open", "INV-2", "--reason", "damaged").returncode == 0
    again = dunbot(with_source, "sync", "--json")
    assert again.returncode == 0, again.stderr
    (invoices,) = [r for r in json.loads(again.stdout) if r["entity"] == "invoices"]
    assert [(c["line"], c["invoice"], c["source"], c["dunbot"]) for c in invoices["conflicts"]] == [
        (2, "INV-2", "open", "disputed")
    ]
    assert _invoice_status(with_source, "INV-2") == "disputed"
    people = dunbot(with_source, "sync")
    assert "source.invoices:2: status: invoice INV-2 stays disputed as recorded in dunbot" in people.stdout


def test_sync_names_the_row_of_a_us_customer_without_a_timezone(with_source: Path) -> None:
    with sqlite3.connect(with_source / "erp.db") as erp:
        erp.execute("UPDATE ar_customers SET country = 'US' WHERE id = 'C2'")
    stderr = refused(with_source, "sync")
    assert "source.customers:2: timezone: is empty and US has 8 time zones; write one of" in stderr
