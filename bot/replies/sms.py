"""An inbound SMS (Twilio's messaging webhook) as an :class:`~bot.replies.arrivals.Arrival`.

The form Twilio POSTed is kept whole as the artifact, as canonical JSON (sorted keys, UTF-8, no
whitespace): the same parameters always give the same bytes, so a retried webhook names the same
artifact, and the handle pass reads ``Body``, ``From`` and ``NumMedia`` back from it. The
``source_key`` is "sms:<MessageSid>", unique: Twilio's retries record nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import phonenumbers

from bot.evidence.canonical import canonical_bytes
from bot.replies.arrivals import Arrival


def sms_arrival(params: Mapping[str, str], received_at: datetime) -> Arrival | None:
    """The arrival for a verified inbound-SMS form; None when it has no MessageSid (nothing to key it on)."""
    sid = (params.get("MessageSid") or params.get("SmsSid") or params.get("SmsMessageSid") or "").strip()
    if not sid:
        return None
    return Arrival(
        channel="sms",
        source_key=f"sms:{sid}"[:255],
        raw=canonical_bytes(dict(params)),
        sender=e164(params.get("From", "")),
        subject="",
        header_message_id=None,
        received_at=received_at,
    )


def e164(number: str) -> str:
    """``number`` in E.164 when it reads as an international number, else as sent (a short code, a
    sender name): a reply is kept even when its sender cannot be normalised."""
    text = number.strip()
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return text[:320]
    if not phonenumbers.is_possible_number(parsed):
        return text[:320]
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
