"""The middleware every console request passes: it finds the session, sends a visitor without one
to ``/login`` (303), refuses a POST without the right CSRF token (403) and puts the security headers
on every console answer. The machine endpoints (probes, Twilio, unsubscribe) pass untouched.

The CSRF token is the form field ``csrf_token``, read from an urlencoded body or from a
``multipart/form-data`` one (the evidence page's upload), before or after the file.

The session, when there is one, is left in ``request.state.console`` (a
:class:`bot.access.sessions.Current`) with its token in ``request.state.session_token``.
"""

from __future__ import annotations

import asyncio
import hmac
from urllib.parse import parse_qs

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy.engine import Engine
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.access.sessions import resume_session
from bot.web.console.cookies import LOGIN_COOKIE, SESSION_COOKIE, Signer
from bot.web.console.settings import ConsoleConfig, is_endpoint, is_public
from bot.web.responses import plain

# No inline script or style anywhere: everything comes from the package's own /static.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
CSRF_FIELD = "csrf_token"
MAX_FIELD = 1024  # a CSRF token is 43 characters; more than this is not one
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
# A signed PDF (the customer page's notices) is no HTML of ours: the browser's own PDF viewer shows
# it, and Chrome's needs the plugin (object-src) and the inline styles of the page it makes around
# the file; 'self' may frame it. Every other answer keeps the policy above.
PDF_CSP = (
    "default-src 'none'; object-src 'self'; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; base-uri 'none'"
)
PDF_HEADERS = {**SECURITY_HEADERS, "content-security-policy": PDF_CSP, "x-frame-options": "SAMEORIGIN"}


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            pdf = headers.get("content-type", "").split(";")[0].strip() == "application/pdf"
            for name, value in (PDF_HEADERS if pdf else SECURITY_HEADERS).items():
                headers[name] = value
        await send(message)

    return sending


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (BodyLimit bounds it), and a receive that hands it over again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


class ConsoleGuard:
    """ASGI middleware; see the module's docstring."""

    def __init__(self, app: ASGIApp, engine: Engine, config: ConsoleConfig) -> None:
        self.app = app
        self.engine = engine
        self.config = config
        self.sessions = Signer(config.secret, "session")
        self.logins = Signer(config.secret, "login")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or is_endpoint(path):
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        request = Request(scope)
        token = self.sessions.read(request.cookies.get(SESSION_COOKIE))
        current = None
        if token is not None:
            now = self.config.clock()
            current = await asyncio.to_thread(
                resume_session, self.engine, token, now=now, idle=self.config.idle
            )
        state = scope.setdefault("state", {})
        state["console"] = current
        state["session_token"] = token if current is not None else None
        if current is None and not is_public(path):
            await RedirectResponse("/login", status_code=303)(scope, receive, send)
            return
        if scope["method"] == "POST":
            try:
                body, receive = await _read_body(receive)
            except HTTPException as exc:  # the body limit
                await plain(exc.status_code, str(exc.detail).encode())(scope, receive, send)
                return
            if path == "/login" or current is None:
                expected = self.logins.read(request.cookies.get(LOGIN_COOKIE))
            else:
                expected = current.csrf_token
            if not _csrf_ok(request, body, expected):
                await plain(403, b"forbidden: missing or invalid CSRF token")(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _csrf_ok(request: Request, body: bytes, expected: str | None) -> bool:
    if not expected:
        return False
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        submitted = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(CSRF_FIELD, [])
    elif kind == "multipart/form-data":
        submitted = multipart_fields(body, content_type, CSRF_FIELD)
    else:
        return False
    return len(submitted) == 1 and hmac.compare_digest(submitted[0].encode(), expected.encode())


def multipart_fields(body: bytes, content_type: str, name: str) -> list[str]:
    """The values of the plain (non-file) field ``name`` in a ``multipart/form-data`` body, read
    with python-multipart's streaming parser; only that field's bytes are kept (at most
    :data:`MAX_FIELD` each), so a large file beside it costs no copy. A malformed body has none."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        return []
    values: list[str] = []
    header_field = bytearray()
    header_value = bytearray()
    part: dict[str, object] = {}

    def on_part_begin() -> None:
        part.clear()
        part["data"] = bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        if bytes(header_field).lower() == b"content-disposition":
            _, options = parse_options_header(bytes(header_value))
            part["name"] = options.get(b"name")
            part["file"] = b"filename" in options
        header_field.clear()
        header_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        held = part["data"]
        assert isinstance(held, bytearray)
        if part.get("name") == name.encode() and not part.get("file") and len(held) <= MAX_FIELD:
            held.extend(data[start:end])

    def on_part_end() -> None:
        held = part.get("data")
        if part.get("name") == name.encode() and not part.get("file") and isinstance(held, bytearray):
            values.append(bytes(held[:MAX_FIELD]).decode("utf-8", "replace"))

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError:
        return []
    return values
