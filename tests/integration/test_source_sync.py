"""`dunbot sync` from a real SQL source: same validation as CSV, all entities in one transaction."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.errors import ImportValidationError
from bot.ingest.service import ImportDefaults
from bot.ingest.source import sync_source

NOW = datetime(2026, 6, 10, 1, 0, tzinfo=UTC)
DEFAULTS = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")

ERP_SCHEMA = """
CREATE TABLE erp_customer (code TEXT, title TEXT, vat TEXT, country TEXT, mail TEXT, mobile TEXT,
                           terms INTEGER, blocked INTEGER);
CREATE TABLE erp_invoice (no TEXT, cust TEXT, cur TEXT, total NUMERIC, issued TEXT, due TEXT);
CREATE TABLE erp_receipt (ref TEXT, inv TEXT, amount NUMERIC, received TEXT);
INSERT INTO erp_customer VALUES
  ('C1', '上海恒通机电设备有限公司', '91310000X', 'CN', 'finance@hengtong.com.cn', '+8613800138000', 30, 0),
  ('C2', 'Bright Harbour Ltd', 'GB123', 'GB', 'ap@brightharbour.co.uk', '+447911123456', 45, 1);
INSERT INTO erp_invoice VALUES
  ('INV-1', 'C1', 'CNY', 100000.00, '2026-04-01', '2026-05-26'),
  ('INV-2', 'C2', 'GBP', 2500.5, '2026-04-01', '2026-05-11');
