"""``/unsubscribe``: the one-click link (RFC 8058) of e-mails sent under an https ``[web] public_url``.

* ``POST /unsubscribe?m=<Message-ID without <>>&t=<token>`` with the form field
  ``List-Unsubscribe=One-Click`` (url-encoded or multipart, the two ways RFC 8058 lets a mail
  provider send it, with nobody clicking anything): the customer the e-mail went to is opted out of
  e-mail, as ``dunbot opt-out CUSTOMER --channel email`` does, and the evidence log says so. 200 with
  a short text; again 200, with nothing written, when the customer already was opted out.
* ``GET`` of the same URL (a person clicking the link in a mail client): a small page whose button
  POSTs it. A GET never changes anything: link scanners and previews fetch every link in a mail.
  (Nor does a HEAD, which Starlette answers as a GET without the body.) Other methods are 405.

The link is public, like the Twilio callbacks: its token, an HMAC of the Message-ID under the
``[web] session_secret_env`` secret, is the only authorization. A missing or wrong token is 403 and
says no more; a good token for an e-mail the database does not hold is 404.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import parse_qs, parse_qsl, urlencode

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from bot.outreach.unsubscribe import (
    UNSUBSCRIBE_PATH,
    Recipient,
    find_recipient,
    token_matches,
    unsubscribe,
)
from bot.web.responses import plain

log = logging.getLogger(__name__)

ONE_CLICK = ("List-Unsubscribe", "One-Click")
DONE = (
    "Unsubscribed: we will send you no more payment reminders by e-mail.\n"
    "已退订：我们将不再通过电子邮件向您发送账款提醒。\n"
).encode()
# The URL carries the token: no referrer, no cache, no framing; the page loads nothing from anywhere.
_PRIVATE = (("cache-control", "no-store"), ("referrer-policy", "no-referrer"))
_PAGE_HEADERS = (
    *_PRIVATE,
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
)


def routes(engine: Engine, secret: str, clock: Callable[[], datetime]) -> list[BaseRoute]:
    """The ``/unsubscribe`` route for links signed with ``secret`` (see the module docstring)."""

    async def unsubscribe_link(request: Request) -> Response:
        link = _verified_link(request.scope, secret)
        if link is None:
            log.warning("unsubscribe link with a missing or bad token refused")
            return plain(403, b"forbidden")
        key = f"<{link[0]}>"
        one_click = request.method == "POST"
        if one_click:
            body = await request.body()  # past the limit, bot.web.limits answers 413
            if ONE_CLICK not in _form_fields(request.headers.get("content-type"), body):
                return plain(400, b"expected the form field List-Unsubscribe=One-Click (RFC 8058)")
        recipient = await asyncio.to_thread(find_recipient, engine, key)
        if recipient is None:
            log.warning("unsubscribe link for an e-mail not in the database", extra={"message_key": key})
            return plain(404, b"not found")
        if not one_click:  # GET (and the HEAD Starlette derives from it): the page, nothing changes
            return plain(200, _page(recipient, link), "text/html; charset=utf-8", _PAGE_HEADERS)
        changed = await asyncio.to_thread(unsubscribe, engine, recipient, clock())
        log.info(
            "one-click unsubscribe: customer opted out of e-mail"
            if changed
            else "one-click unsubscribe again",
            extra={"customer": recipient.customer, "message_key": key},
        )
        return plain(200, DONE, "text/plain; charset=utf-8", _PRIVATE)

    return [Route(UNSUBSCRIBE_PATH, unsubscribe_link, methods=["GET", "POST"])]


def _verified_link(scope: Scope, secret: str) -> tuple[str, str] | None:
    """The link's ``m`` and ``t`` when the token is the one dunbot made for ``m``, else None."""
    query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    names, tokens = query.get("m", []), query.get("t", [])
    if len(names) != 1 or len(tokens) != 1:
        return None
    name, token = names[0], tokens[0]
    if not name or "<" in name or ">" in name:
        return None
    return (name, token) if token_matches(secret, f"<{name}>", token) else None


def _form_fields(content_type: str | None, body: bytes) -> list[tuple[str, str]]:
    """The fields of a url-encoded or ``multipart/form-data`` body."""
    if (content_type or "").split(";")[0].strip().lower() != "multipart/form-data":
        return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    document = b"Content-Type: " + (content_type or "").encode("latin-1") + b"\r\n\r\n" + body
    message = BytesParser(policy=policy.HTTP).parsebytes(document)
    fields: list[tuple[str, str]] = []
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields.append((name, payload.decode("utf-8", "replace").strip()))
    return fields


def _page(recipient: Recipient, link: tuple[str, str]) -> bytes:
    """The page behind the link: one button that POSTs the one-click form to the same URL."""
    if recipient.opted_out:
        content = (
            "<p>您已退订，不会再通过电子邮件收到我们的账款提醒。</p>\n"
            '<p lang="en">You are unsubscribed: we send you no more payment reminders by e-mail.</p>'
        )
    else:
        # A relative URL of just the query: right behind a proxy that serves dunbot under a path.
        action = html.escape("?" + urlencode({"m": link[0], "t": link[1]}))
        content = (
            "<p>点击下方按钮，我们将不再通过电子邮件向您发送账款提醒。</p>\n"
            '<p lang="en">Press the button and we will send you no more payment reminders by e-mail.</p>\n'
            f'<form method="post" action="{action}">\n'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">\n'
            '<button type="submit">退订 / Unsubscribe</button>\n'
            "</form>"
        )
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>退订邮件 / Unsubscribe</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem;
       line-height: 1.6; }}
button {{ font-size: 1rem; padding: 0.5rem 1.5rem; }}
</style>
</head>
<body>
<h1>退订邮件 <span lang="en">/ Unsubscribe</span></h1>
{content}
</body>
</html>
""".encode()
