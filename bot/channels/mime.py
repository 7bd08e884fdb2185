"""The RFC 5322 bytes of a dunning e-mail: the same bytes go over SMTP, into a drop folder, into evidence.

Built with the ``email.mime`` classes and generated with the compat32 policy and CRLF line ends: for
the same message this is about three times faster than ``EmailMessage`` with ``policy.SMTP``, whose
header folding dominates the cost of sending a Chinese e-mail.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, make_msgid

from bot.channels.base import Outgoing

_WIRE = compat32.clone(linesep="\r\n")


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def build_email(message: Outgoing, from_address: str, *, now: datetime | None = None) -> bytes:
    """The RFC 5322 bytes of an e-mail: text (+ HTML) alternative, attachments, stable Message-ID."""
    body: MIMEBase = MIMEText(message.text, "plain", "utf-8")
    if message.html:
        alternative = MIMEMultipart("alternative")
        alternative.attach(body)
        alternative.attach(MIMEText(message.html, "html", "utf-8"))
        body = alternative
    if message.attachments:
        mixed = MIMEMultipart("mixed")
        mixed.attach(body)
        for attachment in message.attachments:
            _, _, subtype = attachment.content_type.partition("/")
            part = MIMEApplication(attachment.data, _subtype=subtype or "octet-stream")
            part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
            mixed.attach(part)
        body = mixed
    body["From"] = from_address
    body["To"] = message.recipient
    body["Subject"] = _header(message.subject)
    body["Date"] = format_datetime(now or datetime.now(UTC))
    body["Message-ID"] = message.key if message.key.startswith("<") else make_msgid()
    if message.customer:
        body["X-Dunbot-Customer"] = _header(message.customer)
    if message.step:
        body["X-Dunbot-Step"] = message.step
    if message.invoices:
        body["X-Dunbot-Invoices"] = _header(", ".join(message.invoices))
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=_WIRE).flatten(body)
    return buffer.getvalue()
