"""A pyHanko signer that keeps the private key loaded and reuses the CMS container it built once.

pyHanko's ``SimpleSigner`` deserialises (and so re-validates) the private key on every signature,
and rebuilds the whole CMS ``SignedData`` with asn1crypto for every signature, re-encoding the
certificate and the ESS signing-certificate attribute each time. For a PAdES B-B notice signed with
an RSA key everything in that container is the same from one notice to the next except two
fixed-length values: the document digest inside the signed attributes and the PKCS#1 v1.5
signature value. :class:`CachedSigner` therefore

* loads the private key once, and
* after pyHanko has built one container the normal way, produces later containers by putting the new
  digest and the new signature value into a copy of that container's DER, at offsets found and
  checked when the template is made. Lengths never change, so no DER length needs recomputing.

Anything else (timestamped signatures, other key types, other attributes) goes through pyHanko's own
code unchanged. A test checks that both paths give byte-identical containers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1crypto import cms
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.sign import signers

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True, slots=True)
class _Template:
    """A finished container and where its two variable values sit."""

    digest_algorithm: str
    container: bytes  # DER of the ContentInfo
    signed_attrs: bytes  # DER of the signed attributes as signed (SET OF, tag 0x31)
    digest_in_attrs: int  # offset of the document digest in ``signed_attrs``
    digest_in_container: int  # offset of the same digest in ``container``
    signature_in_container: int  # offset of the signature value in ``container``
    digest_length: int
    signature_length: int


def _single(haystack: bytes, needle: bytes) -> int | None:
    first = haystack.find(needle)
    if first < 0 or haystack.find(needle, first + 1) >= 0:
        return None
    return first


class CachedSigner(signers.SimpleSigner):
    """A ``SimpleSigner`` with the key loaded once and PAdES B-B containers made from a template."""

    def __init__(self, base: signers.SimpleSigner) -> None:
        super().__init__(
            signing_cert=base.signing_cert,
            signing_key=base.signing_key,
            cert_registry=base.cert_registry,
            signature_mechanism=base.signature_mechanism,
            prefer_pss=base.prefer_pss,
            embed_roots=base.embed_roots,
        )
        self._private_key = serialization.load_der_private_key(base.signing_key.dump(), password=None)
        self._template: _Template | None = None
        self.template_uses = 0  # containers made from the template (for tests and benchmarks)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        """RSA PKCS#1 v1.5 with the key already loaded; anything else as pyHanko does it."""
        if self._rsa_pkcs1(digest_algorithm):
            assert isinstance(self._private_key, RSAPrivateKey)
            return self._private_key.sign(data, PKCS1v15(), _HASHES[digest_algorithm]())
        result: bytes = super().sign_raw(data, digest_algorithm)
        return result

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: Any = None,
        signed_attr_settings: Any = None,
        is_pdf_sig: bool = True,
        encap_content_info: Any = None,
    ) -> cms.ContentInfo:
        """A detached CMS signature of ``data_digest``: from the template when it applies."""
        plain = (
            not dry_run
            and use_pades
            and timestamper is None
            and _only_signing_time(signed_attr_settings)
            and is_pdf_sig
            and encap_content_info is None
            and self._rsa_pkcs1(digest_algorithm)
        )
        template = self._template
        if plain and template is not None and template.digest_algorithm == digest_algorithm:
            return self._from_template(template, data_digest)
        container: cms.ContentInfo = await super().async_sign(
            data_digest,
            digest_algorithm,
            dry_run=dry_run,
            use_pades=use_pades,
            timestamper=timestamper,
            signed_attr_settings=signed_attr_settings,
            is_pdf_sig=is_pdf_sig,
            encap_content_info=encap_content_info,
        )
        if plain and template is None:
            self._template = _make_template(container, data_digest, digest_algorithm)
        return container

    def _from_template(self, template: _Template, digest: bytes) -> cms.ContentInfo:
        if len(digest) != template.digest_length:
            raise ValueError("digest length differs from the template's")
        attrs = bytearray(template.signed_attrs)
        attrs[template.digest_in_attrs : template.digest_in_attrs + len(digest)] = digest
        signature = self.sign_raw(bytes(attrs), template.digest_algorithm)
        if len(signature) != template.signature_length:
            raise ValueError("signature length differs from the template's")
        container = bytearray(template.container)
        container[template.digest_in_container : template.digest_in_container + len(digest)] = digest
        start = template.signature_in_container
        container[start : start + len(signature)] = signature
        self.template_uses += 1
        return cms.ContentInfo.load(bytes(container))

    def _rsa_pkcs1(self, digest_algorithm: str) -> bool:
        if not isinstance(self._private_key, RSAPrivateKey) or digest_algorithm not in _HASHES:
            return False
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        try:
            return bool(mechanism.signature_algo == "rsassa_pkcs1v15")
        except ValueError:
            return False


# The signed attributes a PAdES B-B container may have for the template to apply: none of them
# changes from one signature to the next except the message digest. (PAdES forbids signingTime in
# the CMS: the time is the signature dictionary's /M, outside the container.)
_CONSTANT_ATTRIBUTES = frozenset(
    {"content_type", "message_digest", "signing_certificate_v2", "signing_certificate"}
)


def _only_signing_time(settings: Any) -> bool:
    """True when the attribute settings ask for nothing a PAdES container would carry but the time."""
    if settings is None:
        return True
    return (
        getattr(settings, "adobe_revinfo_attr", None) is None
        and getattr(settings, "cades_signed_attrs", None) is None
    )


def _make_template(container: cms.ContentInfo, digest: bytes, digest_algorithm: str) -> _Template | None:
    """Locate the digest and signature in a finished container; None when they are not unambiguous
    or when the container has an attribute that could differ between signatures."""
    der = container.dump()
    signer_info = container["content"]["signer_infos"][0]
    kinds = {attribute["type"].native for attribute in signer_info["signed_attrs"]}
    if not kinds <= _CONSTANT_ATTRIBUTES or signer_info["unsigned_attrs"].native:
        return None
    signature = signer_info["signature"].native
    attrs = cms.CMSAttributes.load(signer_info["signed_attrs"].untag().dump()).dump()
    digest_in_attrs = _single(attrs, digest)
    digest_in_container = _single(der, digest)
    signature_in_container = _single(der, signature)
    if digest_in_attrs is None or digest_in_container is None or signature_in_container is None:
        return None
    return _Template(
        digest_algorithm=digest_algorithm,
        container=der,
        signed_attrs=attrs,
        digest_in_attrs=digest_in_attrs,
        digest_in_container=digest_in_container,
        signature_in_container=signature_in_container,
        digest_length=len(digest),
        signature_length=len(signature),
    )
