"""Replies as customers write them, for the replies bench (``bench/inbound.py``) and the crash drill:
a fixed mix of promises (with a date), disputes, paid claims, opt-outs and out-of-office replies, in
Chinese and English, each from a customer's own address about one of its invoices, plus replies
from strangers (no customer matches: a collector confirms them).

Not a bench itself. Every reply's kind is the one :func:`bot.replies.classify.classify` gives it
with a confidence at or above the default ``[inbound] confirm_below``
(``tests/unit/test_bench_reply_mix.py`` checks that), so the mix says how many replies are acted on
and how.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

# Of every 20 replies: 6 promises, 3 disputes, 3 paid claims, 2 opt-outs, 4 automatic (out-of-office), 2 strangers.
PATTERN = (
    "promise",
    "auto-reply",
    "dispute",
    "promise",
    "paid",
    "stranger",
    "promise",
    "opt-out",
    "auto-reply",
    "promise",
    "dispute",
    "paid",
    "promise",
    "auto-reply",
    "opt-out",
    "promise",
    "paid",
    "dispute",
    "stranger",
    "auto-reply",
)
PROMISE_DATE = date(2027, 3, 15)  # far enough ahead of any run of the bench or drill

_ZH = {
    "promise": (
        "付款安排",
        "您好，\n\n发票{invoice}的款项我们会在2027年3月15日付清，请知悉。\n\n{name}财务部",
    ),
    "dispute": (
        "关于发票{invoice}",
        "您好，\n\n发票{invoice}对应的货物有质量问题，我们不认可这笔款项，已经退货，请先不要催款。\n\n{name}",
    ),
    "paid": (
        "已付款",
        "您好，\n\n发票{invoice}的款项已于昨天通过银行转账支付，请查收。\n\n{name}财务部",
    ),
    "opt-out": ("退订", "退订，请不要再发催款邮件到这个邮箱。"),
    "auto-reply": (
        "自动回复：付款提醒",
        "您好，我目前休假中，2027年1月4日返回，期间无法及时回复邮件。急事请联系财务部。",
    ),
}
_EN = {
    "promise": (
        "Payment of {invoice}",
        "Hello,\n\nSorry for the delay. We will pay invoice {invoice} on 15 March 2027.\n\nRegards,\n{name}",
    ),
    "dispute": (
        "Invoice {invoice}",
        "Hello,\n\nWe dispute invoice {invoice}: the goods arrived damaged and we returned them. We will "
        "not pay it until this is resolved.\n\n{name}",
    ),
    "paid": (
        "Paid",
        "Hello,\n\nWe paid invoice {invoice} yesterday by bank transfer. Please check your account.\n\n{name}",
    ),
    "opt-out": ("Unsubscribe", "Please unsubscribe this address and stop sending these emails."),
    "auto-reply": (
        "Automatic reply: Payment reminder",
        "I am out of the office until 4 January 2027 with limited access to email. For urgent matters "
        "please contact accounts@example.com.",
    ),
}
STRANGER = {
    "zh": ("咨询", "您好，请问这封邮件是发给谁的？我们公司没有和贵司的业务往来。"),
    "en": ("Question", "Hello, who is this email meant for? We do not do business with your company."),
}


@dataclass(frozen=True)
class Customer:
    """Whom a reply can come from: a customer's id, name, e-mail address and one open invoice."""

    id: str
    name: str
    email: str
    invoice: str


@dataclass(frozen=True)
class MixedReply:
    """One reply: the raw message, what it is, whose it is (None: a stranger's) and its language."""

    raw: bytes
    kind: str  # a ReplyKind value, or "stranger" (an unmatched sender: a collector confirms it)
    customer: str | None
    language: str  # zh | en
    invoice: str | None


def kind_of(index: int) -> str:
    """The kind of the ``index``-th reply of the mix."""
    return PATTERN[index % len(PATTERN)]


def mixed_replies(customers: Sequence[Customer], count: int, *, tag: str = "bench") -> list[MixedReply]:
    """``count`` replies in the mix, reply ``k`` from ``customers[k % len(customers)]`` (a stranger's
    from an address no customer has), every other reply in Chinese (alternating by round of the pattern too); Message-IDs carry ``tag``."""
    replies = []
    for index in range(count):
        kind = kind_of(index)
        language = "zh" if (index + index // len(PATTERN)) % 2 == 0 else "en"
        customer = customers[index % len(customers)]
        auto = ""
        if kind == "stranger":
            subject, body = STRANGER[language]
            sender, owner, invoice = f"someone{index}@stranger.example", None, None
        else:
            subject, body = (_ZH if language == "zh" else _EN)[kind]
            sender, owner, invoice = customer.email, customer.id, customer.invoice
            subject = subject.format(invoice=invoice, name=customer.name)
            body = body.format(invoice=invoice, name=customer.name)
            if kind == "auto-reply":  # an out-of-office reply, marked as automatic (RFC 3834)
                auto = "Auto-Submitted: auto-replied\r\n"
        raw = (
            f"From: {sender}\r\n"
            "To: ar@dunbot.example\r\n"
            f"Subject: {_encoded(subject)}\r\n"
            f"Message-ID: <{tag}-{index}@replies.example>\r\n"
            "Date: Mon, 07 Dec 2026 10:00:00 +0800\r\n"
            f"{auto}"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            f"{body}\r\n"
        ).encode()
        replies.append(MixedReply(raw, kind, owner, language, invoice))
    return replies


def _encoded(subject: str) -> str:
    from email.header import Header

    return subject if subject.isascii() else Header(subject, "utf-8").encode()
