"""The e-mail transport ``[email]`` names: SMTP (aiosmtplib) or the drop folder, built in one place.

The outbox sends dunning e-mail through it, and the evidence witness mails each signed checkpoint
through the same one (DESIGN §6): one SMTP client, one set of settings, secrets read here, once.
"""

from __future__ import annotations

import ssl

from bot.channels.base import Sender
from bot.channels.file import FileSender
from bot.config import Settings, secret
from bot.domain.ledger import Channel


def email_sender(settings: Settings, *, connections: int = 1) -> Sender:
    """The configured e-mail transport, keeping up to ``connections`` SMTP connections open."""
    email = settings.email
    if email.transport != "smtp":
        return FileSender(Channel.EMAIL, settings.path(email.drop_dir), from_address=email.from_address)
    from bot.channels.smtp import SmtpSender

    password = secret(email.password_env, "email.password_env") if email.username else None
    tls_context = None
    if email.ca_file:
        tls_context = ssl.create_default_context(cafile=str(settings.path(email.ca_file)))
    return SmtpSender(
        host=email.host,
        port=email.port,
        starttls=email.starttls,
        username=email.username,
        password=password,
        from_address=email.from_address,
        timeout=float(email.timeout_seconds),
        tls_context=tls_context,
        connections=connections,
    )
