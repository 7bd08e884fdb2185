"""PAdES signing of notices with the company certificate (pyHanko), the key loaded once per process.

pyHanko's convenience path (``SimpleSigner.load`` + ``signers.sign_pdf`` per file) reloads the key
for every file and, because no size is given, signs every file twice: once with a dummy signature to
estimate how many bytes to reserve, then for real. A :class:`NoticeSigner` loads the PKCS#12 once,
measures the signature container once (a sample signature at start-up, with a timestamp token when a
TSA is set) and reserves that size plus a margin for every notice; its :class:`CachedSigner` keeps
the private key deserialised and reuses the CMS container (``bot/render/cms_signer.py``).

One instant is the signing time of a file: the caller takes it from :meth:`NoticeSigner.signing_time`,
lays the page out with it as the creation date, and passes it to :meth:`NoticeSigner.sign`, which
writes it as the signature's ``/M`` and the document's ``/ModDate`` (pyHanko would take its own
"now" for each, a moment later and in the machine's zone). A court reading the file's properties
sees when it was made and signed, not ReportLab's reproducible-build date of 2000-01-01.

Signatures are PAdES B-B (``ETSI.CAdES.detached``, SHA-256); with ``[signing] tsa_url`` the signature
carries an RFC 3161 signature timestamp (B-T). The visible signature sits beside the seal: the
letter's layout draws the panel's words with the letter's embedded font (so every character of the
file is embedded) and the signature widget, placed on that panel, draws its frame.

pyHanko's signing is asynchronous and its synchronous wrapper calls ``asyncio.run``, which cannot be
used inside the outbox's event loop; the signer therefore runs pyHanko on a private event-loop
thread of its own, which also keeps the TSA's HTTP session open between notices.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from asn1crypto import pem
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.stamp import StaticStampStyle
from reportlab.pdfgen.canvas import Canvas

from bot.config import Settings, secret
from bot.errors import ConfigError, NoticeUnavailable, SigningFailed
from bot.render.cms_signer import CachedSigner
from bot.render.fonts import BUNDLED_LATIN, BUNDLED_LATIN_BOLD, load_font

SIGNATURE_FIELD = "DunbotNotice"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SignatureBox:
    """Where the visible signature goes: page index (0-based) and the box in PDF points."""

    page: int
    box: tuple[int, int, int, int]


class _LoopThread:
    """An event loop on a daemon thread: pyHanko's coroutines run here, whoever calls."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="dunbot-signing", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, _T], timeout: float) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


def load_pkcs12(path: Path, passphrase: bytes | None) -> signers.SimpleSigner:
    """Load the company certificate and key; a clear :class:`ConfigError` when that is not possible."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"[signing] pkcs12: cannot read {path}: {exc.strerror}") from None
    try:
        signer = signers.SimpleSigner.load_pkcs12_data(data, other_certs=(), passphrase=passphrase)
    except (ValueError, TypeError) as exc:
        hint = "check [signing] password_env" if passphrase else "it may need a password: set password_env"
        raise ConfigError(f"[signing] pkcs12: cannot open {path} ({exc}); {hint}") from None
    if signer is None or signer.signing_cert is None:
        raise ConfigError(f"[signing] pkcs12: {path} holds no certificate with a private key")
    loaded: signers.SimpleSigner = signer
    return loaded


# How long before its end a signing certificate is reported as about to expire (check-config, the
# daemon's log): long enough to buy and install a new one.
EXPIRY_WARNING_DAYS = 30


def certificate_validity(signer: signers.SimpleSigner) -> tuple[datetime, datetime] | None:
    """The signer's certificate's notBefore and notAfter (aware, UTC), when it has a certificate."""
    if signer.signing_cert is None:
        return None
    validity = signer.signing_cert["tbs_certificate"]["validity"]
    return validity["not_before"].native, validity["not_after"].native


def validity_note(
    valid_from: datetime, valid_until: datetime, now: datetime, *, warn_days: int = EXPIRY_WARNING_DAYS
) -> tuple[bool, str] | None:
    """What to tell an operator about a certificate valid from ``valid_from`` to ``valid_until`` at
    ``now``: (True, why) when nothing can be signed with it now, (False, when) when it expires within
    ``warn_days``, None when neither."""
    if not valid_from <= now <= valid_until:
        return True, (
            f"the signing certificate is valid from {valid_from:%Y-%m-%d %H:%M} to "
            f"{valid_until:%Y-%m-%d %H:%M} UTC, not now: renew it and point [signing] pkcs12 at it"
        )
    left = valid_until - now
    if left <= timedelta(days=warn_days):
        return False, (
            f"the signing certificate expires on {valid_until:%Y-%m-%d %H:%M} UTC, in {left.days} day(s): "
            "renew it and point [signing] pkcs12 at the new one before then"
        )
    return None


def certificate_common_name(signer: signers.SimpleSigner) -> str:
    """The signer's common name (or the whole subject when it has none)."""
    certificate = signer.signing_cert
    if certificate is None:
        return ""
    subject = certificate.subject
    name = subject.native.get("common_name") if isinstance(subject.native, dict) else None
    return str(name or subject.human_friendly)


