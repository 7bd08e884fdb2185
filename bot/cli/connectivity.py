"""`dunbot check-config --connect`: try every outside party the config names, and say how each went.

Each check is the real operation, made the way a cycle makes it: the database (connect, schema at
the newest migration), the SMTP server (the session a send opens: STARTTLS, AUTH, then QUIT),
Twilio (fetching the account with the configured credentials, through ``api_base_url`` when set),
the timestamp authority (one RFC 3161 request) and the reply mailbox (the login and the folders a
poll uses, nothing fetched or moved). Nothing is sent to anyone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.config import Settings, secret
from bot.domain.ledger import Channel
from bot.errors import ChannelError, DunbotError


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """One party: reachable and accepting us, or why not."""

    name: str
    ok: bool
    detail: str


def check_connections(settings: Settings) -> list[ConnectionCheck]:
    """Every check that applies to this config."""
    checks = [_database(settings)]
    if settings.email.transport == "smtp":
        checks.append(asyncio.run(_smtp(settings)))
    if settings.sms.transport == "twilio" or settings.voice.transport == "twilio":
        checks.append(asyncio.run(_twilio(settings)))
    if settings.signing.tsa_url:
        checks.append(_tsa(settings))
    if settings.inbound.imap_host or settings.inbound.inbox_dir:
        checks.append(_mailbox(settings))
    return checks


def _database(settings: Settings) -> ConnectionCheck:
    import sqlalchemy as sa

    from bot.store.engine import make_engine, require_schema

    engine = make_engine(settings.database_url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        require_schema(engine)
    except DunbotError as exc:
        return ConnectionCheck("database", False, f"{where}: {exc}")
    except sa.exc.SQLAlchemyError as exc:
        return ConnectionCheck("database", False, f"{where}: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    return ConnectionCheck("database", True, f"{where}: reachable, schema up to date")


async def _smtp(settings: Settings) -> ConnectionCheck:
    from bot.outreach.cycle import build_senders

    try:
        senders = build_senders(settings)
    except DunbotError as exc:
        return ConnectionCheck("smtp", False, str(exc))
    from bot.channels.smtp import SmtpSender

    sender = senders[Channel.EMAIL]
    assert isinstance(sender, SmtpSender)
    try:
        return ConnectionCheck("smtp", True, await sender.check())
    except ChannelError as exc:
        return ConnectionCheck("smtp", False, str(exc))
    finally:
        for each in senders.values():
            await each.aclose()


async def _twilio(settings: Settings) -> ConnectionCheck:
    from bot.channels.twilio import TwilioSmsSender

    sms = settings.sms
    try:
        token = secret(sms.auth_token_env, "sms.auth_token_env")
        sender = TwilioSmsSender(
            account_sid=sms.account_sid or "",
            auth_token=token,
            from_number=sms.from_number,
            messaging_service_sid=sms.messaging_service_sid,
            api_base_url=sms.api_base_url,
            connections=1,
        )
    except (DunbotError, ValueError) as exc:
        return ConnectionCheck("twilio", False, str(exc))
    where = sms.api_base_url or "api.twilio.com"
    try:
        return ConnectionCheck("twilio", True, f"{where}: {await sender.check()}")
    except ChannelError as exc:
        return ConnectionCheck("twilio", False, f"{where}: {exc}")
    finally:
        await sender.aclose()


def _tsa(settings: Settings) -> ConnectionCheck:
    from bot.render.signing import company_signer

    try:
        signer = company_signer(settings)  # its start-up sample signature is already timestamped
    except DunbotError as exc:
        return ConnectionCheck("timestamp authority", False, f"{settings.signing.tsa_url}: {exc}")
    try:
        token = signer.timestamp_token(b"dunbot check-config --connect")
    except DunbotError as exc:
        return ConnectionCheck("timestamp authority", False, str(exc))
    finally:
        signer.close()
    size = len(token or b"")
    return ConnectionCheck(
        "timestamp authority", True, f"{settings.signing.tsa_url}: a token of {size} bytes"
    )


def _mailbox(settings: Settings) -> ConnectionCheck:
    from bot.replies.fetch import check_mailbox

    name = "imap" if settings.inbound.imap_host else "inbox"
    try:
        return ConnectionCheck(name, True, check_mailbox(settings))
    except DunbotError as exc:
        return ConnectionCheck(name, False, str(exc))
