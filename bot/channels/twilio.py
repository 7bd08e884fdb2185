"""SMS and automated calls through the official Twilio client (``twilio.rest.Client``).

The Twilio client is blocking, so every ``create`` runs in a worker thread (:func:`asyncio.to_thread`).
It talks through :class:`DunbotHttpClient`, a :class:`~twilio.http.http_client.TwilioHttpClient` that

* sends ``X-Dunbot-Request-Key: <Outgoing.key>`` with each request (the key travels in a
  :class:`~contextvars.ContextVar` set inside the worker thread, so concurrent sends never mix keys);
* captures the raw exchange (method, URL, form body, headers without ``Authorization``; status, headers,
  body) that becomes the ``request.json`` / ``response.json`` artifacts of a receipt or an error;
* rewrites ``https://api.twilio.com`` to ``api_base_url`` when one is configured (a proxy, a regional
  gateway, or the local Twilio-compatible server the tests run);
* pools connections in one :class:`requests.Session`, sized for the outbox's concurrency.

Vendor errors are translated here, once (see :mod:`bot.channels.base`): 21610 → RecipientOptedOut;
20429, HTTP 429 and 5xx → transient; 21211, 21614 and every other 4xx → permanent; a connection that
could not be opened → transient; a timeout or a dropped connection after the request went out →
ambiguous (it may have been accepted).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

from bot.channels.base import Outgoing, Receipt
from bot.channels.gsm import sms_segments
from bot.domain.ledger import Channel
from bot.errors import (
    AmbiguousChannelError,
    ChannelError,
    PermanentChannelError,
    RecipientOptedOut,
    TransientChannelError,
)

REQUEST_KEY_HEADER = "X-Dunbot-Request-Key"
TWILIO_API_ORIGIN = "https://api.twilio.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECTIONS = 16

OPTED_OUT = 21610  # "Attempt to send to unsubscribed recipient"
TOO_MANY_REQUESTS = 20429

_T = TypeVar("_T")

# --- TwiML ---------------------------------------------------------------------------------------------

# Twilio's <Say> takes Amazon Polly / Google voices for Mandarin, whose language code is "cmn-CN"
# (the legacy "zh-CN" belonged to the retired "alice" voice); English uses "en-US".
_SAY_VOICES: Mapping[str, tuple[str, str]] = {
    "zh": ("cmn-CN", "Polly.Zhiyu"),
    "en": ("en-US", "Polly.Joanna"),
}


def say_voice(language: str) -> tuple[str, str]:
    """``(Say language, Say voice)`` for a dunbot language ("zh-CN", "en"); English when unknown."""
    primary = language.replace("_", "-").split("-", 1)[0].lower()
    return _SAY_VOICES.get(primary, _SAY_VOICES["en"])


def say_twiml(text: str, language: str) -> str:
    """A ``<Response><Say>`` document speaking ``text`` (XML-escaped) in ``language``."""
    say_language, voice = say_voice(language)
    return (
        f"<Response><Say language={quoteattr(say_language)} voice={quoteattr(voice)}>"
        f"{escape(text)}</Say></Response>"
    )


# --- the HTTP client -----------------------------------------------------------------------------------


@dataclass
class _Exchange:
    """One call's request key and the raw request/response the HTTP client saw."""

    key: str
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    error: str | None = None

    def artifacts(self) -> dict[str, bytes]:
        result: dict[str, bytes] = {}
        if self.request is not None:
            result["request.json"] = _json_bytes(self.request)
        response = self.response if self.response is not None else {"status": None, "error": self.error}
        if self.request is not None or self.error is not None:
            result["response.json"] = _json_bytes(response)
        return result


_CURRENT: ContextVar[_Exchange | None] = ContextVar("dunbot_twilio_exchange", default=None)


