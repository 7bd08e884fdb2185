"""A customer worked the way dunbot works one, for the customer page's tests.

Two cooperative customers (procedural ladder), C1 worked by Li Na and C2 by Wang Wei, each with an
invoice 15 days overdue on ``AS_OF`` and one falling due a week later. The real planner and outbox
run two cycles: eight days before ``AS_OF`` the collection call (a task and an SMS), on ``AS_OF`` the
formal notice (an e-mail and a letter carrying one signed PDF) and the pre-due reminder e-mail. Then
Li Na records a promise on C1's overdue invoice and the ledger brings a part payment of the other.
C3 (Li Na's too) owes USD 46 days overdue: the credit hold went out eight days before, and on
``AS_OF`` its lawyer's letter asks for approval, which a manager gives: the letter's e-mail and
post wait for the next cycle.
The e-mail and SMS go to the file channel's folders, the letter to the print queue.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.channels.file import FileSender
from bot.channels.letter import LetterQueueSender
from bot.config import EmailSettings, EvidenceSettings, Settings, SigningSettings, SmsSettings
from bot.domain.ledger import Channel
from bot.ingest.demo_ledger import CUSTOMER_HEADER
from bot.ingest.schema import ImportDefaults
from bot.ingest.service import import_rows
from bot.outreach.approval import decide
from bot.outreach.collector import record_promise
from bot.outreach.cycle import run_cycle

AS_OF = date(2026, 6, 10)  # a Wednesday, a working day in China
NOON = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)  # noon in Shanghai
LI_NA = "li.na@xinghe.com.cn"
WANG_WEI = "wang.wei@xinghe.com.cn"
MANAGER = "boss@xinghe.com.cn"
DEFAULTS = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")
PROMISED_ON = date(2026, 6, 20)


def story_settings(base: Path, pkcs12: Path) -> Settings:
    return Settings(
        signing=SigningSettings(pkcs12=str(pkcs12)),
        email=EmailSettings(transport="file", drop_dir="outbox/email", from_address="ar@xinghe.com.cn"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        base_dir=base,
    )


def _customer(id: str, name: str, manager: str) -> dict[str, str]:
    return {
        **dict.fromkeys(CUSTOMER_HEADER, ""),
        "id": id,
        "name": name,
        "tier": "cooperative",
        "email": f"ap@{id.lower()}.example.cn",
        "phone": "+8613800138000",
        "address": "上海市浦东新区世纪大道 100 号",
        "account_manager": manager,
        "credit_limit": "80000.00",
    }


def _invoice(number: str, customer: str, amount: str, due: date) -> dict[str, str]:
    return {
        "number": number,
        "customer_id": customer,
        "currency": "CNY",
        "amount": amount,
        "issue_date": (due - timedelta(days=30)).isoformat(),
        "due_date": due.isoformat(),
        "contract_ref": "",
        "status": "",
    }


def _in_a_thread(work: Any) -> None:
    """Run ``work`` on its own thread: a test module with a browser holds the main thread's loop."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def tell_story(engine: Engine, settings: Settings) -> None:
    """Import the ledger, run the two cycles, record the promise and the payment (see the module)."""
    customers = [
        _customer("C1", "杭州远航贸易有限公司", LI_NA),
        _customer("C2", "宁波港湾物流有限公司", WANG_WEI),
        _customer("C3", "苏州恒远精密机械有限公司", LI_NA),
    ]
    invoices = [
        _invoice("INV-C1-15", "C1", "20000.00", AS_OF - timedelta(days=15)),
        _invoice("INV-C1-NEXT", "C1", "5000.00", AS_OF + timedelta(days=7)),
        _invoice("INV-C2-15", "C2", "9000.00", AS_OF - timedelta(days=15)),
        {**_invoice("INV-C3-46", "C3", "3000.00", AS_OF - timedelta(days=46)), "currency": "USD"},
    ]
    import_rows(
        engine, "customers", "customers.csv", list(enumerate(customers, 2)), defaults=DEFAULTS, now=NOON
    )
    import_rows(engine, "invoices", "invoices.csv", list(enumerate(invoices, 2)), defaults=DEFAULTS, now=NOON)
    senders: dict[Channel, Any] = {
        Channel.EMAIL: FileSender(
            Channel.EMAIL, settings.path("outbox/email"), from_address="ar@xinghe.com.cn"
        ),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
        Channel.LETTER: LetterQueueSender(settings.path("outbox/letters")),
    }

    def cycles() -> None:
        for day in (AS_OF - timedelta(days=8), AS_OF):
            at = NOON - (AS_OF - day)
            asyncio.run(
                run_cycle(
                    engine, settings, day, clock=lambda at=at: at, exclusive=True, senders=dict(senders)
                )
            )

    _in_a_thread(cycles)
    with engine.connect() as connection:
        approval = connection.execute(
            sa.text("SELECT id FROM task WHERE customer_id = 'C3' AND kind = 'approval'")
        ).scalar_one()
    decide(
        engine,
        settings,
        approval,
        approve=True,
        reason="",
        actor=f"user:{MANAGER}",
        now=NOON + timedelta(minutes=45),
        business_date=AS_OF,
    )
    record_promise(
        engine,
        "INV-C1-15",
        PROMISED_ON,
        Decimal("20000.00"),
        f"user:{LI_NA}",
        NOON + timedelta(minutes=30),
        made_on=AS_OF,
        tolerance=Decimal("1.00"),
    )
    payment = {
        "reference": "PAY-1",
        "invoice_number": "INV-C1-NEXT",
        "amount": "2000.00",
        "paid_on": AS_OF.isoformat(),
    }
    import_rows(
        engine, "payments", "payments.csv", [(2, payment)], defaults=DEFAULTS, now=NOON + timedelta(hours=1)
    )
