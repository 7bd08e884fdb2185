"""A local RFC 3161 timestamp authority over HTTP, for PAdES B-T signatures and checkpoint tokens.

The tokens are made by pyHanko's own ``DummyTimeStamper`` (a real RFC 3161 implementation with a
test key) behind a real HTTP server on 127.0.0.1, so dunbot's HTTP timestamp client does the same
round trip as against a commercial TSA. ``failing`` makes it answer 503 (a TSA outage).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from asn1crypto import keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper


def _tsa_certificate(now: datetime) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dunbot test TSA"),
            x509.NameAttribute(NameOID.COMMON_NAME, "dunbot test timestamp authority"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return certificate, key


class TsaServer:
    """``start()`` it, point ``[signing] tsa_url`` at ``url``, ``stop()`` it."""

    def __init__(self) -> None:
        certificate, key = _tsa_certificate(datetime.now(UTC))
        self.certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
        asn1_certificate = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
        asn1_key = keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.stamper = DummyTimeStamper(
            tsa_cert=asn1_certificate, tsa_key=asn1_key, certs_to_embed=[asn1_certificate]
        )
        self.requests = 0
        self.failing = False
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/tsa"

    def write_certificate(self, path: Path) -> Path:
        path.write_bytes(self.certificate_pem)
        return path

    def start(self) -> TsaServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with owner._lock:
                    owner.requests += 1
                    failing = owner.failing
                if failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                request = tsp.TimeStampReq.load(body)
                answer = owner.stamper.request_tsa_response(request).dump()
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