def _json_bytes(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def _form(body: str | None) -> dict[str, str | list[str]]:
    if body is None:
        return {}
    parsed = parse_qs(body, keep_blank_values=True)
    return {name: values[0] if len(values) == 1 else values for name, values in parsed.items()}


class DunbotHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no type information
    """The Twilio HTTP client with base-URL rewriting, the request-key header and exchange capture."""

    def __init__(
        self,
        *,
        api_base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        super().__init__(pool_connections=True, timeout=timeout)
        self.api_base_url = api_base_url.rstrip("/") if api_base_url else None
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(1, connections), max_retries=0)
        session: requests.Session = self.session
        session.mount("https://", adapter)
        session.mount("http://", adapter)

    def rewrite(self, url: str) -> str:
        """``url`` with Twilio's origin replaced by ``api_base_url`` (unchanged without one)."""
        if not self.api_base_url:
            return url
        parts = urlsplit(url)
        if not (parts.hostname or "").endswith("twilio.com"):
            return url
        base = urlsplit(self.api_base_url)
        path = base.path.rstrip("/") + parts.path
        return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        exchange = _CURRENT.get()
        headers = dict(headers or {})
        if exchange is not None:
            headers[REQUEST_KEY_HEADER] = exchange.key
        as_json = headers.get("Content-Type") in ("application/json", "application/scim+json")
        session: requests.Session = self.session
        prepared = session.prepare_request(
            requests.Request(
                method=method.upper(),
                url=self.rewrite(url),
                params=params,
                headers=headers,
                auth=auth,
                hooks=self.request_hooks,
                json=data if as_json else None,
                data=None if as_json else data,
            )
        )
        if exchange is not None:
            raw = prepared.body
            body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            body = body if isinstance(body, str) else None
            exchange.request = {
                "method": prepared.method,
                "url": prepared.url,
                "headers": {k: v for k, v in prepared.headers.items() if k.lower() != "authorization"},
                "body": body,
                "form": {} if as_json else _form(body),
            }
        settings = session.merge_environment_settings(prepared.url or "", self.proxy, None, None, None)
        try:
            response = session.send(
                prepared,
                allow_redirects=allow_redirects,
                timeout=timeout if timeout is not None else self.timeout,
                **settings,
            )
        except requests.RequestException as exc:
            if exchange is not None:
                exchange.error = f"{type(exc).__name__}: {exc}"
            raise
        if exchange is not None:
            exchange.response = {
                "status": response.status_code,
                "headers": dict(response.headers),
                "body": response.text,
            }
        return TwilioResponse(int(response.status_code), response.text, response.headers)


# --- error translation ---------------------------------------------------------------------------------

_NOT_SENT = (
    urllib3.exceptions.NewConnectionError,  # refused, unreachable, name resolution
    urllib3.exceptions.ConnectTimeoutError,
)


def _never_sent(exc: BaseException) -> bool:
    """Whether a requests failure happened while connecting, before any byte of the request left."""
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
        return True
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _NOT_SENT):
            return True
        if isinstance(current, urllib3.exceptions.MaxRetryError):
            pending.append(current.reason)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        pending.extend([current.__cause__, current.__context__])
    return False


def _translate_twilio(exc: TwilioException, exchange: _Exchange) -> ChannelError:
    artifacts = exchange.artifacts()
    status = getattr(exc, "status", None)
    raw_code = getattr(exc, "code", None)
    code = str(raw_code) if raw_code is not None else (str(status) if status is not None else None)
    detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None)
    message = f"Twilio error {code} (HTTP {status}): {detail or type(exc).__name__}"
    if raw_code == OPTED_OUT:
        return RecipientOptedOut(message, code=code, artifacts=artifacts)
    if raw_code == TOO_MANY_REQUESTS or status == 429 or (isinstance(status, int) and status >= 500):
        return TransientChannelError(message, code=code, artifacts=artifacts)
    if isinstance(status, int) and 300 <= status < 500:
        # 4xx: Twilio refused it (21211, 21614, 20003 ...). 3xx: a misconfigured api_base_url redirecting;
        # nothing was created and repeating the request cannot help.
        return PermanentChannelError(message, code=code, artifacts=artifacts)
    if status is None and exchange.response is None:  # the client refused before sending (no credentials)
        return PermanentChannelError(message, code=code, artifacts=artifacts)
    # An answer that is neither an error nor a success: the request was received and may have been acted on.
    return AmbiguousChannelError(message, code=code, artifacts=artifacts)


def _call(key: str, operation: Callable[[], _T]) -> tuple[_T, _Exchange]:
    """Run one Twilio operation in this (worker) thread; translate every failure at this edge."""
    exchange = _Exchange(key)
    token = _CURRENT.set(exchange)
    try:
        return operation(), exchange
    except TwilioException as exc:
        raise _translate_twilio(exc, exchange) from exc
    except requests.RequestException as exc:
        artifacts = exchange.artifacts()
        if exchange.error is None:  # failed before the HTTP client could send (a malformed URL)
            raise PermanentChannelError(
                f"Twilio request could not be made: {exc}", artifacts=artifacts
            ) from exc
        if _never_sent(exc):
            raise TransientChannelError(f"Twilio unreachable: {exc}", artifacts=artifacts) from exc
        raise AmbiguousChannelError(
            f"Twilio request sent but no usable response ({type(exc).__name__}): {exc}",
            artifacts=artifacts,
        ) from exc
    except Exception as exc:
        if exchange.response is None:
            raise
        # Twilio answered (2xx) but the answer could not be read: it probably accepted the message.
        raise AmbiguousChannelError(
            f"Twilio response could not be read ({type(exc).__name__}): {exc}",
            artifacts=exchange.artifacts(),
        ) from exc
    finally:
        _CURRENT.reset(token)


