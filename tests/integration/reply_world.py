"""A small world for the reply tests (issue 20): customers, invoices, e-mails we sent, and replies
arriving as ``inbound_message`` rows with their raw bytes in the artifact store, on a real database.

The classifier is another module's; these tests say what each reply is with :class:`Labels` (a reply's
text -> its :class:`Classification`), as the brief asks, so what is tested is handling itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.config import EmailSettings, EvidenceSettings, Settings
from bot.evidence.artifacts import ArtifactStore
from bot.replies.model import Classification, Reply
from bot.store import tables

AS_OF = date(2026, 6, 10)
NOW = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)  # noon in Shanghai
DOMAIN = "xinghe.com.cn"
C1_EMAIL = "ap@yuanhang.com.cn"
C1_PHONE = "+8613800138000"
SHARED = "finance@group.example"

event_t = tables.EvidenceEvent.__table__  # type: ignore[attr-defined]
inbound_t = tables.InboundMessage.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]
invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]
message_t = tables.Message.__table__  # type: ignore[attr-defined]


def reply_settings(folder: Path, **email: Any) -> Settings:
    return Settings(
        email=EmailSettings(transport="file", from_address=f"ar@{DOMAIN}", **email),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        base_dir=folder,
    )


def seed(engine: Engine) -> dict[str, int]:
    """C1 (two overdue invoices, an e-mail sent about both), C2 (one, one e-mail), S1 and S2 sharing
    an address and a phone number. Returns the e-mails' row ids by name."""
    customers = [
        ("C1", "杭州远航贸易有限公司", "Asia/Shanghai", "zh-CN", C1_EMAIL, C1_PHONE),
        ("C2", "Harbour Trading Ltd.", "Europe/London", "en", "AP@Harbour.example", "+447700900123"),
        ("S1", "星河一厂", "Asia/Shanghai", "zh-CN", SHARED, "+8613900000000"),
        ("S2", "星河二厂", "Asia/Shanghai", "zh-CN", SHARED.upper(), "+8613900000000"),
    ]
    with Session(engine) as session:
        for cid, name, zone, language, address, phone in customers:
            session.add(
                tables.Customer(
                    id=cid,
                    name=name,
                    country="CN",
                    timezone=zone,
                    language=language,
                    email=address,
                    phone=phone,
                    account_manager=f"am-{cid.lower()}@{DOMAIN}",
                )
            )
        session.flush()
        for number, cid, amount, days in (
            ("I-1", "C1", "5000.00", 20),
            ("I-2", "C1", "3000.00", 10),
            ("H-1", "C2", "800.00", 5),
            ("S1-1", "S1", "100.00", 5),
            ("S2-1", "S2", "200.00", 5),
        ):
            session.add(
                tables.Invoice(
                    number=number,
                    customer_id=cid,
                    currency="CNY",
                    amount=Decimal(amount),
                    issue_date=date(2026, 4, 1),
                    due_date=AS_OF - timedelta(days=days),
                )
            )
        session.commit()
    return {
        "m1": sent_email(engine, "C1", C1_EMAIL, ("I-1", "I-2"), "formal_notice"),
        "m2": sent_email(engine, "C2", "ap@harbour.example", ("H-1",), "due_statement"),
    }


def sent_email(engine: Engine, customer: str, recipient: str, invoices: Sequence[str], step: str) -> int:
    """An e-mail the outbox sent, with its stable Message-ID (as bot.outreach.outbox_values keys it)."""
    with engine.begin() as connection:
        row = connection.execute(
            sa.insert(message_t)
            .values(
                customer_id=customer,
                step=step,
                channel="email",
                business_date=AS_OF - timedelta(days=1),
                recipient=recipient,
                state="sent",
                created_at=NOW,
                updated_at=NOW,
                sent_at=NOW - timedelta(days=1),
            )
            .returning(message_t.c.id)
        ).scalar_one()
        key = f"<dunbot.{row}.20260609@{DOMAIN}>"
        connection.execute(sa.update(message_t).where(message_t.c.id == row).values(message_id=key))
        for number in invoices:
            connection.execute(
                sa.insert(tables.MessageInvoice.__table__).values(  # type: ignore[attr-defined]
                    message_id=row, invoice_number=number
                )
            )
    return int(row)


