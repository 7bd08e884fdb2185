"""The dashboard's numbers on SQLite and PostgreSQL, against the reports they must agree with.

The ledger is the demo's (seven currencies, a year of paid history, every aging bucket), imported by
the real importer, then a real cycle runs on it (file drop folders for e-mail and SMS; the letters
have no sender here, so they end "unknown" with a review task — a state the outbox chart must show).
"""

from __future__ import annotations

import asyncio
import csv
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.channels.file import FileSender
from bot.config import EmailSettings, EvidenceSettings, Settings, SigningSettings, SmsSettings
from bot.domain.ledger import Channel
from bot.ingest.demo_ledger import generate_demo_ledger
from bot.ingest.service import ImportDefaults, import_file
from bot.outreach.cycle import run_cycle
from bot.reporting.dashboard import (
    KEEP_DAYS,
    dashboard,
    from_json,
    history_dates,
    latest_snapshot,
    snapshot_t,
    store_snapshot,
    to_json,
)
from bot.reporting.receivables import aging_report, kpi_report
from bot.store import tables
from bot.web.charts import dashboard_charts
from bot.web.console.i18n import translations

AS_OF = date(2026, 11, 23)  # a Monday, a working day in China
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
DEFAULTS = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")


class Clock:
    """An injected clock that moves a millisecond per reading."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture
def settings(tmp_path: Path, trial_certificate: Any) -> Settings:
    return Settings(
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        email=EmailSettings(transport="file", drop_dir="outbox/email", from_address="ar@xinghe.com.cn"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        base_dir=tmp_path,
    )


@pytest.fixture
def demo_engine(engine: Engine, tmp_path: Path) -> Engine:
    files = generate_demo_ledger(tmp_path / "ledger", AS_OF)
    for entity in ("contracts", "customers", "invoices", "payments"):
        import_file(engine, entity, getattr(files, entity), defaults=DEFAULTS, now=NOW)
    return engine


def _cycle(engine: Engine, settings: Settings) -> Any:
    senders = {
        Channel.EMAIL: FileSender(
            Channel.EMAIL, settings.path("outbox/email"), from_address="ar@xinghe.com.cn"
        ),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
    }
    clock = Clock(datetime(2026, 11, 23, 4, 0, tzinfo=UTC))  # noon in Shanghai
    return asyncio.run(run_cycle(engine, settings, AS_OF, clock=clock, exclusive=True, senders=senders))


def test_the_numbers_agree_with_report_aging_report_kpi_and_the_outbox(
    demo_engine: Engine, settings: Settings
) -> None:
    report = _cycle(demo_engine, settings)
    board = dashboard(demo_engine, settings, AS_OF, NOW)

    # Aging per tier: `report aging`'s "by tier" rows, amount for amount.
    aging = aging_report(demo_engine, settings, AS_OF)
    assert [(r.tier, r.currency, r.amounts) for r in board.aging] == [
        (row.keys[0], row.currency, tuple(row.amounts[b] for b in aging.bucket_names))
        for row in aging.by_tier
    ]
    assert {r.tier for r in board.aging} == {"strategic", "cooperative", "cautious"}
    assert len(board.currencies) >= 5

    # Every history point is `report kpi --as-of D` (90 days) for its date.
    assert [p.end for p in board.history] == list(history_dates(AS_OF))
    assert board.history[-1].end == AS_OF and board.history[-2].end == date(2026, 10, 31)
    for point in board.history:
        assert list(point.by_tier) == kpi_report(demo_engine, settings, point.end, 90).rows, point.end
    # ...and the numbers do move over the year (they are computed as of each date, not copied).
    dsos = {row.dso for p in board.history for row in p.totals if row.currency == "CNY"}
    assert len(dsos - {None}) >= 5
    # The totals are the sums over the tiers, and the ratios of those sums.
    today = board.today
    for total in today.totals:
        tiers = [row for row in today.by_tier if row.currency == total.currency]
        receivables = sum((row.receivables for row in tiers), Decimal(0))
        overdue = sum((row.overdue for row in tiers), Decimal(0))
        assert total.receivables == receivables and total.overdue == overdue
        assert total.overdue_rate == (overdue / receivables * 100).quantize(Decimal("0.1"))

    # Outbox states: the message table counted by hand; the cycle is the one that just ran.
    with demo_engine.connect() as connection:
        counted = Counter(
            dict(
                connection.execute(
                    sa.select(tables.Message.state, sa.func.count()).group_by(tables.Message.state)
                ).all()
            )
        )
    assert {state.state: state.count for state in board.outbox} == dict(counted)
    assert [s.state for s in board.outbox][:1] == ["planned"]  # pending states first
    assert all(s.count == sum(n for _, n in s.by_channel) for s in board.outbox)
    assert counted["sent"] > 0 and counted["unknown"] > 0
    cycle = board.last_cycle
    assert cycle is not None and cycle.ok and board.cycle_ran_today
    assert cycle.messages_sent == report.stats.outcomes["sent"] == counted["sent"]
    assert cycle.messages_unknown == counted["unknown"]

    # The charts' tables carry the same numbers.
    charts = {chart.kind: chart for chart in dashboard_charts(board, translations("en"))}
    assert {r[-1] for r in charts["aging-CNY"].rows} == {r.total for r in board.aging if r.currency == "CNY"}
    assert charts["outbox"].rows[0][-1] == board.outbox[0].count


def test_a_later_payment_changes_today_but_not_the_past(
    demo_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    before = dashboard(demo_engine, settings, AS_OF, NOW)
    with demo_engine.connect() as connection:
        number, amount = connection.execute(
            sa.select(tables.Invoice.number, tables.Invoice.amount)
            .where(tables.Invoice.currency == "CNY", tables.Invoice.issue_date < date(2026, 9, 1))
            .where(~tables.Invoice.number.in_(sa.select(tables.Payment.invoice_number)))
            .order_by(tables.Invoice.number)
            .limit(1)
        ).one()
    payments = tmp_path / "late_payment.csv"
    with payments.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(
            [
                ["reference", "invoice_number", "amount", "paid_on"],
                ["PAY-LATE-1", number, amount, "2026-11-10"],
            ]
        )
    import_file(demo_engine, "payments", payments, defaults=DEFAULTS, now=NOW)
    after = dashboard(demo_engine, settings, AS_OF, NOW)

    def receivables(board: Any, index: int) -> Decimal:
        return next(r.receivables for r in board.history[index].totals if r.currency == "CNY")

    assert before.history[:-1] == after.history[:-1]  # October and earlier: as they were
    assert receivables(after, -1) == receivables(before, -1) - Decimal(amount)
    assert list(after.today.by_tier) == kpi_report(demo_engine, settings, AS_OF, 90).rows


def test_an_empty_ledger_gives_an_honest_empty_dashboard(engine: Engine, settings: Settings) -> None:
    board = dashboard(engine, settings, AS_OF, NOW)
    assert board.is_empty
    assert board.aging == () and board.outbox == () and board.last_cycle is None
    assert not board.cycle_ran_today
    assert len(board.history) == 13 and all(p.by_tier == () == p.totals for p in board.history)
    for chart in dashboard_charts(board, translations("zh-CN")):
        assert chart.rows == ()
        assert "暂无数据" in chart.svg  # pygal's "no data" text, in the user's language


def test_a_stored_snapshot_reads_back_equal_and_old_ones_are_bounded(
    demo_engine: Engine, settings: Settings
) -> None:
    _cycle(demo_engine, settings)
    board = dashboard(demo_engine, settings, AS_OF, NOW)
    assert board.last_cycle is not None and board.outbox and board.aging
    # Exact: equal field for field, decimals with their scale ("1.10" stays "1.10"), instants with
    # their offset.
    text = to_json(board)
    again = from_json(text)
    assert again == board
    assert [str(a) for r in again.aging for a in r.amounts] == [
        str(a) for r in board.aging for a in r.amounts
    ]
    assert again.last_cycle is not None and again.last_cycle.started_at.utcoffset() is not None
    assert to_json(again) == text

    assert latest_snapshot(demo_engine, AS_OF) is None
    old = dashboard(demo_engine, settings, AS_OF - timedelta(days=KEEP_DAYS + 1), NOW)
    store_snapshot(demo_engine, old, NOW)
    yesterday = dashboard(demo_engine, settings, AS_OF - timedelta(days=1), NOW)
    store_snapshot(demo_engine, yesterday, NOW)
    first = store_snapshot(demo_engine, board, NOW)
    second = store_snapshot(demo_engine, board, NOW + timedelta(hours=1))
    stored = latest_snapshot(demo_engine, AS_OF)
    assert stored is not None and stored.id == second != first and stored.board == board
    assert stored.computed_at == NOW + timedelta(hours=1)
    earlier = latest_snapshot(demo_engine, AS_OF - timedelta(days=1))
    assert earlier is not None and earlier.board == yesterday  # the newest on or before a date
    with demo_engine.connect() as connection:
        kept = connection.execute(sa.select(snapshot_t.c.as_of).order_by(snapshot_t.c.as_of)).scalars().all()
    # One per date (the newest), and none older than KEEP_DAYS before the newest.
    assert kept == [AS_OF - timedelta(days=1), AS_OF]
