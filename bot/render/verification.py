"""Checking a signed notice (`dunbot notice verify`): signer, time, timestamp, integrity, coverage.

A notice passes when it carries a signature whose digest matches the signed bytes (intact), whose
signature value verifies with the signer's certificate (valid), which covers the whole file (nothing
was appended after signing), and whose timestamp token, when there is one, is intact and valid too.
Trust in the signer is a separate question: with ``trust`` anchors (the company certificate, or its
CA) the signer must chain to one of them; without, trust is reported as not checked. Nothing is
fetched from the network: the check works offline, as a court's expert would run it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from bot.errors import InputError


@dataclass
class NoticeVerification:
    """What `dunbot notice verify` found; ``ok`` when nothing failed."""

    file: str
    sha256: str
    signatures: int = 0
    field_name: str | None = None
    signer: str | None = None  # the certificate's common name
    signer_subject: str | None = None  # the whole subject, for the record
    signer_certificate_sha256: str | None = None
    signing_time: datetime | None = None
    timestamp: datetime | None = None
    timestamp_authority: str | None = None
    intact: bool = False
    valid: bool = False
    coverage: str = "none"
    covers_whole_file: bool = False
    trusted: bool | None = None  # None: no trust anchors were given
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the notice verified."""
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """The report for machines."""
        return {
            "file": self.file,
            "sha256": self.sha256,
            "ok": self.ok,
            "signatures": self.signatures,
            "field": self.field_name,
            "signer": self.signer,
            "signer_subject": self.signer_subject,
            "signer_certificate_sha256": self.signer_certificate_sha256,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "timestamp_authority": self.timestamp_authority,
            "intact": self.intact,
            "valid": self.valid,
            "coverage": self.coverage,
            "covers_whole_file": self.covers_whole_file,
            "trusted": self.trusted,
            "problems": list(self.problems),
        }


def load_trust_anchors(paths: Sequence[Path], option: str = "--trust") -> list[asn1_x509.Certificate]:
    """Certificates (PEM or DER, several per PEM file) to trust as roots; ``option`` names where the
    paths came from in errors."""
    anchors: list[asn1_x509.Certificate] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{option} {path}: cannot read it ({exc.strerror})") from None
        try:
            if pem.detect(data):
                anchors.extend(
                    asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)
                )
            else:
                anchors.append(asn1_x509.Certificate.load(data))
            for anchor in anchors:
                anchor.native  # noqa: B018 (parse now, so a bad file is reported here)
        except (ValueError, TypeError) as exc:
            raise InputError(f"{option} {path}: not a certificate in PEM or DER form ({exc})") from None
    return anchors


def verify_notice_bytes(
    data: bytes, name: str, trust: Sequence[asn1_x509.Certificate] = ()
) -> NoticeVerification:
    """Verify a signed notice held in memory (an evidence pack's copy, a file's bytes)."""
    report = NoticeVerification(file=name, sha256=hashlib.sha256(data).hexdigest())
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        report.problems.append(f"not a readable PDF: {exc}")
        return report
    report.signatures = len(signatures)
    if not signatures:
        report.problems.append("the PDF carries no signature")
        return report
    context = _context(trust)
    with quiet_pyhanko():
        _check_signatures(report, signatures, context, bool(trust))
    return report


def _check_signatures(
    report: NoticeVerification, signatures: list[Any], context: ValidationContext, trust_given: bool
) -> None:
    for index, signature in enumerate(signatures):
        label = "" if len(signatures) == 1 else f"signature {index + 1}: "
        try:
            status = validate_pdf_signature(
                signature, signer_validation_context=context, ts_validation_context=context
            )
        except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"{label}the signature cannot be checked: {exc}")
            continue
        if index == 0:
            _describe(report, signature, status, trust_given)
        if not status.intact:
            report.problems.append(
                f"{label}the document was changed after signing: its digest does not match the signature"
            )
        elif not status.valid:
            report.problems.append(
                f"{label}the signature value does not verify with the signer's certificate"
            )
        if status.coverage is not SignatureCoverageLevel.ENTIRE_FILE:
            report.problems.append(
                f"{label}the signature does not cover the whole file: "
                "something was added after signing (an incremental update)"
            )
        stamp = status.timestamp_validity
        if stamp is not None and not (stamp.intact and stamp.valid):
            report.problems.append(f"{label}the signature timestamp token is damaged or does not verify")
        if trust_given and not status.trusted:
            report.problems.append(f"{label}the signer does not chain to the trusted certificate(s) given")
        outside = _outside_validity(
            status.signing_cert, stamp.timestamp if stamp else status.signer_reported_dt
        )
        if outside:
            report.problems.append(f"{label}{outside}")


def _outside_validity(certificate: asn1_x509.Certificate, signed_at: datetime | None) -> str:
    """Why the signer's certificate was not valid when the notice was signed ("" when it was).

    A trust anchor is trusted whatever its dates, so a self-signed certificate that had expired
    passes the chain check: the time of signing (the timestamp's, else the signer's own claim) must
    fall in the certificate's validity all the same.
    """
    if signed_at is None:
        return ""
    signed_at = signed_at.replace(tzinfo=UTC) if signed_at.tzinfo is None else signed_at.astimezone(UTC)
    validity = certificate["tbs_certificate"]["validity"]
    start, end = validity["not_before"].native, validity["not_after"].native
    if start <= signed_at <= end:
        return ""
    return (
        f"the signer's certificate was not valid when the notice was signed ({signed_at:%Y-%m-%d %H:%M} UTC; "
        f"it is valid from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC)"
    )


def verify_notice_file(path: Path, trust: Sequence[asn1_x509.Certificate] = ()) -> NoticeVerification:
    """Verify the signed notice at ``path``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    return verify_notice_bytes(data, str(path), trust)


@contextlib.contextmanager
def quiet_pyhanko() -> Iterator[None]:
    # pyHanko logs every untrusted (e.g. self-signed) path at ERROR with a traceback; the report
    # already says whether the signer is trusted.
    loggers = [logging.getLogger(name) for name in ("pyhanko", "pyhanko_certvalidator")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _context(trust: Sequence[asn1_x509.Certificate]) -> ValidationContext:
    # Offline on purpose: no revocation fetching, no system trust store.
    return ValidationContext(trust_roots=list(trust), allow_fetching=False, revocation_mode="soft-fail")


def _describe(report: NoticeVerification, signature: Any, status: Any, trust_given: bool) -> None:
    certificate = status.signing_cert
    report.field_name = signature.field_name
    subject = certificate.subject
    native = subject.native if isinstance(subject.native, dict) else {}
    report.signer = str(native.get("common_name") or subject.human_friendly)
    report.signer_subject = subject.human_friendly
    report.signer_certificate_sha256 = hashlib.sha256(certificate.dump()).hexdigest()
    report.signing_time = status.signer_reported_dt
    report.intact = bool(status.intact)
    report.valid = bool(status.valid)
    coverage = status.coverage
    report.coverage = {
        SignatureCoverageLevel.ENTIRE_FILE: "entire file",
        SignatureCoverageLevel.ENTIRE_REVISION: "entire revision only (bytes appended after signing)",
        SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "part of the file only",
        SignatureCoverageLevel.UNCLEAR: "unclear",
    }.get(coverage, str(coverage))
    report.covers_whole_file = coverage is SignatureCoverageLevel.ENTIRE_FILE
    report.trusted = bool(status.trusted) if trust_given else None
    stamp = status.timestamp_validity
    if stamp is not None:
        report.timestamp = stamp.timestamp
        report.timestamp_authority = stamp.signing_cert.subject.human_friendly
