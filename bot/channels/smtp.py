"""E-mail over SMTP with aiosmtplib: STARTTLS, AUTH, a small pool of kept-open connections.

The message is serialised once (:func:`bot.channels.mime.build_email`) and exactly those bytes are
sent and returned as the ``message.eml`` artifact, so the evidence is what went over the wire. The
Message-ID is ``Outgoing.key``: the same on every retry.

Errors are translated here, by the phase they happen in:

* connecting, TLS, EHLO, ``MAIL FROM``, ``RCPT TO`` and the ``DATA`` command itself (up to the
  server's ``354``) happen before the message exists for the server: a 4xx reply or a dropped
  connection is transient, a 5xx reply permanent. A kept-open connection found dead before ``DATA``
  is replaced once, silently;
* after the content is written, a 4xx/5xx reply is definite (transient / permanent), but a timeout or
  a dropped connection is *ambiguous* — the server may have accepted the message, so it must not be
  sent again automatically.

Every error carries the message bytes as ``artifacts["message.eml"]``. A receipt also carries the
server's final reply to ``DATA`` as ``artifacts["smtp_reply.json"]`` (code, text, server, Message-ID):
the delivery proof an evidence pack shows for the e-mail.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from contextlib import suppress
from dataclasses import replace

import aiosmtplib

from bot.channels.base import Outgoing, Receipt
from bot.channels.mime import build_email
from bot.domain.ledger import Channel
from bot.errors import AmbiguousChannelError, ChannelError, PermanentChannelError, TransientChannelError

_PERIOD = re.compile(rb"(?m)^\.")  # a line starting with "." is sent as ".." (RFC 5321 4.5.2)


class _Stale(Exception):
    """The connection was lost before anything of the message was sent; ``error`` is what to raise."""

    def __init__(self, error: TransientChannelError) -> None:
        super().__init__(str(error))
        self.error = error


class SmtpSender:
    """Sends e-mail through one SMTP server over up to ``connections`` kept-open connections."""

    channel = Channel.EMAIL

    def __init__(
        self,
        *,
        host: str,
        port: int,
        starttls: bool,
        username: str | None,
        password: str | None,
        from_address: str,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
        connections: int = 1,
    ) -> None:
        self.host = host
        self.port = port
        self.starttls = starttls
        self.username = username
        self.password = password
        self.from_address = from_address
        self.timeout = timeout
        self.tls_context = tls_context
        self._idle: asyncio.Queue[aiosmtplib.SMTP | None] | None = None
        self._size = max(1, connections)

    def _pool(self) -> asyncio.Queue[aiosmtplib.SMTP | None]:
        if self._idle is None:  # created inside the running loop
            self._idle = asyncio.Queue()
            for _ in range(self._size):
                self._idle.put_nowait(None)  # a slot without an open connection yet
        return self._idle

    async def _connect(self, artifacts: dict[str, bytes]) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self.timeout,
            start_tls=False,
            tls_context=self.tls_context,
        )
        where = f"{self.host}:{self.port}"
        try:
            await client.connect()
            await client.ehlo()
            if self.starttls:
                if not client.supports_extension("starttls"):
                    raise PermanentChannelError(
                        f"SMTP server {where} does not offer STARTTLS, which [email] starttls requires; "
                        "refusing to send credentials and customer data in clear text",
                        artifacts=artifacts,
                    )
                await client.starttls(tls_context=self.tls_context)
            if self.username:
                await client.login(self.username, self.password or "")
        except ChannelError:
            await _close(client)
            raise
        except aiosmtplib.SMTPAuthenticationError as exc:
            await _close(client)
            raise PermanentChannelError(
                f"SMTP server {where} refused the login for {self.username!r}: {exc.code} {exc.message}; "
                "check [email] username and the password variable",
                code=str(exc.code),
                artifacts=artifacts,
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            await _close(client)
            raise _by_code(f"SMTP server {where} refused the session", exc, artifacts) from None
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            await _close(client)
            raise TransientChannelError(
                f"cannot open an SMTP session with {where}: {type(exc).__name__}: {exc}", artifacts=artifacts
            ) from None
        return client

    async def check(self) -> str:
        """Open a session as a send would (STARTTLS, AUTH) and close it: `dunbot check-config --connect`."""
        client = await self._connect({})
        try:
            tls = "STARTTLS" if self.starttls else "no TLS"
            who = f"logged in as {self.username!r}" if self.username else "no login"
            return f"{self.host}:{self.port}: {tls}, {who}"
        finally:
            await _close(client)

    async def send(self, message: Outgoing) -> Receipt:
        if not message.key.startswith("<"):  # build_email uses a random id for a bare key: keep it stable
            message = replace(message, key=f"<{message.key}>")
        raw = build_email(message, self.from_address)
        artifacts = {"message.eml": raw}
        pool = self._pool()
        client = await pool.get()
        keep: aiosmtplib.SMTP | None = None
        try:
            reused = client is not None and client.is_connected
            if client is None or not client.is_connected:
                client = await self._connect(artifacts)
            try:
                try:
                    await self._envelope(client, message.recipient, artifacts)
                except _Stale:
                    if not reused:
                        raise
                    # A kept-open connection the server had dropped meanwhile: nothing was sent, so
                    # open a fresh one and try once more.
                    await _close(client)
                    client = None
                    client = await self._connect(artifacts)
                    await self._envelope(client, message.recipient, artifacts)
                response = await self._data(client, raw, artifacts)
            except (TransientChannelError, PermanentChannelError):
                # A refusal (4xx/5xx reply) leaves a usable connection: keep it for the next message.
                keep = client if client is not None and client.is_connected else None
                raise
            except _Stale as stale:
                raise stale.error from None
            keep = client
        finally:
            if keep is None and client is not None:
                await _close(client)
            pool.put_nowait(keep)
        artifacts["smtp_reply.json"] = self._reply_record(message.key, response)
        return Receipt(
            provider_id=message.key,
            provider_status="accepted",
            artifacts=artifacts,
            detail={"reply": f"{response.code} {response.message}"},
        )

    def _reply_record(self, message_id: str, response: aiosmtplib.SMTPResponse) -> bytes:
        """The server's final reply to DATA as a small JSON document (its queue id, e.g. "queued as
        4F2A1", lets the mail provider's own logs be searched for the message)."""
        record = {
            "server": f"{self.host}:{self.port}",
            "command": "DATA",
            "code": response.code,
            "text": response.message,
            "message_id": message_id,
        }
        return (json.dumps(record, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")

    async def _envelope(self, client: aiosmtplib.SMTP, recipient: str, artifacts: dict[str, bytes]) -> None:
        """``MAIL FROM`` and ``RCPT TO``: nothing of the message has left yet, so nothing is ambiguous."""
        try:
            await client.mail(self.from_address)
            await client.rcpt(recipient)
        except aiosmtplib.SMTPResponseException as exc:
            with suppress(aiosmtplib.SMTPException, OSError):
                await client.rset()
            raise _by_code(f"SMTP server refused {recipient}", exc, artifacts) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _Stale(
                TransientChannelError(
                    f"SMTP connection lost before the message was sent: {type(exc).__name__}: {exc}",
                    artifacts=artifacts,
                )
            ) from None

    async def _data(
        self, client: aiosmtplib.SMTP, raw: bytes, artifacts: dict[str, bytes]
    ) -> aiosmtplib.SMTPResponse:
        """``DATA`` in two steps, so a failure is placed before or after the content left.

        ``SMTP.data()`` cannot tell a connection lost while waiting for ``354`` (nothing sent: transient)
        from one lost while waiting for the reply to the content (ambiguous); so the command goes through
        ``execute_command`` and the content through the protocol's own ``write`` and ``read_response``,
        with the same dot-stuffing ``data()`` applies (``raw`` already has CRLF line ends).
        """
        try:
            start = await client.execute_command(b"DATA")
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise TransientChannelError(
                f"SMTP connection lost before the message was sent (at DATA): {type(exc).__name__}: {exc}",
                artifacts=artifacts,
            ) from None
        if start.code != 354:
            raise _by_code(
                "SMTP server refused DATA", aiosmtplib.SMTPDataError(start.code, start.message), artifacts
            )
        protocol = client.protocol
        if protocol is None or not client.is_connected:
            raise TransientChannelError(
                "SMTP connection lost before the message was sent (after 354)", artifacts=artifacts
            )
        content = _PERIOD.sub(b"..", raw if raw.endswith(b"\r\n") else raw + b"\r\n") + b".\r\n"
        try:
            protocol.write(content)
            response = await protocol.read_response(timeout=self.timeout)
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise AmbiguousChannelError(
                f"SMTP connection lost or timed out after the message was sent ({type(exc).__name__}: "
                f"{exc}); the server may have accepted it: it is not sent again automatically",
                artifacts=artifacts,
            ) from None
        if response.code != 250:
            with suppress(aiosmtplib.SMTPException, OSError):
                await client.rset()
            raise _by_code(
                "SMTP server rejected the message",
                aiosmtplib.SMTPDataError(response.code, response.message),
                artifacts,
            )
        return response

    async def aclose(self) -> None:
        """Quit every kept-open connection; the sender can be used again (in a new event loop too)."""
        idle, self._idle = self._idle, None
        if idle is None:
            return
        while not idle.empty():
            client = idle.get_nowait()
            if client is not None:
                with suppress(aiosmtplib.SMTPException, OSError):
                    await client.quit()
                await _close(client)


def _by_code(what: str, exc: aiosmtplib.SMTPResponseException, artifacts: dict[str, bytes]) -> ChannelError:
    text = f"{what}: {exc.code} {exc.message}"
    if 400 <= exc.code < 500:
        return TransientChannelError(text, code=str(exc.code), artifacts=artifacts)
    return PermanentChannelError(text, code=str(exc.code), artifacts=artifacts)


async def _close(client: aiosmtplib.SMTP) -> None:
    with suppress(Exception):
        client.close()
    # A failed TLS handshake closes its socket in callbacks: give the loop a turn to run them, so no
    # socket outlives its connection (and the loop) unclosed.
    await asyncio.sleep(0.01)
