"""Whether a checkpoint's RFC 3161 timestamp counts (DESIGN §6, "Against an insider").

A token proves a time only as far as its authority is trusted: anyone can run a TSA under the name
"DigiCert" and date a token as they please. So a token's time **counts** (is *verified*) only when

1. the TSA's certificate chains to a TSA anchor the reader gave (``--tsa-trust CA.pem``, or
   ``[signing] tsa_trust``),
2. the time lies inside the validity of the certificate that signed the statement (a signature
   cannot predate its certificate, nor outlive it) and of the TSA's own certificate, and
3. the time is not before the statement's own ``time:`` (the statement — and the events it covers —
   existed when the token was asked for, so a token cannot be older).

Otherwise the time is reported *unverified*, with the reason, and never printed as a verified time.
That alone does not fail a checkpoint (its signature still holds); a token that is damaged or was
not made over this statement does (:class:`TimestampDamaged`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.evidence.anchors import named

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509

# A TSA may round its time down to the second; the statement's time has microseconds.
TRUNCATION = timedelta(seconds=1)


class TimestampDamaged(ValueError):
    """The token cannot be read, does not verify, or was not made over this statement."""


@dataclass(frozen=True, slots=True)
class TimestampCheck:
    """What a token says, and whether its time counts (``verified``) or why not (``why``)."""

    time: datetime
    authority: str
    verified: bool
    why: str = ""

    def describe(self) -> str:
        """One phrase for people; an unverified time is never shown as a verified one."""
        if self.verified:
            return f"timestamped {self.time:%Y-%m-%d %H:%M:%S} UTC by {self.authority} (verified)"
        return (
            f"timestamp UNVERIFIED ({self.why}): a token from {self.authority} claims "
            f"{self.time:%Y-%m-%d %H:%M:%S} UTC"
        )

    def as_json(self) -> dict[str, Any]:
        """For machines."""
        return {
            "time": self.time.isoformat(),
            "authority": self.authority,
            "verified": self.verified,
            "why": self.why or None,
        }


async def check_timestamp(
    token_der: bytes,
    statement: bytes,
    signer: asn1_x509.Certificate,
    statement_time: datetime | None,
    tsa_trust: Sequence[asn1_x509.Certificate],
) -> TimestampCheck:
    """Check an RFC 3161 token over SHA-256(``statement``) signed by ``signer``'s statement.

    Raises :class:`TimestampDamaged` when the token itself does not hold.
    """
    from asn1crypto import cms, tsp
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    from bot.render.verification import quiet_pyhanko

    digest = hashlib.sha256(statement).digest()
    try:
        token_data = cms.ContentInfo.load(token_der)["content"]
        embedded = [c.chosen for c in token_data["certificates"]] if token_data["certificates"] else []
        # Without an anchor the token's own certificates are its roots: that checks the token is
        # whole and over this statement, not who made it.
        context = ValidationContext(
            trust_roots=list(tsa_trust) or embedded,
            other_certs=embedded,
            allow_fetching=False,
            revocation_mode="soft-fail",
        )
        with quiet_pyhanko():
            status = await validate_tst_signed_data(token_data, context, lambda _algorithm: digest)
        info = token_data["encap_content_info"]["content"].parsed
        if not isinstance(info, tsp.TSTInfo):
            raise ValueError("not a TSTInfo")
        time: datetime = info["gen_time"].native
        tsa: asn1_x509.Certificate = status["signing_cert"]
    except Exception as exc:  # the edge of asn1crypto and pyHanko, which raise many types
        raise TimestampDamaged(
            f"the timestamp token is damaged or not for this statement: {type(exc).__name__}: {exc}"
        ) from None
    if not (status.get("intact") and status.get("valid")):
        raise TimestampDamaged("the timestamp token does not verify")
    authority = str(tsa.subject.human_friendly)
    reasons = []
    if not tsa_trust:
        reasons.append("no TSA anchor given: pass --tsa-trust CA.pem or set [signing] tsa_trust")
    elif status.get("trust_problem_indic") is not None or status.get("validation_path") is None:
        reasons.append(f"the TSA {named(tsa)} does not chain to the TSA anchor given")
    outside = _outside(time, signer, "the signer's") or _outside(time, tsa, "the TSA's")
    if outside:
        reasons.append(outside)
    if statement_time is not None and time + TRUNCATION + _accuracy(info) < statement_time:
        reasons.append(
            f"it is dated before the statement it stamps ({statement_time:%Y-%m-%d %H:%M:%S} UTC), "
            "which existed when the token was asked for"
        )
    return TimestampCheck(time, authority, not reasons, "; ".join(reasons))


def _outside(time: datetime, certificate: asn1_x509.Certificate, whose: str) -> str:
    validity = certificate["tbs_certificate"]["validity"]
    start, end = validity["not_before"].native, validity["not_after"].native
    if start <= time <= end:
        return ""
    return (
        f"its time lies outside {whose} certificate validity ({start:%Y-%m-%d %H:%M:%S} to "
        f"{end:%Y-%m-%d %H:%M:%S} UTC)"
    )


def _accuracy(info: Any) -> timedelta:
    accuracy = info["accuracy"]
    if accuracy.native is None:
        return timedelta(0)
    parts = accuracy.native
    return timedelta(
        seconds=parts.get("seconds") or 0,
        milliseconds=parts.get("millis") or 0,
        microseconds=parts.get("micros") or 0,
    )