def key_of(engine: Engine, message: int) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(sa.select(message_t.c.message_id).where(message_t.c.id == message)).scalar()
        )


def email_bytes(
    sender: str,
    text: str,
    *,
    to: str = f"replies@{DOMAIN}",
    subject: str = "Re: 催款通知",
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    attachments: Sequence[tuple[str, str, bytes]] = (),
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Wed, 10 Jun 2026 11:30:00 +0800"
    message["Message-ID"] = (
        f"<{hashlib.sha256(f'{sender}{text}{to}'.encode()).hexdigest()[:16]}@customer.example>"
    )
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=SMTP)


def bounce_bytes(original_key: str, recipient: str, status: str = "5.1.1") -> bytes:
    """A Postfix-style RFC 3464 DSN for the e-mail ``original_key`` to ``recipient``."""
    boundary = "dsn-boundary-1"
    action = "failed"
    return (
        f"From: MAILER-DAEMON@mx.{DOMAIN} (Mail Delivery System)\r\n"
        f"To: ar@{DOMAIN}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Wed, 10 Jun 2026 11:31:00 +0800\r\n"
        "Message-ID: <bounce-1@mx.xinghe.com.cn>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"I'm sorry to have to inform you that your message could not be delivered to {recipient}.\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.{DOMAIN}\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected\r\n"
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"From: ar@{DOMAIN}\r\n"
        f"To: {recipient}\r\n"
        f"Message-ID: {original_key}\r\n"
        "Subject: =?utf-8?b?5YKs5qy+6YCa55+l?=\r\n"
        "\r\n"
        f"--{boundary}--\r\n"
    ).encode("ascii")


def sms_bytes(sender: str, body: str, sid: str) -> bytes:
    """Twilio's inbound webhook body, as the webhook stores it raw."""
    return urlencode({"MessageSid": sid, "From": sender, "To": "+8610000000000", "Body": body}).encode()


def arrive(
    engine: Engine,
    settings: Settings,
    raw: bytes,
    *,
    channel: str = "email",
    sender: str = "",
    key: str | None = None,
    at: datetime = NOW,
) -> int:
    """A reply as a fetcher leaves it: raw bytes in the artifact store, a ``received`` row."""
    digest = ArtifactStore(settings.path(settings.evidence.artifact_dir)).put(raw)
    with engine.begin() as connection:
        return int(
            connection.execute(
                sa.insert(inbound_t)
                .values(
                    channel=channel,
                    source_key=key or f"file:{digest}",
                    raw_sha256=digest,
                    sender=sender,
                    subject="",
                    received_at=at,
                    state="received",
                    attempts=0,
                    created_at=at,
                    updated_at=at,
                )
                .returning(inbound_t.c.id)
            ).scalar_one()
        )


class Labels:
    """A reply's text -> what it is (the classifier's part, given by the test)."""

    def __init__(self, labels: dict[str, Classification], default: Classification | None = None) -> None:
        self.labels = labels
        self.default = default  # for replies whose text the test does not write (a DSN)
        self.seen: list[tuple[str, date, str]] = []

    def __call__(self, reply: Reply, *, today: date, timezone: str) -> Classification:
        self.seen.append((reply.text, today, timezone))
        if self.default is not None:
            return self.labels.get(reply.text, self.default)
        return self.labels[reply.text]


def events(engine: Engine, kind: str | None = None) -> list[dict[str, Any]]:
    """The evidence events (bodies), oldest first."""
    query = sa.select(event_t.c.body).order_by(event_t.c.seq)
    if kind is not None:
        query = query.where(event_t.c.kind == kind)
    with engine.connect() as connection:
        return [json.loads(body) for body in connection.execute(query).scalars()]


def inbound_row(engine: Engine, inbound: int) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.select(inbound_t).where(inbound_t.c.id == inbound)).one()


def invoice(engine: Engine, number: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.select(invoice_t).where(invoice_t.c.number == number)).one()


def tasks(engine: Engine, kind: str | None = None) -> list[Any]:
    query = sa.select(task_t).order_by(task_t.c.id)
    if kind is not None:
        query = query.where(task_t.c.kind == kind)
    with engine.connect() as connection:
        return list(connection.execute(query).all())
