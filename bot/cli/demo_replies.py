"""The demo's replies: a few customers answer the e-mails the demo's cycle just sent, as their
accounts-payable clerks would (a promise, a dispute, a paid claim with its remittance advice, an
opt-out, an out-of-office), into the demo's ``[inbound] inbox_dir``. dunbot then reads them like any
mailbox (:func:`bot.replies.fetch.fetch_pass`) and acts (:func:`bot.replies.handling.handle_pending`).

Each reply goes to the tagged Reply-To address of the e-mail it answers, with In-Reply-To and
References naming its Message-ID and the original quoted below, so it is matched as a real one is.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.store import tables

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SentEmail:
    """One e-mail of the demo's outbox, as its recipient sees it."""

    path: Path
    to: str
    reply_to: str
    message_id: str
    subject: str
    body: str
    language: str  # the customer's


def _remittance_pdf(amount: str, reference: str) -> bytes:
    """A one-page remittance advice, as a customer's bank portal prints it."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    canvas.setFont("Helvetica", 12)
    for row, line in enumerate(
        (
            "REMITTANCE ADVICE",
            "Payer: accounts payable",
            f"Amount: {amount}",
            f"Reference: {reference}",
            "Status: executed",
        )
    ):
        canvas.drawString(72, 770 - 20 * row, line)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _promise_zh(mail: EmailMessage, sent: SentEmail) -> None:
    mail.set_content(
        "您好：\n\n贵司的付款提醒已收到。因本月资金安排，我司将于下周五前支付全部欠款，请知悉。\n\n"
        "财务部 张会计\n\n" + _quoted_zh(sent)
    )


def _dispute_zh(mail: EmailMessage, sent: SentEmail) -> None:
    mail.set_content(
        "您好，\n\n发票所列数量与我方仓库实收不符，少发了20箱，请核实后重新开具发票。核实前我方暂缓付款。\n\n"
        "采购部 李经理\n\n" + _quoted_zh(sent)
    )


def _opt_out_zh(mail: EmailMessage, sent: SentEmail) -> None:
    mail.set_content("请不要再给这个邮箱发此类邮件，退订。\n\n" + _quoted_zh(sent))


def _paid_en(mail: EmailMessage, sent: SentEmail) -> None:
    mail.set_content(
        "Hello,\n\nWe already paid this invoice last week by bank transfer; the remittance advice is "
        "attached. Please check with your bank and update your records.\n\n"
        "Kind regards,\nAccounts Payable\n\n" + _quoted_en(sent)
    )
    mail.add_attachment(
        _remittance_pdf("as invoiced", sent.subject[:60]),
        maintype="application",
        subtype="pdf",
        filename="remittance-advice.pdf",
    )


def _out_of_office_en(mail: EmailMessage, sent: SentEmail) -> None:
    mail["Auto-Submitted"] = "auto-replied"
    mail.replace_header("Subject", f"Automatic reply: {sent.subject}")
    mail.set_content(
        "I am out of the office until Monday with limited access to e-mail. For urgent matters please "
        "contact accounts@ instead.\n"
    )


# What each language's customers answer, in order: the first e-mails of each language get these.
REPLIES: dict[str, tuple[tuple[str, Callable[[EmailMessage, SentEmail], None]], ...]] = {
    "zh-CN": (("promise", _promise_zh), ("dispute", _dispute_zh), ("opt-out", _opt_out_zh)),
    "en": (("paid", _paid_en), ("auto-reply", _out_of_office_en)),
}


def _quoted_zh(sent: SentEmail) -> str:
    return "-----原始邮件-----\n" + "\n".join(sent.body.splitlines()[:8])


def _quoted_en(sent: SentEmail) -> str:
    return "On the day before, you wrote:\n" + "\n".join(f"> {line}" for line in sent.body.splitlines()[:8])


def sent_emails(outbox: Path, engine: Engine) -> Iterator[SentEmail]:
    """The e-mails in the demo's drop folder, oldest file name first, with their customer's language."""
    with engine.connect() as connection:
        languages = {
            str(row.email).lower(): str(row.language)
            for row in connection.execute(sa.select(customer_t.c.email, customer_t.c.language))
            if row.email
        }
    for path in sorted(outbox.glob("*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        to = parseaddr(str(message["To"] or ""))[1].lower()
        body = message.get_body(preferencelist=("plain",))
        yield SentEmail(
            path=path,
            to=to,
            reply_to=parseaddr(str(message["Reply-To"] or message["From"] or ""))[1],
            message_id=str(message["Message-ID"] or ""),
            subject=str(message["Subject"] or ""),
            body=body.get_content() if isinstance(body, EmailMessage) else "",
            language=languages.get(to, "zh-CN"),
        )


def write_demo_replies(outbox: Path, inbox: Path, engine: Engine, at: datetime) -> list[tuple[str, str]]:
    """Answer the first e-mails of each language in ``outbox`` into ``inbox`` (one customer each);
    returns (customer's address, what the reply is meant to be) per reply written."""
    inbox.mkdir(parents=True, exist_ok=True)
    wanted = {language: list(replies) for language, replies in REPLIES.items()}
    answered: set[str] = set()
    written: list[tuple[str, str]] = []
    for sent in sent_emails(outbox, engine):
        queue = wanted.get(sent.language)
        if not queue or sent.to in answered or not sent.message_id:
            continue
        meant, write = queue.pop(0)
        answered.add(sent.to)
        mail = EmailMessage()
        mail["From"] = sent.to
        mail["To"] = sent.reply_to
        prefix = "回复：" if sent.language == "zh-CN" else "Re: "
        mail["Subject"] = prefix + sent.subject
        mail["Date"] = format_datetime(at)
        mail["Message-ID"] = make_msgid(domain=sent.to.rpartition("@")[2] or "customer.example")
        mail["In-Reply-To"] = sent.message_id
        mail["References"] = sent.message_id
        write(mail, sent)
        name = f"{len(written) + 1:02d}-{meant}.eml"
        (inbox / name).write_bytes(mail.as_bytes(policy=policy.SMTP))
        written.append((sent.to, meant))
    return written
