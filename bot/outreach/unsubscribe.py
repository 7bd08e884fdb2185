"""Unsubscribe links in outgoing e-mail (RFC 2369 ``List-Unsubscribe``, RFC 8058 one-click).

The https link names the message by its key (its Message-ID) and carries an HMAC of that key under
the ``[web] session_secret_env`` secret: a link that only counted message numbers would let anyone
opt any customer out. The endpoint that receives the POST checks it with :func:`token_matches`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

UNSUBSCRIBE_PATH = "/unsubscribe"


def unsubscribe_token(secret: str, message_key: str) -> str:
    """The token that proves a link to unsubscribe from ``message_key`` was made by dunbot."""
    named = message_key.strip("<>")  # the link carries the key without its angle brackets
    digest = hmac.new(secret.encode("utf-8"), named.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def token_matches(secret: str, message_key: str, token: str) -> bool:
    """Whether ``token`` is :func:`unsubscribe_token` of ``message_key`` (in constant time)."""
    return hmac.compare_digest(unsubscribe_token(secret, message_key), token)


def unsubscribe_url(public_url: str, secret: str, message_key: str) -> str:
    """The one-click link for the message with ``message_key``, under ``public_url``."""
    key = quote(message_key.strip("<>"), safe="")
    return f"{public_url.rstrip('/')}{UNSUBSCRIBE_PATH}?m={key}&t={unsubscribe_token(secret, message_key)}"


def unsubscribe_mailto(address: str) -> str:
    """A mailto: URI that asks, by its subject, to stop these e-mails (dunbot's reply handling and a
    person reading the mailbox both understand it)."""
    return f"mailto:{address}?subject=unsubscribe"
