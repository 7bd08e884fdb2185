"""Whom a signature is checked against: the **anchor** (DESIGN §6, "Against an insider").

A signature proves only that someone holding *a* key signed; a self-made certificate can carry the
company's name. What makes it the company's is that the signer's certificate is, or chains to, a
certificate the reader already trusts: the anchor. ``--trust CERT`` names one; without it,
`dunbot evidence verify --db` takes the configured company certificate (``[signing] pkcs12``), and a
pack — verified with nothing but the pack — can only say who signed it, not that this was the
company, so its report says so.

Certificates are named by subject and by the SHA-256 of their DER encoding (what
``openssl x509 -noout -fingerprint -sha256`` prints, without the colons).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.config import Settings, secret
from bot.errors import ConfigError

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509

GIVEN = "--trust"
CONFIGURED = "the configured company certificate ([signing] pkcs12)"


def fingerprint(certificate: asn1_x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, hex."""
    return hashlib.sha256(certificate.dump()).hexdigest()


def subject(certificate: asn1_x509.Certificate) -> str:
    """The certificate's subject, for people."""
    return str(certificate.subject.human_friendly)


def named(certificate: asn1_x509.Certificate) -> str:
    """``subject (certificate SHA-256 …)``."""
    return f"{subject(certificate)} (certificate SHA-256 {fingerprint(certificate)})"


def certificate_name(certificate_pem: str) -> str:
    """``named`` of a PEM certificate; ValueError when it is not one."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    try:
        _, _, der = pem.unarmor(certificate_pem.encode("ascii"))
        certificate = asn1_x509.Certificate.load(der)
        return named(certificate)
    except (TypeError, UnicodeEncodeError) as exc:
        raise ValueError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Anchor:
    """The certificates every signer must be, or chain to, and where they came from."""

    certificates: tuple[asn1_x509.Certificate, ...]
    source: str  # GIVEN or CONFIGURED

    def describe(self) -> str:
        """Who the anchor is, for people."""
        return "; ".join(named(c) for c in self.certificates) + f", from {self.source}"

    def as_json(self) -> dict[str, Any]:
        """Who the anchor is, for machines."""
        return {
            "source": self.source,
            "certificates": [{"subject": subject(c), "sha256": fingerprint(c)} for c in self.certificates],
        }


def given_anchor(trust: Sequence[asn1_x509.Certificate]) -> Anchor | None:
    """The anchor ``--trust`` named, None when it was not given."""
    return Anchor(tuple(trust), GIVEN) if trust else None


def company_anchor(settings: Settings) -> tuple[Anchor | None, str]:
    """The configured company certificate as the anchor; (None, why) when there is none to read.

    Only the company's own certificate, never the CA chain its PKCS#12 may carry: the CA also
    issues other companies' certificates, which must not pass for this one.
    """
    from bot.render.signing import load_pkcs12

    signing = settings.signing
    if not signing.pkcs12:
        return None, "no company certificate is configured ([signing] pkcs12)"
    try:
        passphrase = (
            secret(signing.password_env, "signing.password_env").encode("utf-8")
            if signing.password_env
            else None
        )
        loaded = load_pkcs12(settings.path(signing.pkcs12), passphrase)
    except ConfigError as exc:
        return None, f"the company certificate cannot be read: {exc}"
    assert loaded.signing_cert is not None  # load_pkcs12 guarantees it
    return Anchor((loaded.signing_cert,), CONFIGURED), ""


def database_anchor(settings: Settings, trust: Sequence[asn1_x509.Certificate]) -> tuple[Anchor | None, str]:
    """What `verify --db` checks checkpoint signers against: ``--trust``, else the company certificate."""
    anchor = given_anchor(trust)
    return (anchor, "") if anchor is not None else company_anchor(settings)


def configured_tsa_trust(settings: Settings) -> list[asn1_x509.Certificate]:
    """The TSA anchors ``[signing] tsa_trust`` names (none when unset)."""
    from bot.render.verification import load_trust_anchors

    if not settings.signing.tsa_trust:
        return []
    return load_trust_anchors([settings.path(settings.signing.tsa_trust)], "[signing] tsa_trust:")