class NoticeSigner:
    """Signs notices with one company certificate; create once, use for every notice, then close."""

    def __init__(
        self,
        signer: signers.SimpleSigner,
        *,
        tsa_url: str | None = None,
        location: str = "",
        reason: str = "",
        timeout_seconds: float = 30.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.signer = CachedSigner(signer)
        self._clock = clock or _utc_now
        self.signer_name = certificate_common_name(signer)
        validity = certificate_validity(signer)
        self.valid_from: datetime | None = validity[0] if validity else None
        self.valid_until: datetime | None = validity[1] if validity else None
        self.tsa_url = tsa_url
        self.timeout = timeout_seconds
        self._location = location or None
        self._reason = reason or None
        self._loop = _LoopThread()
        self._timestamper = HTTPTimeStamper(tsa_url, timeout=int(timeout_seconds)) if tsa_url else None
        self._finalizer = weakref.finalize(self, _cleanup, self._loop)
        self.bytes_reserved = self._measure_reserve()

    @classmethod
    def from_pkcs12(
        cls, path: Path, passphrase: bytes | None, *, tsa_url: str | None = None, **kwargs: Any
    ) -> NoticeSigner:
        """Load ``path`` once and build a signer."""
        return cls(load_pkcs12(path, passphrase), tsa_url=tsa_url, **kwargs)

    def close(self) -> None:
        """Stop the signing thread."""
        self._finalizer()

    # --- detached signatures (evidence checkpoints, pack manifests) ---------------------------

    @property
    def certificate_pem(self) -> str:
        """The signer's certificate, PEM."""
        certificate = self.signer.signing_cert
        assert certificate is not None
        armored: bytes = pem.armor("CERTIFICATE", certificate.dump())
        return armored.decode("ascii")

    def _require_valid_now(self) -> None:
        # Signed now, with a certificate that must be valid now: a signature made after it expired
        # (or before it starts) is worth nothing in court, so nothing is signed with it.
        if self.valid_from and self.valid_until:
            note = validity_note(self.valid_from, self.valid_until, datetime.now(UTC))
            if note is not None and note[0]:
                raise SigningFailed(note[1])

    def sign_detached(self, data: bytes) -> bytes:
        """A detached CMS (CAdES-BES) signature of ``data``, DER: what `openssl cms -verify` checks."""
        self._require_valid_now()
        coroutine = self.signer.async_sign_general_data(data, "sha256", detached=True, use_cades=True)
        try:
            container = self._loop.run(coroutine, self.timeout)
        except Exception as exc:  # pyHanko's errors, at this edge
            raise SigningFailed(f"signing failed: {type(exc).__name__}: {exc}") from None
        der: bytes = container.dump()
        return der

    def timestamp_token(self, data: bytes) -> bytes | None:
        """An RFC 3161 token over SHA-256(``data``) from ``[signing] tsa_url``, DER; None without a TSA."""
        if self._timestamper is None:
            return None
        digest = hashlib.sha256(data).digest()
        try:
            token = self._loop.run(self._timestamper.async_timestamp(digest, "sha256"), self.timeout)
        except Exception as exc:  # aiohttp and pyHanko errors, at this edge
            raise SigningFailed(
                f"the timestamp authority {self.tsa_url} did not answer: {type(exc).__name__}: {exc}",
                transient=True,
            ) from None
        der: bytes = token.dump()
        return der

    # --- signing --------------------------------------------------------------------------------

    def signing_time(self) -> datetime:
        """Now, in UTC, to the second (what a PDF date holds): the time to lay a file out with and
        then sign it at."""
        return self._clock().astimezone(UTC).replace(microsecond=0)

    def sign(self, pdf: bytes, where: SignatureBox, signed_at: datetime | None = None) -> bytes:
        """Sign ``pdf`` with a visible signature at ``where``; returns the signed file.

        ``signed_at`` (default: :meth:`signing_time`) becomes the signature's time and the file's
        modification date; lay the file out with the same instant as its creation date.
        """
        self._require_valid_now()
        at = signed_at or self.signing_time()
        try:
            return self._sign(pdf, where, self.bytes_reserved, at)
        except SigningError as exc:
            if "reserved" not in str(exc).lower() and "space" not in str(exc).lower():
                raise SigningFailed(f"signing the notice failed: {exc}") from None
        # A signature larger than measured (a longer timestamp token): let pyHanko estimate once.
        signed = self._sign(pdf, where, None, at)
        self.bytes_reserved = max(self.bytes_reserved, 2 * (_contents_size(signed) + 8192))
        return signed

    def _sign(self, pdf: bytes, where: SignatureBox, reserve: int | None, signed_at: datetime) -> bytes:
        meta = signers.PdfSignatureMetadata(
            field_name=SIGNATURE_FIELD,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            location=self._location,
            reason=self._reason,
            name=self.signer_name,
        )
        pdf_signer = _PdfSignerAt(
            signed_at,
            meta,
            signer=self.signer,
            timestamper=self._timestamper,
            stamp_style=self._stamp(),
            new_field_spec=fields.SigFieldSpec(SIGNATURE_FIELD, on_page=where.page, box=where.box),
        )
        writer = _WriterAt(signed_at, io.BytesIO(pdf), strict=False)
        output = io.BytesIO()
        try:
            self._loop.run(
                pdf_signer.async_sign_pdf(writer, bytes_reserved=reserve, output=output), self.timeout
            )
        except SigningError:
            raise
        except TimeoutError:
            raise SigningFailed(
                f"signing took longer than {self.timeout:.0f} s"
                + (f"; is the timestamp authority {self.tsa_url} reachable?" if self.tsa_url else ""),
                transient=True,
            ) from None
        except Exception as exc:  # pyHanko and aiohttp raise many types; this is the edge
            # With a TSA, anything that goes wrong inside pyHanko is most likely the TSA's answer or
            # its absence: try again later rather than give the notice up.
            where_from = f" (timestamp authority {self.tsa_url})" if self.tsa_url else ""
            raise SigningFailed(
                f"signing the notice failed{where_from}: {type(exc).__name__}: {exc}",
                transient=self.tsa_url is not None,
            ) from None
        return output.getvalue()

    def _measure_reserve(self) -> int:
        # One real signature of a blank page (timestamped when a TSA is set) gives the container size.
        sample = _blank_pdf()
        signed = self._sign(sample, SignatureBox(0, (40, 40, 200, 100)), None, self.signing_time())
        # pyHanko counts the reserve in hex digits: two per byte of the CMS container.
        margin = 8192 if self.tsa_url else 2048
        return 2 * (_contents_size(signed) + margin)

    def _stamp(self) -> StaticStampStyle:
        # The panel's words are page content (laid out with the letter's embedded font); the widget's
        # own appearance is the panel's frame, so the signature is visible where the words are.
        return _FRAME


class _PdfSignerAt(signers.PdfSigner):
    """pyHanko's PDF signer with the signing time given, not taken from the clock in the session."""

    def __init__(self, signed_at: datetime, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signed_at = signed_at

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._signed_at  # the signature dictionary's /M
        return session


class _WriterAt(IncrementalPdfFileWriter):
    """The incremental update that carries the signature, dated ``signed_at`` instead of "now"."""

    def __init__(self, signed_at: datetime, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signed_at = signed_at

    def _update_meta(self) -> None:
        super()._update_meta()  # type: ignore[no-untyped-call]  # sets the producer and /ModDate = now
        if self._info is not None:
            info = self._info.get_object()  # type: ignore[no-untyped-call]
            info["/ModDate"] = generic.pdf_date(self._signed_at)
            self.mark_update(self._info)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _cleanup(loop: _LoopThread) -> None:
    loop.close()


def _contents_size(signed_pdf: bytes) -> int:
    reader = PdfFileReader(io.BytesIO(signed_pdf), strict=False)
    signature = reader.embedded_signatures[-1]
    return len(signature.signed_data.dump()) + 64


def _blank_pdf() -> bytes:
    latin = load_font(BUNDLED_LATIN, BUNDLED_LATIN_BOLD)
    return _blank_pdf_with(latin.regular)


def _blank_pdf_with(font_name: str) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(300, 200), initialFontName=font_name)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


PANEL_SIZE = (180.0, 62.0)  # points: the box the layout reserves for the visible signature
_FRAME = StaticStampStyle(border_width=1, border_color=(0.12, 0.23, 0.41), background=None)


def company_certificate_note(settings: Settings, now: datetime) -> tuple[bool, str] | None:
    """``validity_note`` of the configured company certificate at ``now``.

    None as well when no certificate is configured or it cannot be opened: then every signed
    message says why in its review task, and `dunbot check-config` names the key.
    """
    signing = settings.signing
    if not signing.pkcs12:
        return None
    try:
        passphrase = (
            secret(signing.password_env, "signing.password_env").encode() if signing.password_env else None
        )
        validity = certificate_validity(load_pkcs12(settings.path(signing.pkcs12), passphrase))
    except ConfigError:
        return None
    return validity_note(*validity, now) if validity else None


def company_signer(settings: Settings) -> NoticeSigner:
    """The company's signer from ``[signing]``: its certificate loaded, its password from the environment.

    Raises :class:`~bot.errors.NoticeUnavailable` when no certificate is configured.
    """
    signing = settings.signing
    if not signing.pkcs12:
        raise NoticeUnavailable(
            "signing needs the company certificate: set [signing] pkcs12 (and password_env), "
            "or run `dunbot init --self-signed` for a trial certificate that is not for production"
        )
    passphrase = (
        secret(signing.password_env, "signing.password_env").encode("utf-8") if signing.password_env else None
    )
    return NoticeSigner.from_pkcs12(
        settings.path(signing.pkcs12),
        passphrase,
        tsa_url=signing.tsa_url,
        location=signing.location,
        timeout_seconds=float(signing.timeout_seconds),
    )
