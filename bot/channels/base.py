"""The one Protocol every transport implements, and the values that cross it.

A sender gets a fully rendered :class:`Outgoing` and either returns a :class:`Receipt` (the provider
accepted it) or raises one of the :class:`~bot.errors.ChannelError` subclasses, translated at the
edge from the vendor's own errors:

* :class:`~bot.errors.TransientChannelError` — it did not happen; retry later (SMTP 4xx, HTTP 5xx,
  Twilio 20429, a connection refused before anything was sent);
* :class:`~bot.errors.PermanentChannelError` — it did not happen; never retry (SMTP 5xx, Twilio
  21211/21614); :class:`~bot.errors.RecipientOptedOut` for Twilio 21610;
* :class:`~bot.errors.AmbiguousChannelError` — it may have happened (a timeout after SMTP DATA, a
  dropped HTTP response): the outbox marks the message ``unknown`` and never resends it by itself.

``Outgoing.key`` is stable for the life of a message: the same value on every retry. The SMTP channel
sends it as the Message-ID; the Twilio channel as the ``X-Dunbot-Request-Key`` header of the REST
request (Twilio ignores it; a test server and a proxy's logs can recognise a repeat). Senders are
async; a sender that wraps a blocking client runs it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from bot.domain.ledger import Channel


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that goes with the message (the signed PDF notice)."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message, rendered and addressed; everything a transport needs and nothing it must look up."""

    key: str  # stable across retries: "<dunbot-123-20260610@host>" for e-mail, a token for SMS
    channel: Channel
    recipient: str  # e-mail address, E.164 number, postal address or collector
    subject: str  # e-mail subject, task title, letter reference; "" for SMS
    text: str  # plain text body (SMS text, the words a call speaks)
    language: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    customer: str = ""
    step: str = ""
    invoices: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    # E-mail only: the From display name, the Reply-To address, and the List-Unsubscribe URIs
    # (mailto: and https:, RFC 2369; an https one makes it one-click, RFC 8058).
    sender_name: str = ""
    reply_to: str = ""
    unsubscribe: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the provider said when it accepted a message.

    ``artifacts`` are the raw bytes of the exchange by file name (``message.eml``, ``request.json``,
    ``response.json``): they are stored content-addressed and named in the evidence event.
    """

    provider_id: str
    provider_status: str
    artifacts: Mapping[str, bytes] = field(default_factory=dict)
    detail: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"segments": 2, "encoding": "UCS-2"}


@runtime_checkable
class Sender(Protocol):
    """A transport: ``send`` one message; ``aclose`` releases connections."""

    channel: Channel

    async def send(self, message: Outgoing) -> Receipt: ...

    async def aclose(self) -> None: ...
