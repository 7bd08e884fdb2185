"""Unsubscribe links in outgoing e-mail (RFC 2369 ``List-Unsubscribe``, RFC 8058 one-click).

The https link names the message by its key (its Message-ID) and carries an HMAC of that key under
the ``[web] session_secret_env`` secret: a link that only counted message numbers would let anyone
opt any customer out. The endpoint that receives the POST (``bot.web.unsubscribe``) checks it with
:func:`token_matches`, finds the message with :func:`find_recipient` and opts its customer out of
e-mail with :func:`unsubscribe` — the same service function, and evidence event, as
``dunbot opt-out CUSTOMER --channel email``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.domain.ledger import Channel
from bot.outreach.collector import opt_out
from bot.store import tables

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
message_t = tables.Message.__table__  # type: ignore[attr-defined]

UNSUBSCRIBE_PATH = "/unsubscribe"
# Who opted the customer out, in the evidence log: the person (or their mail client) at the link.
ONE_CLICK_ACTOR = "recipient (one-click unsubscribe)"


def unsubscribe_token(secret: str, message_key: str) -> str:
    """The token that proves a link to unsubscribe from ``message_key`` was made by dunbot."""
    named = message_key.strip("<>")  # the link carries the key without its angle brackets
    digest = hmac.new(secret.encode("utf-8"), named.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def token_matches(secret: str, message_key: str, token: str) -> bool:
    """Whether ``token`` is :func:`unsubscribe_token` of ``message_key`` (in constant time)."""
    # As bytes: compare_digest refuses str with non-ASCII characters, and the token comes from a URL.
    expected = unsubscribe_token(secret, message_key).encode("ascii")
    return hmac.compare_digest(expected, token.encode("utf-8", "surrogateescape"))


def unsubscribe_url(public_url: str, secret: str, message_key: str) -> str:
    """The one-click link for the message with ``message_key``, under ``public_url``."""
    key = quote(message_key.strip("<>"), safe="")
    return f"{public_url.rstrip('/')}{UNSUBSCRIBE_PATH}?m={key}&t={unsubscribe_token(secret, message_key)}"


def unsubscribe_mailto(address: str) -> str:
    """A mailto: URI that asks, by its subject, to stop these e-mails (dunbot's reply handling and a
    person reading the mailbox both understand it)."""
    return f"mailto:{address}?subject=unsubscribe"


@dataclass(frozen=True, slots=True)
class Recipient:
    """Whom an e-mail with an unsubscribe link went to."""

    message_key: str  # its Message-ID, with angle brackets
    customer: str
    opted_out: bool  # already opted out of e-mail


def find_recipient(engine: Engine, message_key: str) -> Recipient | None:
    """The customer the e-mail ``message_key`` was sent to, or None when no e-mail has that key."""
    query = (
        sa.select(message_t.c.customer_id, customer_t.c.opted_out)
        .join(customer_t, customer_t.c.id == message_t.c.customer_id)
        .where(message_t.c.message_id == message_key, message_t.c.channel == Channel.EMAIL.value)
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    channels = {c for c in (row.opted_out or "").split(",") if c}
    return Recipient(message_key, row.customer_id, Channel.EMAIL.value in channels)


def unsubscribe(engine: Engine, recipient: Recipient, now: datetime) -> bool:
    """Opt the recipient's customer out of e-mail; False (nothing written) when it already was."""
    reason = f"one-click unsubscribe link in e-mail {recipient.message_key}"
    return opt_out(engine, recipient.customer, Channel.EMAIL, reason, ONE_CLICK_ACTOR, now)
