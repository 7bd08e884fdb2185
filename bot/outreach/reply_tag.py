"""Per-message reply addresses (DESIGN §11): an e-mail's ``Reply-To`` is ``local+<tag>@domain``, where
the tag names the outbox message and carries a check, so a reply is matched to the message it answers
even when the customer's mail client drops In-Reply-To.

The tag is ``r<message row id>-<check>``: the check is the first 10 hex digits of an HMAC-SHA256 of the
message's key (its Message-ID) under the ``[web] session_secret_env`` secret when one is set (the
secret the one-click unsubscribe links are signed with), so a tag cannot be guessed from message
numbers; without a secret the HMAC's key is a constant and the check only stops a mistyped tag from
reaching another customer's message. Tags are lower-case: mail systems may lower-case the address.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

from bot.config import Settings

# Without a secret: still a check against typing errors, not against a guesser.
_NO_SECRET = "dunbot reply tag"
_CHECK_DIGITS = 10
_TAG = re.compile(rf"\+r([0-9]{{1,12}})-([0-9a-f]{{{_CHECK_DIGITS}}})@")


def tag_secret(settings: Settings) -> str:
    """The secret reply tags are checked with: the ``[web] session_secret_env`` variable's value, or
    "" when it is not set (a check against mistyped tags only)."""
    name = settings.web.session_secret_env
    return os.environ.get(name, "") if name else ""


def _check(secret: str, message_key: str) -> str:
    key = (secret or _NO_SECRET).encode("utf-8")
    digest = hmac.new(key, b"reply-tag\x00" + message_key.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:_CHECK_DIGITS]


def reply_tag(secret: str, message_row: int, message_key: str) -> str:
    """The tag of the outbox message ``message_row`` whose key (Message-ID) is ``message_key``."""
    return f"r{message_row}-{_check(secret, message_key)}"


def reply_address(address: str, tag: str) -> str:
    """``address`` with ``tag`` as its sub-address: ``ar@x.cn`` -> ``ar+r17-0a1b2c3d4e@x.cn``."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local}+{tag}@{domain}"


def tagged_message(address: str) -> tuple[int, str] | None:
    """(message row id, check) of a reply address's tag, None when it carries none. The check is not
    verified here: :func:`tag_matches` does, against the message's key."""
    found = _TAG.search(address.lower())
    if found is None:
        return None
    return int(found.group(1)), found.group(2)


def tag_matches(secret: str, message_key: str, check: str) -> bool:
    """Whether ``check`` is the check of the message with ``message_key`` (in constant time)."""
    return hmac.compare_digest(_check(secret, message_key).encode("ascii"), check.encode("ascii"))
