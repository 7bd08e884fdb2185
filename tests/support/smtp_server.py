"""A real SMTP server on 127.0.0.1 for tests: aiosmtpd with STARTTLS required and AUTH (LOGIN/PLAIN).

The certificate is generated at start-up with ``cryptography`` for ``localhost`` and ``127.0.0.1``;
``client_context()`` trusts exactly it. Every accepted message is recorded (envelope and raw bytes).
A fault queue decides how the next messages fare at DATA, one fault per message, in order::

    server.push("421")              # reply 421 (try again later): nothing stored
    server.push("550")              # reply 550 (rejected): nothing stored
    server.push("drop_after_data")  # take the whole message, store it, close the connection unanswered
    server.push("slow")             # take and store the message, answer 250 only after ``slow_seconds``

and two faults at other points of the dialogue, taken only when they are next in the queue::

    server.push("drop_at_mail")     # close the connection on MAIL FROM (a kept-open connection gone stale)
    server.push("drop_before_354")  # close the connection on the DATA command, before asking for content
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USERNAME = "dunbot"
PASSWORD = "s3cret-smtp-password"
_OTHER_POINTS = frozenset({"drop_at_mail", "drop_before_354"})


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def parsed(self) -> Message:
        return message_from_bytes(self.raw, policy=default)

    @property
    def message_id(self) -> str:
        return str(self.parsed["Message-ID"])


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        fault = self.server.next_fault()
        if fault in ("421", "450"):
            return f"{fault} 4.3.0 try again later"
        if fault in ("550", "554"):
            return f"{fault} 5.7.1 message rejected"
        self.server.record(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
        )
        if fault == "drop_after_data":
            smtp.transport.close()
            await asyncio.sleep(0.2)
        if fault == "slow":
            await asyncio.sleep(self.server.slow_seconds)
        return f"250 2.0.0 OK queued as {len(self.server.received):04X}"


class _Session(SMTP):
    """aiosmtpd's SMTP session with the two faults that strike before DATA's content."""

    def __init__(self, server: SmtpServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dunbot_server = server

    async def smtp_MAIL(self, arg: str) -> None:
        if self.dunbot_server.next_fault_if("drop_at_mail") and self.transport is not None:
            self.transport.close()
            return
        await super().smtp_MAIL(arg)

    async def smtp_DATA(self, arg: str) -> None:
        if self.dunbot_server.next_fault_if("drop_before_354") and self.transport is not None:
            self.transport.close()
            return
        await super().smtp_DATA(arg)


class _Controller(Controller):
    def __init__(self, server: SmtpServer, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.dunbot_server = server

    def factory(self) -> SMTP:
        return _Session(self.dunbot_server, self.handler, **self.SMTP_kwargs)


class _Authenticator:
    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if (
            isinstance(data, LoginPassword)
            and data.login == USERNAME.encode()
            and data.password == PASSWORD.encode()
        ):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class SmtpServer:
    """Start with ``start()``; point the client at ``host``/``port`` with ``client_context()``."""

    def __init__(self, *, require_tls: bool = True, slow_seconds: float = 2.0) -> None:
        self.host = "127.0.0.1"
        self.slow_seconds = slow_seconds  # longer than the client timeout a "slow" test uses
        self.port = _free_port()
        self.require_tls = require_tls
        self._folder = tempfile.TemporaryDirectory()
        self.cert_path, key_path = _certificate(Path(self._folder.name))
        self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_context.load_cert_chain(self.cert_path, key_path)
        self._lock = threading.Lock()
        self._faults: deque[str] = deque()
        self._received: list[Received] = []
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        options: dict[str, Any] = {}
        if self.require_tls:
            options = {
                "tls_context": self._server_context,
                "require_starttls": True,
                "authenticator": _Authenticator(),
                "auth_require_tls": True,
            }
        self._controller = _Controller(self, _Handler(self), hostname=self.host, port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        self._folder.cleanup()

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_path))

    def push(self, *faults: str) -> None:
        with self._lock:
            self._faults.extend(faults)

    @property
    def faults(self) -> list[str]:
        """The faults not yet used, in order."""
        with self._lock:
            return list(self._faults)

    def next_fault(self) -> str | None:
        """The next DATA fault; one meant for another point of the dialogue stays queued."""
        with self._lock:
            if not self._faults or self._faults[0] in _OTHER_POINTS:
                return None
            return self._faults.popleft()

    def next_fault_if(self, fault: str) -> bool:
        """Take ``fault`` if it is the next one."""
        with self._lock:
            if self._faults and self._faults[0] == fault:
                self._faults.popleft()
                return True
            return False

    def record(self, message: Received) -> None:
        with self._lock:
            self._received.append(message)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
