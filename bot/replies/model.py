"""The reply as every step sees it, and what the classifier made of it. Plain frozen values: parsing
builds a :class:`Reply`, classification a :class:`Classification`, handling reads both."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class ReplyKind(StrEnum):
    """What a reply is (DESIGN §11), in the order the classifier weighs them."""

    BOUNCE = "bounce"  # an RFC 3464 DSN (or a provider's undeliverable report)
    AUTO_REPLY = "auto-reply"  # RFC 3834 Auto-Submitted, out-of-office
    OPT_OUT = "opt-out"  # STOP, 退订, TD, unsubscribe
    PAID = "paid"  # 已付款, "already paid", a remittance advice
    DISPUTE = "dispute"  # the goods, the quantity, the price, the invoice is contested
    PROMISE = "promise"  # will pay on a date (and an amount)
    OTHER = "other"  # anything else: a task with the text


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class DeliveryReport:
    """What an RFC 3464 DSN says about one recipient of the original message."""

    original_message_id: str | None  # the Message-ID of the message that bounced (from the returned headers)
    recipient: str  # the Final-Recipient / Original-Recipient address, lower-cased
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # e.g. "5.1.1"
    diagnostic: str = ""

    @property
    def hard(self) -> bool:
        """A permanent failure (5.x.x): the address is not to be mailed again until it changes."""
        return self.action == "failed" and self.status.startswith("5")


@dataclass(frozen=True)
class Reply:
    """One inbound message, decoded. ``text`` is what the customer wrote this time (quoted history and
    signature removed, HTML turned into text); ``full_text`` the whole body as text."""

    channel: str  # "email" | "sms"
    sender: str  # lower-cased e-mail address, or an E.164 number
    recipients: tuple[str, ...] = ()  # To / Cc / Delivered-To addresses, lower-cased (tags are found here)
    subject: str = ""
    text: str = ""
    full_text: str = ""
    header_message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    sent_at: datetime | None = None  # the Date header, or the provider's time for an SMS
    auto_submitted: str | None = None  # RFC 3834 Auto-Submitted value, when not "no"
    # Other signs of an automatic message: X-Autoreply, X-Autorespond, Precedence bulk/auto_reply,
    # X-Auto-Response-Suppress, an out-of-office subject; the names of the headers seen.
    auto_headers: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    delivery_reports: tuple[DeliveryReport, ...] = ()  # non-empty for a DSN
    charset_problems: tuple[str, ...] = field(default=())  # parts that did not decode cleanly


@dataclass(frozen=True)
class Classification:
    """What a reply is, how sure the classifier is, and what it found in it."""

    kind: ReplyKind
    confidence: Decimal  # 0..1; below [inbound] confirm_below a collector confirms it
    language: str | None = None  # "zh-CN" | "en" when it could tell
    promise_date: date | None = None  # resolved in the customer's timezone
    promise_amount: Decimal | None = None
    acknowledges_debt: bool = False  # "we will pay", "我们会付款": matters for limitation periods
    remittance: bool = False  # a remittance advice is attached (kept as an artifact)
    reasons: tuple[str, ...] = ()  # the words or headers that decided it, shown to collectors
