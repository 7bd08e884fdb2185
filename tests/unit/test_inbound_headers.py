"""The header fields an inbound e-mail's row keeps (sender, subject, Message-ID), read from raw bytes
with the standard library's header parser, whatever the customer's mail program wrote."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.replies.arrivals import email_arrival
from bot.replies.sms import e164

AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_encoded_words_in_gb2312_and_utf8_are_decoded_and_the_address_lower_cased() -> None:
    """A GB2312 encoded subject and a UTF-8 encoded display name decode; the sender is the bare address
    in lower case; folded lines are joined."""
    raw = (
        b"From: =?utf-8?b?5byg5Lyf?= <Zhang.Wei@Example.CN>\r\n"
        b"Subject: =?gb2312?b?u9i4tA==?=:\r\n =?gb2312?b?t6LGsQ==?= INV-1\r\n"
        b"Message-ID:\r\n <abc@mail.example.cn>\r\n\r\nbody\r\n"
    )
    arrival = email_arrival("file:x", raw, AT)
    assert arrival.sender == "zhang.wei@example.cn"
    assert arrival.subject == "回复: 发票 INV-1"
    assert arrival.header_message_id == "<abc@mail.example.cn>"
    assert (arrival.channel, arrival.received_at) == ("email", AT)


def test_a_quoted_display_name_with_a_comma_and_several_from_addresses() -> None:
    """The first address of From is the sender, also when the display name holds a comma."""
    raw = b'From: "Wang, Fang" <FANG@example.com>, other@example.com\r\nSubject: x\r\n\r\n'
    assert email_arrival("file:y", raw, AT).sender == "fang@example.com"


def test_a_bounce_with_an_empty_sender_and_no_subject_keeps_empty_fields() -> None:
    """A DSN from the null sender (<>) and a message without Subject or Message-ID give empty fields."""
    raw = b"From: <>\r\nContent-Type: multipart/report; report-type=delivery-status\r\n\r\n"
    arrival = email_arrival("file:z", raw, AT)
    assert (arrival.sender, arrival.subject, arrival.header_message_id) == ("", "", None)


def test_sms_senders_become_e164_when_they_can() -> None:
    """International numbers written any way become E.164; short codes and names stay as sent."""
    assert e164(" +86 138-0013-8000 ") == "+8613800138000"
    assert e164("+1 (415) 555-0100") == "+14155550100"
    assert e164("10690000") == "10690000"
    assert e164("ACME") == "ACME"


def test_raw_8bit_headers_are_read_as_utf8_or_replaced_never_left_undecodable() -> None:
    """RFC 6532 raw UTF-8 in Subject decodes; raw GBK bytes (not UTF-8) become U+FFFD instead of
    surrogates no database would store, and a NUL is dropped; the fields always encode as UTF-8."""
    raw = "Subject: 回复 INV-7\r\nMessage-ID: <\u00e9@x>\r\nFrom: a@b.cn\r\n\r\n".encode()
    assert email_arrival("file:u", raw, AT).subject == "回复 INV-7"
    gbk = b"Subject: \x00" + "发票".encode("gbk") + b"\r\nMessage-ID: <" + "号".encode("gbk") + b"@x>\r\n\r\n"
    arrival = email_arrival("file:g", gbk, AT)
    for field in (arrival.subject, arrival.header_message_id or "", arrival.sender):
        field.encode("utf-8")  # would raise on a surrogate
    assert "\x00" not in arrival.subject
    assert "\ufffd" in arrival.subject and "\ufffd" in (arrival.header_message_id or "")
