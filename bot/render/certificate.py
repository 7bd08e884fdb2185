"""A self-signed company certificate for trying dunbot out — never for production.

`dunbot init` (and `dunbot demo`) create one so that signed notices work from the first run. Its
subject says TRIAL in the common name and the organisational unit, so no one can mistake a notice
signed with it for one signed with the company's real certificate (README: "Signing with your real
certificate"). The PKCS#12 file has no password: it protects nothing worth protecting.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from pyhanko.sign.signers import SimpleSigner

    from bot.config import Settings

TRIAL_LABEL = "TRIAL - NOT FOR PRODUCTION"


@dataclass(frozen=True, slots=True)
class TrialCertificate:
    """The files written: the PKCS#12 (key and certificate) and the certificate alone as PEM."""

    pkcs12: Path
    certificate_pem: Path


def create_trial_certificate(
    folder: Path,
    legal_name: str,
    country: str,
    now: datetime,
    *,
    valid_days: int = 730,
    stem: str = "trial-signing",
) -> TrialCertificate:
    """Write ``<stem>.p12`` and ``<stem>.pem`` into ``folder``; an existing certificate is kept.

    Safe when two instances start at once on a shared volume: the PKCS#12 is created exclusively,
    and the one that finds it already there keeps the other's.
    """
    folder.mkdir(parents=True, exist_ok=True)
    p12_path, pem_path = folder / f"{stem}.p12", folder / f"{stem}.pem"
    if p12_path.exists():
        return TrialCertificate(p12_path, pem_path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _clip(legal_name)),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, TRIAL_LABEL),
            x509.NameAttribute(NameOID.COMMON_NAME, _clip(legal_name, 56) + " (TRIAL)"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
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
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(
        b"dunbot trial signing", key, certificate, None, serialization.NoEncryption()
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    try:
        _write_private(p12_path, data)
    except FileExistsError:
        return TrialCertificate(p12_path, pem_path)  # another instance made it a moment ago
    pem_path.write_bytes(pem)
    return TrialCertificate(p12_path, pem_path)


def _clip(text: str, limit: int = 64) -> str:
    # X.520 upper bounds count UTF-8 bytes; cut whole characters until the text fits.
    while len(text.encode("utf-8")) > limit:
        text = text[:-1]
    return text


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def not_for_production(signer: SimpleSigner) -> str | None:
    """Why the certificate of ``signer`` must not sign real notices, or None: dunbot's TRIAL
    certificate, or any self-signed one (it names its holder with nothing but its own word)."""
    certificate = signer.signing_cert
    if certificate is None:
        return None
    subject = certificate.subject.native if isinstance(certificate.subject.native, dict) else {}
    units = subject.get("organizational_unit_name") or ()
    if TRIAL_LABEL in ((units,) if isinstance(units, str) else tuple(units)):
        return (
            "is dunbot's self-signed TRIAL certificate, not for production: a notice signed with it "
            "proves nothing about who sent it; point signing.pkcs12 at the company's certificate from a CA"
        )
    if certificate.self_signed in ("maybe", "yes"):
        return (
            "is self-signed: no one can check who holds it; for notices that count in court use a "
            "certificate issued to the company by a certification authority"
        )
    return None


TRIAL_FOLDER = "signing"
_PKCS12_LINE = re.compile(r"^#\s*pkcs12\s*=.*$", re.MULTILINE)
_SIGNING_SECTION = re.compile(r"^\[signing\][^\n]*\n", re.MULTILINE)


def enable_trial_signing(
    config: Path, legal_name: str, country: str, now: datetime, *, valid_days: int = 730
) -> TrialCertificate:
    """Create the trial certificate beside ``config`` and point ``[signing] pkcs12`` at it.

    The config's commented-out ``# pkcs12 = ...`` line (as in config.example.toml) is replaced, or the
    key is added at the top of ``[signing]``. Raises ValueError when the config already names a
    certificate: a real one is never replaced by a trial one.
    """
    text = config.read_text(encoding="utf-8")
    section = _SIGNING_SECTION.search(text)
    if section is not None:
        body_end = text.find("\n[", section.end())
        body = text[section.end() : body_end if body_end >= 0 else len(text)]
        if re.search(r"^\s*pkcs12\s*=", body, re.MULTILINE):
            raise ValueError(
                f"{config}: [signing] pkcs12 is already set; remove it to use a trial certificate"
            )
    trial = create_trial_certificate(
        config.parent / TRIAL_FOLDER, legal_name, country, now, valid_days=valid_days
    )
    line = (
        f'pkcs12 = "{TRIAL_FOLDER}/{trial.pkcs12.name}"   '
        "# TRIAL certificate made by dunbot: self-signed, NOT for production"
    )
    if section is None:
        text = text.rstrip("\n") + f"\n\n[signing]\n{line}\n"
    else:
        body_end = text.find("\n[", section.end())
        span = (section.end(), body_end if body_end >= 0 else len(text))
        match = _PKCS12_LINE.search(text, *span)
        if match is not None:
            text = text[: match.start()] + line + text[match.end() :]
        else:
            text = text[: section.end()] + line + "\n" + text[section.end() :]
    config.write_text(text, encoding="utf-8")
    return trial


def trial_certificate_for(
    config: Path, settings: Settings, now: datetime, *, fresh: bool
) -> TrialCertificate:
    """`dunbot init`'s TRIAL certificate: where ``[signing] pkcs12`` points when that file does not exist
    yet (a read-only config, as in a container), else beside the config with pkcs12 pointed at it.

    Raises :class:`~bot.errors.ConfigError` rather than ever replacing a certificate that exists.
    """
    from bot.errors import ConfigError

    company = settings.company
    configured = settings.signing.pkcs12
    if not configured or fresh:
        return enable_trial_signing(config, company.legal_name, company.country, now)
    target = settings.path(configured)
    if target.exists():
        raise ConfigError(
            f"{config}:signing.pkcs12 is already set to {configured}, which exists; "
            "remove it first to use a trial certificate instead"
        )
    if target.suffix.lower() not in (".p12", ".pfx"):
        raise ConfigError(f"{config}:signing.pkcs12: {configured} should end in .p12 for a trial certificate")
    return create_trial_certificate(target.parent, company.legal_name, company.country, now, stem=target.stem)
