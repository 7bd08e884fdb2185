"""The daemon stores the console's dashboard after each cycle it runs (bot.scheduler.DaemonJobs),
on SQLite and PostgreSQL, with an injected clock and the real cycle."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.channels.base import Sender
from bot.channels.file import FileSender
from bot.config import EmailSettings, EvidenceSettings, Settings, SigningSettings, SmsSettings
from bot.domain.ledger import Channel
from bot.reporting.dashboard import dashboard, latest_snapshot
from bot.scheduler import DaemonJobs
from bot.store import tables

MONDAY = date(2026, 12, 7)
TICK = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, the default cron's tick


def test_a_tick_stores_the_dashboard_of_its_day(
    engine: Engine, tmp_path: Path, trial_certificate: Any
) -> None:
    settings = Settings(
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        email=EmailSettings(transport="file", drop_dir="outbox/email", from_address="ar@xinghe.com.cn"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        base_dir=tmp_path,
    )
    with Session(engine) as session:
        session.add(
            tables.Customer(
                id="C1",
                name="杭州远航贸易有限公司",
                country="CN",
                timezone="Asia/Shanghai",
                language="zh-CN",
                email="ap@yuanhang.example.cn",
            )
        )
        session.flush()
        session.add(
            tables.Invoice(
                number="INV-1",
                customer_id="C1",
                currency="CNY",
                amount=Decimal("5000.00"),
                issue_date=date(2026, 10, 1),
                due_date=date(2026, 11, 1),
            )
        )
        session.commit()
    senders: dict[Channel, Sender] = {
        Channel.EMAIL: FileSender(Channel.EMAIL, settings.path("outbox/email"), from_address="ar@x.cn"),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
    }
    jobs = DaemonJobs(
        engine,
        settings,
        exclusive=True,
        clock=lambda: TICK,
        senders=senders,
        stop=asyncio.Event(),
        wake_at=lambda when: None,
    )
    assert latest_snapshot(engine, MONDAY) is None
    report = asyncio.run(jobs.tick())
    assert report is not None
    stored = latest_snapshot(engine, MONDAY)
    assert stored is not None and stored.board.as_of == MONDAY and stored.computed_at == TICK
    cycle = stored.board.last_cycle
    assert cycle is not None and cycle.ok and cycle.as_of == MONDAY.isoformat()
    assert [(row.tier, row.currency, row.total) for row in stored.board.aging] == [
        (row.tier, row.currency, row.total) for row in dashboard(engine, settings, MONDAY, TICK).aging
    ]
    assert sum(row.total for row in stored.board.aging) == Decimal("5000.00")
