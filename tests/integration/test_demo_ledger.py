"""The demo ledger: deterministic, valid for the real importer, and every ladder step due on the day."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from bot.config import Settings
from bot.domain.ladder import default_ladders
from bot.ingest.demo_ledger import generate_demo_ledger
from bot.ingest.service import ImportDefaults, import_file
from bot.outreach.planning import preview_plan
from bot.store.engine import make_engine
from bot.store.migrate import upgrade

AS_OF = date(2026, 11, 23)  # a Monday, a working day in China


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_same_date_and_seed_give_the_same_bytes(tmp_path: Path) -> None:
    first = generate_demo_ledger(tmp_path / "a", AS_OF)
    second = generate_demo_ledger(tmp_path / "b", AS_OF)
    other = generate_demo_ledger(tmp_path / "c", AS_OF, seed=8)
    for name in ("customers", "contracts", "invoices", "payments"):
        assert getattr(first, name).read_bytes() == getattr(second, name).read_bytes()
    assert first.invoices.read_bytes() != other.invoices.read_bytes()
    assert first.promises == second.promises and first.disputes == second.disputes


def test_shape_of_the_ledger(tmp_path: Path) -> None:
    files = generate_demo_ledger(tmp_path, AS_OF)
    customers, invoices = _rows(files.customers), _rows(files.invoices)
    assert 50 <= len(customers) <= 70 and 350 <= len(invoices) <= 500
    assert {c["language"] for c in customers} == {"zh-CN", "en"}
    assert len({c["country"] for c in customers}) >= 5
    ladder_days = {step.day for steps in default_ladders().values() for step in steps}
    due_offsets = {(AS_OF - date.fromisoformat(i["due_date"])).days for i in invoices}
    assert ladder_days <= due_offsets
    assert len(files.disputes) == 3 and len(files.promises) == 4
    assert any(promised < AS_OF for _, promised, _ in files.promises)  # one is already broken


def test_the_importer_accepts_it_and_every_tier_appears(tmp_path: Path) -> None:
    files = generate_demo_ledger(tmp_path / "ledger", AS_OF)
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade(engine)
    defaults = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    for entity in ("contracts", "customers", "invoices", "payments"):
        report = import_file(engine, entity, getattr(files, entity), defaults=defaults, now=now)
        assert report.inserted == report.rows > 0
    with engine.connect() as connection:
        overpaid = connection.execute(
            sa.text(
                "SELECT count(*) FROM invoice i WHERE (SELECT sum(CAST(amount AS REAL)) FROM payment p "
                "WHERE p.invoice_number = i.number) > CAST(i.amount AS REAL)"
            )
        ).scalar_one()
    assert overpaid >= 1
    preview = preview_plan(engine, Settings(), AS_OF)
    assert {tier.value for tier in preview.tiers} == {"strategic", "cooperative", "cautious"}
    assert min(preview.tiers.values()) >= 8  # no tier is a token one
    statuses = {d.status.value for d in preview.decisions}
    # A first run: invoices whose legal step is due open with a signed demand instead (issue 16,
    # DESIGN §4 rule 2; before, this run placed legal steps awaiting approval), and the
    # do_not_contact customers' overdue invoices are manual.
    assert {"planned", "superseded", "manual"} <= statuses
    assert "awaiting_approval" not in statuses
    assert any(d.reason.startswith("first demand before ") for d in preview.decisions)
