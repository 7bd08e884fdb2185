"""The e-mail bytes (bot/channels/mime.py): what the stdlib generator writes, valid RFC 5322 (issue 3).

``build_email`` writes with a generator that skips work the stdlib one does (folding header lines
that need none, writing a body line by line) and encodes non-ASCII headers itself: these tests hold
it to the stdlib generator's bytes for the same message, and read every message back with the
stdlib's strict parser.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from email import message_from_bytes
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.policy import compat32, default
from email.utils import parseaddr

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.channels.base import Attachment, Outgoing
from bot.channels.mime import build_email, email_message
from bot.domain.ledger import Channel

NOW = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)
FROM = "ar@xinghe.com.cn"


def _outgoing(**overrides: object) -> Outgoing:
    fields: dict[str, object] = {
        "key": "<dunbot.17.20260610@xinghe.com.cn>",
        "channel": Channel.EMAIL,
        "recipient": "ap@customer.com.cn",
        "subject": "【到期提醒】贵司发票 INV-000017 将于 2026-06-17 到期，请安排付款",
        "text": "尊敬的客户：\n贵司以下款项即将到期。\r\n金额 12,500.00 元。\n" * 20,
        "language": "zh-CN",
        "html": "<p>尊敬的客户：贵司以下款项即将到期。</p>\n" * 20,
        "customer": "上海星河国际贸易有限公司（华东区）",
        "step": "pre_due_reminder",
        "invoices": ("INV-000017", "INV-000018"),
    }
    fields.update(overrides)
    return Outgoing(**fields)  # type: ignore[arg-type]


NOTICE = Attachment(
    filename="催款通知书-DN-20260610-000017.pdf", content_type="application/pdf", data=b"%PDF-1.7\n" * 500
)
MESSAGES = {
    "zh-CN with html": _outgoing(),
    "zh-CN text only": _outgoing(html=None),
    "with a signed notice": _outgoing(attachments=(NOTICE,)),
    "with a statement and a spreadsheet": _outgoing(
        attachments=(
            NOTICE,
            Attachment("对账单.csv", "text/csv", "发票,金额\r\nINV-000017,12500.00\r\n".encode()),
            Attachment("ledger.bin", "no-subtype", bytes(range(256))),
        )
    ),
    "ascii": _outgoing(
        subject="Reminder: invoice INV-17 is due", customer="Acme Ltd", text="Dear customer\n" * 5
    ),
    "many invoices": _outgoing(invoices=tuple(f"INV-{n:06d}" for n in range(60))),
    "a long ascii subject": _outgoing(subject="Statement " + "of account " * 20),
    "no customer, no step": _outgoing(customer="", step="", invoices=()),
    "a Chinese display name, Reply-To and a mailto unsubscribe": _outgoing(
        sender_name="上海星河精密机械有限公司（应收账款部）",
        reply_to="replies@xinghe.com.cn",
        unsubscribe=("mailto:replies@xinghe.com.cn?subject=unsubscribe",),
    ),
    "an English display name that must be quoted": _outgoing(
        subject="Reminder: invoice INV-17 is due",
        sender_name='Xinghe Precision Co., Ltd. "AR"',
        unsubscribe=("mailto:ar@xinghe.com.cn?subject=unsubscribe",),
    ),
    "a display name that reads as an encoded word": _outgoing(sender_name="=?utf-8?q?Boss?="),
}


def _stdlib_bytes(message: Outgoing) -> bytes:
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=compat32.clone(linesep="\r\n")).flatten(
        email_message(message, FROM, now=NOW)
    )
    return buffer.getvalue()


def _sender(raw_from: str) -> tuple[str, str]:
    """(display name, address) of a From header as written: encoded words decoded, quotes removed."""
    display, separator, address = raw_from.rpartition(" <")
    if not separator:
        return "", raw_from
    if display.startswith("=?"):
        return str(make_header(decode_header(display))), address.removesuffix(">")
    return parseaddr(raw_from)


def test_the_bytes_are_what_the_stdlib_generator_writes() -> None:
    for name, message in MESSAGES.items():
        assert build_email(message, FROM, now=NOW) == _stdlib_bytes(message), name


def test_every_message_reads_back_as_written() -> None:
    for name, message in MESSAGES.items():
        raw = build_email(message, FROM, now=NOW)
        assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")), name
        assert b"\n" not in raw.replace(b"\r\n", b""), name  # CRLF only
        parsed = message_from_bytes(raw, policy=default)
        assert not parsed.defects, name
        assert parsed["Subject"] == message.subject, name
        assert parsed["Message-ID"] == message.key
        assert _sender(message_from_bytes(raw, policy=compat32)["From"]) == (message.sender_name, FROM), name
        assert parsed.get("Reply-To", "") == message.reply_to, name
        assert parsed.get("List-Unsubscribe", "") == ", ".join(f"<{u}>" for u in message.unsubscribe), name
        assert parsed["List-Unsubscribe-Post"] is None, name  # no https link, no one-click promise
        assert parsed.get("X-Dunbot-Customer", "") == message.customer, name
        assert parsed.get("X-Dunbot-Invoices", "") == ", ".join(message.invoices), name
        text = parsed.get_body(("plain",))
        assert text is not None and text.get_content() == message.text, name
        if message.html:
            html = parsed.get_body(("html",))
            assert html is not None and html.get_content() == message.html, name
        attachments = list(parsed.iter_attachments())
        assert [
            (a.get_filename(), a.get_content_type(), a.get_payload(decode=True)) for a in attachments
        ] == [
            (
                a.filename,
                a.content_type if "/" in a.content_type else "application/octet-stream",
                a.data,
            )
            for a in message.attachments
        ], name


def test_a_text_attachment_says_its_charset() -> None:
    raw = build_email(MESSAGES["with a statement and a spreadsheet"], FROM, now=NOW)
    csv, binary = list(message_from_bytes(raw, policy=default).iter_attachments())[1:]
    assert (
        csv.get_content_charset() == "utf-8" and csv.get_content() == "发票,金额\r\nINV-000017,12500.00\r\n"
    )
    assert binary.get_content_charset() is None


def test_the_same_message_gives_the_same_bytes_and_its_boundary_is_nowhere_in_it() -> None:
    message = MESSAGES["with a signed notice"]
    raw = build_email(message, FROM, now=NOW)
    assert build_email(message, FROM, now=NOW) == raw
    parsed = message_from_bytes(raw, policy=default)
    for part in parsed.walk():
        boundary = part.get_boundary()
        if boundary:
            assert raw.count(f"--{boundary}".encode()) == len(part.get_payload()) + 1
    other = build_email(_outgoing(key="<dunbot.18.20260610@xinghe.com.cn>"), FROM, now=NOW)
    assert message_from_bytes(other, policy=default).get_boundary() != parsed.get_boundary()


@settings(max_examples=300, deadline=None)
@example("=??B??=")  # ASCII that reads as an encoded word: it must be encoded itself
@example("=?0?q?x?= plain")
@example("0\x1e0")  # a control character the stdlib would take for a line break
@given(st.text(min_size=1, max_size=200).filter(lambda s: s.strip() == s and "\r" not in s and "\n" not in s))
def test_any_subject_and_customer_name_round_trip(value: str) -> None:
    raw = build_email(_outgoing(subject=value, customer=value), FROM, now=NOW)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))  # RFC 5322's hard limit
    if not value.isascii():  # encoded words: folded to 78 columns
        assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    parsed = message_from_bytes(raw, policy=compat32)
    assert str(make_header(decode_header(parsed["Subject"]))) == value
    assert str(make_header(decode_header(parsed["X-Dunbot-Customer"]))) == value


def _flat(part: object) -> bytes:
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=compat32.clone(linesep="\r\n")).flatten(part)  # type: ignore[arg-type]
    return buffer.getvalue()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["plain", "html"]))
def test_a_text_part_is_what_mimetext_makes(text: str, subtype: str) -> None:
    from email.mime.text import MIMEText

    from bot.channels.mime import _text_part

    assert _flat(_text_part(text, subtype)) == _flat(MIMEText(text, subtype, "utf-8"))


def _flattened_or_error(generator: type[BytesGenerator], name: str, value: str) -> bytes | str:
    from email.mime.text import MIMEText

    part = MIMEText("body", "plain", "utf-8")
    part[name] = value
    buffer = io.BytesIO()
    try:
        generator(buffer, policy=compat32.clone(linesep="\r\n")).flatten(part)
    except Exception as exc:  # the stdlib refuses some values (an embedded header): so must we
        return type(exc).__name__
    return buffer.getvalue()


_ASCII_VALUE = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=120)
_FOLDED_VALUE = st.lists(_ASCII_VALUE, min_size=1, max_size=4).map("\r\n ".join)


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(["To", "Subject", "X-Dunbot-Customer"]), st.one_of(_ASCII_VALUE, _FOLDED_VALUE))
def test_any_ascii_header_is_written_as_the_stdlib_generator_writes_it(name: str, value: str) -> None:
    from bot.channels.mime import _Generator

    assert _flattened_or_error(_Generator, name, value) == _flattened_or_error(BytesGenerator, name, value)


def test_a_control_character_cannot_smuggle_in_a_header() -> None:
    value = "Acme\x0bBcc: boss@evil.example"
    parsed = message_from_bytes(build_email(_outgoing(customer=value), FROM, now=NOW), policy=compat32)
    assert parsed["Bcc"] is None
    assert str(make_header(decode_header(parsed["X-Dunbot-Customer"]))) == value


def test_every_encoded_word_is_at_most_75_characters_and_every_part_is_base64() -> None:
    import re

    long_name = "上海星河国际贸易有限公司华东区分公司" * 6
    raw = build_email(_outgoing(subject=long_name, customer=long_name, attachments=(NOTICE,)), FROM, now=NOW)
    words = re.findall(rb"=\?utf-8\?b\?[^?]*\?=", raw)
    assert len(words) > 10
    assert max(len(word) for word in words) <= 75
    # The boundary's "_" is outside the base64 alphabet: it cannot occur in a part while every
    # leaf part is base64.
    leaves = [part for part in message_from_bytes(raw, policy=default).walk() if not part.is_multipart()]
    assert len(leaves) == 3
    assert all(part["Content-Transfer-Encoding"] == "base64" for part in leaves)


def test_a_one_click_unsubscribe_link_is_written_whole_with_its_post_header() -> None:
    link = (
        "https://dunbot.xinghe.example/unsubscribe?m=dunbot.17.20260610%40xinghe.com.cn"
        "&t=3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    )
    message = _outgoing(unsubscribe=(link, "mailto:ar@xinghe.com.cn?subject=unsubscribe"))
    raw = build_email(message, FROM, now=NOW)
    assert raw == _stdlib_bytes(message)
    parsed = message_from_bytes(raw, policy=default)
    assert not parsed.defects
    # Too long for one line, the list starts on a folded line: the value's leading space is folding.
    assert parsed["List-Unsubscribe"].lstrip() == f"<{link}>, <mailto:ar@xinghe.com.cn?subject=unsubscribe>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # RFC 8058 §3.1, verbatim
    assert max(len(line) for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")) <= 998


@settings(max_examples=300, deadline=None)
@given(
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=120).filter(
        lambda s: s.strip() == s and not set(s) & set("<>,;:@")
    )
)
def test_any_display_name_round_trips_and_cannot_add_a_header(name: str) -> None:
    """Any display name [email] from_name accepts (no control characters) is in the From header as it is,
    and none can add a header."""
    raw = build_email(_outgoing(sender_name=name), FROM, now=NOW)
    assert raw == _stdlib_bytes(_outgoing(sender_name=name))
    parsed = message_from_bytes(raw, policy=compat32)
    assert parsed["Bcc"] is None and len(parsed.get_all("From")) == 1
    assert _sender(parsed["From"]) == (name, FROM)
