"""The RFC 5322 bytes of a dunning e-mail: the same bytes go over SMTP, into a drop folder, into evidence."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from bot.channels.base import Outgoing


def build_email(message: Outgoing, from_address: str, *, now: datetime | None = None) -> bytes:
    """The RFC 5322 bytes of an e-mail: text (+ HTML) alternative, attachments, stable Message-ID."""
    email = EmailMessage(policy=SMTP)
    email["From"] = from_address
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(now or datetime.now(UTC))
    email["Message-ID"] = message.key if message.key.startswith("<") else make_msgid()
    if message.customer:
        email["X-Dunbot-Customer"] = message.customer
    if message.step:
        email["X-Dunbot-Step"] = message.step
    if message.invoices:
        email["X-Dunbot-Invoices"] = ", ".join(message.invoices)
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        email.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return email.as_bytes()