def _status_callback(url: str | None, key: str) -> str | None:
    if not url:
        return None
    separator = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{separator}{urlencode({'key': key})}"


# --- the senders ---------------------------------------------------------------------------------------


class _TwilioSender:
    """What both senders share: one Twilio client over one pooled HTTP client."""

    channel: Channel

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        status_callback_url: str | None = None,
        api_base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("Twilio needs an account SID and an auth token")
        self.account_sid = account_sid
        self.from_number = from_number
        self.status_callback_url = status_callback_url
        self.http_client = DunbotHttpClient(
            api_base_url=api_base_url, timeout=timeout, connections=connections
        )
        self.client: Any = Client(account_sid, auth_token, http_client=self.http_client)
        # Its own threads, as many as connections: the loop's default executor has only cpu + 4
        # workers, which would silently cap the concurrency the outbox asks for.
        self._threads = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="twilio")

    async def _create(self, key: str, operation: Callable[[], _T]) -> tuple[_T, _Exchange]:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._threads, context.run, _call, key, operation)

    async def check(self) -> str:
        """Fetch the account with these credentials (`dunbot check-config --connect`); say what it is.

        Raises the translated channel errors: permanent for refused credentials, transient when
        Twilio (or ``api_base_url``) cannot be reached.
        """
        account, _ = await self._create(
            f"check-{self.account_sid}", lambda: self.client.api.v2010.accounts(self.account_sid).fetch()
        )
        return f"account {account.sid} ({account.friendly_name}, {account.status})"

    async def aclose(self) -> None:
        self._threads.shutdown(wait=True)
        session: requests.Session | None = self.http_client.session
        if session is not None:
            session.close()


class TwilioSmsSender(_TwilioSender):
    """Text messages through the Messages resource (``From`` number or Messaging Service)."""

    channel = Channel.SMS

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback_url: str | None = None,
        api_base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        if not from_number and not messaging_service_sid:
            raise ValueError("Twilio SMS needs a from number or a messaging service SID")
        super().__init__(
            account_sid=account_sid,
            auth_token=auth_token,
            from_number=from_number,
            status_callback_url=status_callback_url,
            api_base_url=api_base_url,
            timeout=timeout,
            connections=connections,
        )
        self.messaging_service_sid = messaging_service_sid

    async def send(self, message: Outgoing) -> Receipt:
        params: dict[str, str] = {"to": message.recipient, "body": message.text}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        elif self.from_number:
            params["from_"] = self.from_number
        callback = _status_callback(self.status_callback_url, message.key)
        if callback:
            params["status_callback"] = callback
        created, exchange = await self._create(message.key, lambda: self.client.messages.create(**params))
        segments, encoding = sms_segments(message.text)
        reported = _positive_int(getattr(created, "num_segments", None))
        return Receipt(
            provider_id=str(created.sid),
            provider_status=str(created.status),
            artifacts=exchange.artifacts(),
            detail={"segments": reported or segments, "encoding": encoding},
        )


class TwilioVoiceSender(_TwilioSender):
    """Automated calls through the Calls resource, speaking the text with inline TwiML ``<Say>``."""

    channel = Channel.VOICE

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        status_callback_url: str | None = None,
        api_base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        if not from_number:
            raise ValueError("Twilio calls need a from number")
        super().__init__(
            account_sid=account_sid,
            auth_token=auth_token,
            from_number=from_number,
            status_callback_url=status_callback_url,
            api_base_url=api_base_url,
            timeout=timeout,
            connections=connections,
        )

    async def send(self, message: Outgoing) -> Receipt:
        say_language, voice = say_voice(message.language)
        params: dict[str, str] = {
            "to": message.recipient,
            "from_": self.from_number or "",
            "twiml": say_twiml(message.text, message.language),
        }
        callback = _status_callback(self.status_callback_url, message.key)
        if callback:
            params["status_callback"] = callback
        created, exchange = await self._create(message.key, lambda: self.client.calls.create(**params))
        return Receipt(
            provider_id=str(created.sid),
            provider_status=str(created.status),
            artifacts=exchange.artifacts(),
            detail={"language": say_language, "voice": voice},
        )


def _positive_int(value: object) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None


__all__ = [
    "REQUEST_KEY_HEADER",
    "DunbotHttpClient",
    "TwilioSmsSender",
    "TwilioVoiceSender",
    "say_twiml",
    "say_voice",
    "sms_segments",
]