INSERT INTO erp_receipt VALUES ('P-1', 'INV-1', 40000, '2026-06-01');
"""

# The ERP's own column names mapped to DESIGN §2's in each query, as an operator would write them.
QUERIES = {
    "customers": (
        "SELECT code AS id, title AS name, vat AS tax_id, NULL AS tier, country, NULL AS timezone, "
        "NULL AS language, mail AS email, mobile AS phone, NULL AS address, NULL AS account_manager, "
        "terms AS payment_terms_days, NULL AS credit_limit, NULL AS industry, NULL AS annual_revenue, "
        "0 AS open_lawsuits, CASE blocked WHEN 1 THEN 'true' ELSE 'false' END AS do_not_contact "
        "FROM erp_customer"
    ),
    "invoices": (
        "SELECT no AS number, cust AS customer_id, cur AS currency, total AS amount, issued AS issue_date, "
        "due AS due_date, NULL AS contract_ref, NULL AS status FROM erp_invoice ORDER BY no"
    ),
    "payments": (
        "SELECT ref AS reference, inv AS invoice_number, amount, received AS paid_on FROM erp_receipt"
    ),
}


@pytest.fixture
def source(tmp_path: Path) -> str:
    path = tmp_path / "erp.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(ERP_SCHEMA)
    return f"sqlite:///{path}"


def counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as connection:
        return tuple(
            int(connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("customer", "invoice", "payment", "evidence_event")
        )


def test_sync_imports_every_entity_and_is_idempotent(engine: Engine, source: str) -> None:
    reports = sync_source(engine, source, QUERIES, DEFAULTS, NOW)
    assert [(r.entity, r.inserted) for r in reports] == [("customers", 2), ("invoices", 2), ("payments", 1)]
    with engine.connect() as connection:
        c2 = connection.execute(sa.text("SELECT * FROM customer WHERE id = 'C2'")).one()
        amount = connection.execute(sa.text("SELECT amount FROM invoice WHERE number = 'INV-2'")).scalar()
    assert bool(c2.do_not_contact) and c2.timezone == "Europe/London"  # GB's one zone, not the company's
    assert str(amount) == "2500.50"  # SQLite handed back a float; stored exactly as the currency's decimal
    before = counts(engine)
    again = sync_source(engine, source, QUERIES, DEFAULTS, NOW)
    assert all(r.inserted == r.updated == 0 for r in again)
    assert counts(engine) == before


def test_one_bad_row_anywhere_writes_nothing(engine: Engine, source: str) -> None:
    with sqlite3.connect(source.removeprefix("sqlite:///")) as connection:
        connection.execute("UPDATE erp_invoice SET due = '2026-02-30' WHERE no = 'INV-2'")
    before = counts(engine)
    with pytest.raises(ImportValidationError) as caught:
        sync_source(engine, source, QUERIES, DEFAULTS, NOW)
    assert caught.value.problems == ["source.invoices:2: due_date: '2026-02-30' is not a calendar date"]
    assert counts(engine) == before  # the good customers were not written either


def test_a_customer_in_a_country_of_several_zones_must_name_one(engine: Engine, source: str) -> None:
    with sqlite3.connect(source.removeprefix("sqlite:///")) as connection:
        connection.execute("UPDATE erp_customer SET country = 'US', mobile = NULL WHERE code = 'C2'")
    before = counts(engine)
    with pytest.raises(ImportValidationError) as caught:
        sync_source(engine, source, QUERIES, DEFAULTS, NOW)
    (problem,) = caught.value.problems
    assert problem.startswith("source.customers:2: timezone: is empty and US has 8 time zones; write one of")
    assert counts(engine) == before


def test_sync_keeps_a_dispute_opened_in_dunbot_until_the_source_changes(engine: Engine, source: str) -> None:
    from bot.outreach.collector import set_dispute

    sync_source(engine, source, QUERIES, DEFAULTS, NOW)
    set_dispute(engine, "INV-1", True, "wrong quantity", "ops", NOW)
    before = counts(engine)
    reports = {r.entity: r for r in sync_source(engine, source, QUERIES, DEFAULTS, NOW)}
    assert [c.message for c in reports["invoices"].conflicts] == [
        "source.invoices:1: status: invoice INV-1 stays disputed as recorded in dunbot; "
        "the source still says open, as at the last import"
    ]
    assert counts(engine) == before
    written_off = QUERIES["invoices"].replace(
        "NULL AS status", "CASE no WHEN 'INV-1' THEN 'written_off' END AS status"
    )
    reports = {
        r.entity: r for r in sync_source(engine, source, {**QUERIES, "invoices": written_off}, DEFAULTS, NOW)
    }
    assert reports["invoices"].conflicts == [] and reports["invoices"].invoices == ["INV-1"]
    with engine.connect() as connection:
        status = connection.execute(sa.text("SELECT status FROM invoice WHERE number = 'INV-1'")).scalar()
    assert status == "written_off"  # the source's own change applies


def test_query_missing_a_column(engine: Engine, source: str) -> None:
    queries = {"customers": "SELECT code AS id, title AS nmae FROM erp_customer"}
    with pytest.raises(ImportValidationError) as caught:
        sync_source(engine, source, queries, DEFAULTS, NOW)
    problems = caught.value.problems
    assert "source.customers: columns: column 'nmae' is not expected; did you mean 'name'?" in problems
    assert any(p.startswith("source.customers: columns: missing column(s) name, tax_id") for p in problems)


def test_query_that_fails(engine: Engine, source: str) -> None:
    with pytest.raises(ImportValidationError) as caught:
        sync_source(engine, source, {"customers": "SELECT * FROM no_such_table"}, DEFAULTS, NOW)
    assert caught.value.problems[0].startswith("source.customers: the query failed: no such table")


def test_sync_from_postgresql(engine: Engine, postgres_schema_url: str, source: str) -> None:
    pg = sa.create_engine(postgres_schema_url)
    with pg.begin() as connection, sqlite3.connect(source.removeprefix("sqlite:///")) as erp:
        connection.exec_driver_sql(
            "CREATE TABLE erp_receipt (ref TEXT, inv TEXT, amount NUMERIC(18,2), received DATE)"
        )
        connection.exec_driver_sql("INSERT INTO erp_receipt VALUES ('P-2', 'INV-2', 100.00, '2026-06-02')")
        erp.execute("DELETE FROM erp_receipt")
    pg.dispose()
    sync_source(engine, source, QUERIES, DEFAULTS, NOW)
    reports = sync_source(engine, postgres_schema_url, {"payments": QUERIES["payments"]}, DEFAULTS, NOW)
    assert [(r.entity, r.inserted) for r in reports] == [("payments", 1)]
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT amount, paid_on FROM payment WHERE reference='P-2'")).one()
    assert (str(row.amount), str(row.paid_on)) == ("100.00", "2026-06-02")


def test_control_characters_from_the_source_are_stored_without_them_and_kept_in_the_evidence(
    engine: Engine, source: str
) -> None:
    raw = "上海恒通\x00\x1b[2J机电\x1b]8;;https://evil.example/\x07设备\u2066有限公司\u2069\x9b31m"
    with sqlite3.connect(source.removeprefix("sqlite:///")) as connection:
        connection.execute("UPDATE erp_customer SET title = ? WHERE code = 'C1'", (raw,))
    reports = sync_source(engine, source, QUERIES, DEFAULTS, NOW)
    customers = reports[0]
    assert customers.warnings and "source.customers:1: name" in customers.warnings[0]
    with engine.connect() as connection:
        name = connection.execute(sa.text("SELECT name FROM customer WHERE id = 'C1'")).scalar_one()
        bodies = connection.execute(
            sa.text("SELECT body FROM evidence_event WHERE kind = 'import'")
        ).scalars()
        events = [json.loads(body)["data"] for body in bodies]
    assert name == "上海恒通[2J机电]8;;https://evil.example/设备有限公司31m"
    (event,) = [e for e in events if e["entity"] == "customers"]
    assert event["as_imported"] == [{"line": 1, "column": "name", "value": raw}]
    # The evidence's text is exactly what the source held; the next sync of the same rows changes nothing.
    again = sync_source(engine, source, QUERIES, DEFAULTS, NOW)
    assert again[0].inserted == again[0].updated == 0
