"""Raw inbound mail into a Reply (bot/replies/parse.py): the corpus, and each hard shape on its own."""

from __future__ import annotations

import base64
import csv
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.replies.model import ReplyKind
from bot.replies.parse import parse_email, sms_reply
from bot.replies.quotes import strip_history

CORPUS = Path(__file__).resolve().parents[1] / "data" / "replies"
EMAILS = sorted((CORPUS / "email").glob("*.eml"))


def _corpus(name: str) -> bytes:
    return (CORPUS / "email" / f"{name}.eml").read_bytes()


def _labels() -> dict[str, dict[str, str]]:
    with (CORPUS / "labels.csv").open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


# ---- the corpus ----


def test_labels_file_has_the_agreed_header_and_one_valid_row_per_email() -> None:
    """labels.csv keeps the header both halves of the corpus share, and every .eml has exactly one row
    whose kind is a ReplyKind, whose date is ISO and on/after today, and whose amount is a decimal."""
    with (CORPUS / "labels.csv").open(encoding="utf-8") as handle:
        assert handle.readline().strip() == "file,kind,promise_date,promise_amount,acknowledges_debt,notes"
    labels = _labels()
    email_rows = {name for name in labels if name.startswith("email/")}
    assert email_rows == {f"email/{path.name}" for path in EMAILS}
    assert len(EMAILS) >= 170
    for name in email_rows:
        row = labels[name]
        ReplyKind(row["kind"])
        assert row["acknowledges_debt"] in ("yes", "no"), name
        if row["promise_date"]:
            assert date.fromisoformat(row["promise_date"]) >= date(2026, 12, 7), name
        if row["promise_amount"]:
            assert Decimal(row["promise_amount"]) > 0, name
        if row["kind"] != ReplyKind.PROMISE:
            assert not row["promise_date"] and not row["promise_amount"], name


@pytest.mark.parametrize("path", EMAILS, ids=[path.stem for path in EMAILS])
def test_every_corpus_email_parses_cleanly(path: Path) -> None:
    """Each corpus e-mail gives a sender, something to read, no charset problem, a Date in +08:00, and
    delivery reports exactly when it is labelled a bounce."""
    reply = parse_email(path.read_bytes())
    kind = _labels()[f"email/{path.name}"]["kind"]
    assert reply.channel == "email"
    assert "@" in reply.sender and reply.sender == reply.sender.lower()
    assert reply.text or reply.subject
    assert reply.charset_problems == ()
    assert reply.sent_at is not None and reply.sent_at.utcoffset() is not None
    assert bool(reply.delivery_reports) == (kind == ReplyKind.BOUNCE)
    assert "\ufffd" not in reply.text + reply.subject
    assert reply.text in reply.full_text or reply.text == reply.full_text.strip()


# ---- charsets and headers ----


def test_gb2312_subject_and_base64_body_decode() -> None:
    """A GB2312-labelled reply (RFC 2047 B-encoded subject and sender, base64 body) reads as Chinese, with
    the full-width yuan amount intact and the Outlook-quoted letter out of the text."""
    reply = parse_email(_corpus("zh_promise_01"))
    assert reply.subject.startswith("回复：付款安排沟通：发票 HY-2026-1032 已逾期")
    assert reply.sender == "wangli@hengda-jd.example"
    assert "预计下周五付款" in reply.text and "￥12,500.00" in reply.text
    assert "尊敬的" not in reply.text and "尊敬的上海恒达机电设备有限公司" in reply.full_text


def test_gbk_characters_under_a_gb2312_label_are_read_with_gb18030() -> None:
    """镕 and 喆 are not in GB2312 but clients send them under that label: they decode, no problem noted."""
    body = "朱镕基 喆 已付款".encode("gb18030")
    raw = (
        b"From: a@b.example\r\nSubject: =?gb2312?B?"
        + base64.b64encode("陶喆 付款".encode("gb18030"))
        + b"?=\r\n"
        b"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body
    )
    reply = parse_email(raw)
    assert reply.subject == "陶喆 付款"
    assert reply.text == "朱镕基 喆 已付款"
    assert reply.charset_problems == ()


def test_big5_body_and_raw_8bit_header_decode() -> None:
    """A Big5 body decodes with big5hkscs; a subject sent as raw 8-bit GBK without RFC 2047 still reads."""
    raw = (
        b"From: x@y.example\r\nSubject: " + "回复：已付款".encode("gbk") + b"\r\n"
        b"Content-Type: text/plain; charset=big5\r\n\r\n" + "付過了，水單見附件。".encode("big5")
    )
    reply = parse_email(raw)
    assert reply.subject == "回复：已付款"
    assert reply.text == "付過了，水單見附件。"
    assert reply.charset_problems == ()


def test_undecodable_part_is_named_in_charset_problems_not_raised() -> None:
    """Bytes that are not valid in their declared charset are replaced and the part is reported."""
    raw = (
        b"From: x@y.example\r\nSubject: =?utf-8?B?/w==?=\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nwe paid \xff\xfe on friday"
    )
    reply = parse_email(raw)
    assert "we paid" in reply.text and "on friday" in reply.text
    assert any(problem.startswith("part 1 (text/plain; charset=utf-8)") for problem in reply.charset_problems)
    assert any(problem.startswith("header Subject") for problem in reply.charset_problems)


@pytest.mark.parametrize("label", [b"x-made-up", b"\xff\xfegb", b"gb\x002312"])
def test_unknown_charset_label_is_reported_and_text_still_read(label: bytes) -> None:
    """An unknown charset label (even one of 8-bit bytes or a NUL) falls back to UTF-8/GB18030 guessing
    and says so."""
    raw = b"From: x@y.example\r\nContent-Type: text/plain; charset=" + label + b"\r\n\r\n" + "已付款".encode()
    reply = parse_email(raw)
    assert reply.text == "已付款"
    assert reply.charset_problems  # the part (or, for 8-bit bytes, the Content-Type header itself)


def test_rfc2047_q_encoding_and_mixed_words() -> None:
    """Q-encoded words, adjacent words joined without their whitespace, plain text kept between."""
    raw = (
        b"From: =?utf-8?Q?Ch=C3=A9n_J=C3=ACng?= <Chen.Jing@Xinyu-Pack.example>\r\n"
        b"Subject: RE: =?utf-8?B?5LuY5qy+?= =?utf-8?B?5o+Q6YaS?= (ref. DN-1)\r\n\r\nok"
    )
    reply = parse_email(raw)
    assert reply.subject == "RE: 付款提醒 (ref. DN-1)"
    assert reply.sender == "chen.jing@xinyu-pack.example"


def test_an_encoded_display_name_holding_an_address_does_not_become_the_sender() -> None:
    """A display name like "陈静 <old@x.example>, 财务部" arrives RFC 2047-encoded; decoded first it
    would split into addresses, so addresses are read from the header as sent."""
    name = base64.b64encode("陈静 <old@x.example>, 财务部".encode()).decode()
    raw = f"From: =?utf-8?B?{name}?= <Chen@X.example>\r\nTo: =?utf-8?B?{name}?= <ar@huayu.example>\r\n\r\nok"
    reply = parse_email(raw.encode())
    assert (reply.sender, reply.recipients) == ("chen@x.example", ("ar@huayu.example",))


def test_recipients_are_to_cc_delivered_to_and_x_original_to_lower_cased_once() -> None:
    """Tags are looked for in every recipient header; each address once, lower-cased, in header order."""
    raw = (
        b"From: A <a@x.example>\r\nTo: AR <Reply+Tag1@Huayu.example>, b@x.example\r\nCc: c@x.example\r\n"
        b"Delivered-To: reply+tag1@huayu.example\r\nX-Original-To: reply+TAG2@huayu.example\r\n"
        b"Message-ID: <m1@x.example>\r\nIn-Reply-To: <o1@huayu.example>\r\n"
        b"References: <o0@huayu.example>\r\n <o1@huayu.example>\r\nDate: Mon, 07 Dec 2026 10:00:00 +0800\r\n\r\nhi"
    )
    reply = parse_email(raw)
    assert reply.recipients == (
        "reply+tag1@huayu.example",
        "b@x.example",
        "c@x.example",
        "reply+tag2@huayu.example",
    )
    assert reply.header_message_id == "<m1@x.example>"
    assert reply.in_reply_to == "<o1@huayu.example>"
    assert reply.references == ("<o0@huayu.example>", "<o1@huayu.example>")
    assert reply.sent_at == datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    assert reply.sent_at.utcoffset() == timedelta(hours=8)


# ---- bodies ----


def test_html_only_reply_becomes_text_without_the_quoted_letter() -> None:
    """An HTML-only Outlook reply: text is what the customer wrote, no tags, the From:/Sent: block cut."""
    reply = parse_email(_corpus("en_paid_09"))
    assert reply.text.startswith("Hi,\n\nWe settled HKD 38,600 on 1 Dec")
    assert "<" not in reply.text and "From:" not in reply.text
    assert "Dear Kowloon Lighting Ltd" in reply.full_text


def test_multipart_alternative_prefers_the_plain_part_and_falls_back_to_html() -> None:
    """With both, the text/plain alternative is read; with an empty plain part, the HTML one is."""
    both = parse_email(_corpus("en_promise_05"))
    assert "USD 10,000 this Friday" in both.text
    raw = (
        b'From: a@x.example\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n \r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>We will pay <b>on Friday</b>.</p>\r\n--b--\r\n"
    )
    assert parse_email(raw).text == "We will pay on Friday."


def test_format_flowed_lines_are_joined_back_into_sentences() -> None:
    """RFC 3676: soft breaks (a trailing space) join, quoted depth is kept apart, delsp=yes drops the
    space, and the "-- " signature separator is not a soft break."""
    body = (
        b"We will pay the USD 3,200 \r\non 18 December.\r\n\r\n-- \r\nEmma\r\n\r\n"
        b"On Fri, 4 Dec 2026 at 10:00, AR <ar@x.example> wrote:\r\n> Invoice HY-1 is \r\n> past due.\r\n"
    )
    raw = b"From: e@x.example\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n" + body
    reply = parse_email(raw)
    assert reply.text == "We will pay the USD 3,200 on 18 December."
    assert "> Invoice HY-1 is past due." in reply.full_text
    chinese = "我们下周五\r\n付款。".replace("\r\n", " \r\n").encode()
    raw = (
        b"From: e@x.example\r\nContent-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n\r\n"
        + chinese
    )
    assert parse_email(raw).text == "我们下周五付款。"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("zh_optout_01", "退订"),  # QQ Mail: ------------------ 原始邮件 ------------------
        (
            "zh_optout_03",
            "请将本邮箱从你们的发送名单中删除，以后不要再发此类邮件。",
        ),  # Foxmail: 发件人： full-width
        (
            "zh_paid_09",
            "这笔钱我们早就付了，是用承兑汇票支付的，汇票号码 1304 2900 0012 3456，请贵司财务核实。",
        ),
        ("zh_promise_04", "赵总已签字，款项4,860.50元明天安排转账。"),  # 在 … 写道：
        ("zh_optout_09", "麻烦取消订阅，我们不需要这类提醒邮件，付款我们会按合同走流程。"),  # 回复的原邮件
        ("zh_optout_06", "退订，谢谢。"),  # 发自我的iPhone dropped
        (
            "en_promise_04",
            "Tom here - the cheque for $1,860 goes out tomorrow.",
        ),  # wrapped "On …\n<…> wrote:"
        ("en_paid_12", "Paid yesterday, thanks."),  # ">" lines
        (
            "en_optout_07",
            "Kindly take us off your distribution list for payment reminders. We pay on our own schedule under the supply agreement.",
        ),
    ],
)
def test_quoted_history_is_cut_in_each_client_shape(name: str, expected: str) -> None:
    """Each client's way of quoting (zh and en) is removed from text and kept in full_text."""
    reply = parse_email(_corpus(name))
    assert reply.text == expected
    assert len(reply.full_text) > len(reply.text)


def test_signature_is_removed_from_text_but_kept_in_full_text() -> None:
    """A closing and the lines under it (name, company, phone) leave text; full_text keeps them."""
    english = parse_email(_corpus("en_promise_01"))
    assert english.text.endswith("scheduled for our payment run next Friday.")
    assert "+44 20 7946 0123" in english.full_text
    chinese = parse_email(_corpus("zh_promise_03"))
    assert chinese.text == "收到。我们公司每月15号统一付款，这张发票会排在15号付，金额36,720元。"
    assert "此致" in chinese.full_text


def test_legal_footers_leave_the_text() -> None:
    """A disclaimer under the signature (en and zh) is cut with it, so its words ("reply UNSUBSCRIBE",
    "删除") never reach the classifier; full_text keeps it."""
    english = parse_email(_corpus("en_dispute_18"))
    assert "UNSUBSCRIBE" not in english.text and "reply UNSUBSCRIBE" in english.full_text
    assert english.text.startswith("The rate charged for expedited freight was never agreed.")
    chinese = parse_email(_corpus("zh_promise_22"))
    assert chinese.text == "您好，\n\n贵司发票HY-2026-1120已列入我司12月18日的付款计划，金额15,600元。"
    assert "免责声明" in chinese.full_text


def test_forwarded_remittance_advice_stays_in_text() -> None:
    """A forward the customer sends on purpose is their text: its From:/Date: block does not cut it."""
    reply = parse_email(_corpus("en_paid_03"))
    assert "Total paid: USD 7,950.00" in reply.text
    assert "付款成功通知" in parse_email(_corpus("zh_paid_05")).text


def test_strip_history_keeps_a_reply_that_is_only_a_closing() -> None:
    """A reply that is nothing but "Thanks," is not emptied by the signature rule."""
    assert strip_history("Thanks,\n\nOn Fri, 4 Dec 2026, AR <ar@x.example> wrote:\n> pay") == "Thanks,"


def test_strip_history_keeps_a_wrote_line_without_a_date() -> None:
    """ "Our bank wrote:" in the customer's own words is not an attribution line (no date in it)."""
    text = "Our bank wrote:\nPayment of USD 945 released.\n\nOn Fri, 4 Dec 2026 at 10:00, AR <ar@x.example> wrote:\n> x"
    assert strip_history(text) == "Our bank wrote:\nPayment of USD 945 released."


def test_strip_history_outlook_zh_block_without_separator() -> None:
    """发件人/发送时间/收件人/主题 in sequence starts history even with no rule line above it."""
    text = "好的，本周五付款。\n\n发件人: 华宇 <ar@x.example>\n发送时间: 2026年12月4日 10:00\n收件人: 王丽\n主题: 付款提醒\n\n旧信"
    assert strip_history(text) == "好的，本周五付款。"


# ---- attachments ----


def test_remittance_pdf_with_rfc2047_gbk_filename_is_kept() -> None:
    """A GBK-encoded attachment name decodes, and the PDF bytes come through whole."""
    reply = parse_email(_corpus("zh_paid_02"))
    assert [(a.filename, a.content_type) for a in reply.attachments] == [("银行回单.pdf", "application/pdf")]
    assert reply.attachments[0].data.startswith(b"%PDF-1.4") and reply.attachments[0].data.rstrip().endswith(
        b"%%EOF"
    )


def test_image_attachments_are_kept_in_order() -> None:
    """Photos of damaged goods are attachments, not text."""
    reply = parse_email(_corpus("en_dispute_04"))
    assert [a.filename for a in reply.attachments] == ["pallet_damage_1.jpg", "pallet_damage_2.jpg"]
    assert all(a.data.startswith(b"\x89PNG") for a in reply.attachments)


# ---- automatic messages ----


def test_auto_submitted_and_exchange_headers_are_reported() -> None:
    """Exchange's out-of-office: Auto-Submitted value, X-Auto-Response-Suppress and its subject prefix."""
    reply = parse_email(_corpus("en_ooo_01"))
    assert reply.auto_submitted == "auto-replied"
    assert reply.auto_headers == ("X-Auto-Response-Suppress", "Subject")


def test_vacation_headers_without_auto_submitted() -> None:
    """X-Autoreply and Precedence: auto_reply are seen when Auto-Submitted is absent."""
    reply = parse_email(_corpus("en_ooo_03"))
    assert reply.auto_submitted is None
    assert reply.auto_headers == ("X-Autoreply", "Precedence", "Subject")
    assert parse_email(_corpus("zh_ooo_02")).auto_headers == ("Subject",)  # QQ Mail: 自动回复: only


def test_auto_submitted_no_and_a_human_reply_carry_no_automatic_signs() -> None:
    """Auto-Submitted: no (RFC 3834 §5) is a human message; Precedence: list is not an auto-reply."""
    raw = b"From: a@x.example\r\nAuto-Submitted: no\r\nPrecedence: list\r\nSubject: RE: invoice\r\n\r\nok"
    reply = parse_email(raw)
    assert reply.auto_submitted is None and reply.auto_headers == ()
    params = parse_email(b"From: a@x.example\r\nAuto-Submitted: Auto-Generated; owner-email=x@y\r\n\r\n.")
    assert params.auto_submitted == "auto-generated"


# ---- delivery status notifications ----


def test_postfix_dsn_gives_the_original_message_id_and_a_hard_5_1_1() -> None:
    """Postfix's bounce: one failed recipient, 5.1.1, its diagnostic unfolded, the original Message-ID
    from the returned message/rfc822."""
    reply = parse_email(_corpus("postfix_dsn_01"))
    (report,) = reply.delivery_reports
    assert report.original_message_id == "<a1c0f3d2e9b4.dunning@huayu-supply.example>"
    assert report.recipient == "wangli@hengda-jd.example"
    assert (report.action, report.status, report.hard) == ("failed", "5.1.1", True)
    assert report.diagnostic.startswith("550 5.1.1 <wangli@hengda-jd.example>: Recipient address rejected")
    assert "\n" not in report.diagnostic
    assert reply.auto_submitted == "auto-replied"
    assert reply.attachments[0].content_type == "message/rfc822"


def test_postfix_dsn_with_headers_only_and_two_recipients() -> None:
    """text/rfc822-headers gives the original Message-ID too; a DSN for To and Cc gives two reports."""
    headers_only = parse_email(_corpus("postfix_dsn_02")).delivery_reports
    assert [(r.original_message_id, r.status) for r in headers_only] == [
        ("<b7e21c90d4aa.dunning@huayu-supply.example>", "5.2.2")
    ]
    two = parse_email(_corpus("postfix_dsn_05")).delivery_reports
    assert [r.recipient for r in two] == ["zhoujie@huateng-e.example", "caiwu@huateng-e.example"]
    assert all(r.hard for r in two)


def test_delayed_dsns_are_not_hard() -> None:
    """Postfix's 'Delayed Mail' (4.4.1) and Exchange's 4.4.7 are reported with action delayed, not hard."""
    for name, status in (("postfix_dsn_03", "4.4.1"), ("exchange_ndr_05", "4.4.7")):
        (report,) = parse_email(_corpus(name)).delivery_reports
        assert (report.action, report.status, report.hard) == ("delayed", status, False)


def test_exchange_ndr_online_and_on_premises() -> None:
    """Exchange Online (5.1.10, returned headers) and on-premises in Chinese (whole message returned)."""
    online = parse_email(_corpus("exchange_ndr_01"))
    (report,) = online.delivery_reports
    assert (report.recipient, report.status, report.hard) == ("ap@northgate-fab.example", "5.1.10", True)
    assert report.original_message_id == "<0a1b2c3d4e5f.dunning@huayu-supply.example>"
    assert report.diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")
    assert online.text.startswith("Your message to ap@northgate-fab.example couldn't be delivered.")
    on_premises = parse_email(_corpus("exchange_ndr_03"))
    assert on_premises.subject.startswith("无法送达: 付款安排沟通")
    assert (
        on_premises.delivery_reports[0].original_message_id == "<2c3d4e5f6071.dunning@huayu-supply.example>"
    )


def test_dsn_without_returned_headers_falls_back_to_in_reply_to() -> None:
    """When the returned part is missing, the DSN's own In-Reply-To (Exchange sets it) names the original."""
    raw = (
        b"From: postmaster@x.example\r\nIn-Reply-To: <orig-1@huayu.example>\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        b"--r\r\nContent-Type: text/plain\r\n\r\nundeliverable\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x.example\r\n\r\n"
        b"Final-Recipient: rfc822; <Gone@X.example>\r\nAction: failed\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n--r--\r\n"
    )
    (report,) = parse_email(raw).delivery_reports
    assert report.original_message_id == "<orig-1@huayu.example>"
    assert (report.recipient, report.status, report.diagnostic) == (
        "gone@x.example",
        "5.1.1",
        "550 5.1.1 no such user",
    )


# ---- malformed input ----


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b"From: <>\r\nDate: not a date\r\nSubject: =?x-nope?Q?=ZZ?=\r\n\r\nbody",
        b'From: a@x.example\r\nContent-Type: multipart/mixed; boundary="never-closed"\r\n\r\n--never-closed\r\n'
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!",
        b"From: a@x.example\r\nContent-Type: multipart/report; report-type=delivery-status\r\n\r\nno boundary",
        b'From: a@x.example\r\nContent-Type: multipart/report; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@\r\n--b--",
        b"this line has no colon\r\nFrom a@x.example\r\n\r\n",
    ],
)
def test_malformed_mail_gives_a_reply_never_an_exception(raw: bytes) -> None:
    """Broken headers, bodies, boundaries and encodings produce a Reply with what could be read."""
    reply = parse_email(raw)
    assert reply.channel == "email"
    assert reply.sent_at is None


@settings(max_examples=150, deadline=None)
@given(
    cut=st.integers(min_value=0, max_value=6000),
    name=st.sampled_from(["postfix_dsn_01", "exchange_ndr_03", "zh_paid_02"]),
)
def test_truncated_corpus_mail_never_raises(cut: int, name: str) -> None:
    """A message cut anywhere (a connection dropped mid-fetch) still parses."""
    reply = parse_email(_corpus(name)[:cut])
    assert reply.channel == "email"


_MIME_TOKENS = [
    b"=?",
    b"?=",
    b"=?gb2312?B?",
    b"\r\n",
    b"--",
    b";",
    b":",
    b"<",
    b'"',
    b"\xff",
    b"\x00",
    b"boundary=",
    b"charset=",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: message/delivery-status\r\n",
    b"\r\n\r\n",
]


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from([path.stem for path in EMAILS]),
    edits=st.lists(
        st.tuples(
            st.floats(0, 1),
            st.one_of(st.sampled_from(_MIME_TOKENS), st.binary(max_size=6), st.integers(1, 40)),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_corrupted_corpus_mail_never_raises(name: str, edits: list[tuple[float, bytes | int]]) -> None:
    """Corpus mail with MIME tokens, stray bytes inserted or spans deleted anywhere still parses. (A fuzz
    run of 45,000 such edits found 8-bit charset names and unwritable embedded messages raising; both are
    handled where they arise, and an unreadable part is reported, not raised.)"""
    raw = bytearray(_corpus(name))
    for where, edit in edits:
        position = int(where * len(raw))
        if isinstance(edit, int):
            del raw[position : position + edit]
        else:
            raw[position:position] = edit
    assert parse_email(bytes(raw)).channel == "email"


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    """Whatever arrives, parse_email returns a Reply."""
    assert parse_email(raw).channel == "email"


# ---- SMS ----


def test_sms_reply_keeps_the_body_as_text() -> None:
    """An SMS reply: channel sms, the number as sender, the body (trimmed) as text and full_text."""
    at = datetime(2026, 12, 7, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    reply = sms_reply(" +8613812345678 ", "退订\r\n", at)
    assert (reply.channel, reply.sender, reply.text, reply.full_text, reply.sent_at) == (
        "sms",
        "+8613812345678",
        "退订",
        "退订",
        at,
    )


def test_corpus_covers_every_shape_the_issue_names() -> None:
    """The corpus has GB2312, GBK and Big5 mail, HTML-only mail, base64 and quoted-printable bodies,
    Postfix and Exchange DSNs, out-of-office with and without Auto-Submitted, and remittance PDFs."""
    contents = [path.read_bytes() for path in EMAILS]

    def count(pattern: bytes) -> int:
        return sum(1 for raw in contents if re.search(pattern, raw, re.IGNORECASE | re.MULTILINE))

    assert count(rb"charset=gb2312") >= 10 and count(rb"charset=gbk") >= 10 and count(rb"charset=big5") >= 3
    assert count(rb"^Content-Type: text/(plain|html).*\r\nContent-Transfer-Encoding: base64") >= 20
    assert count(rb"Content-Transfer-Encoding: quoted-printable") >= 15
    assert count(rb"application/pdf") >= 8
    assert count(rb"X-Postfix-Queue-ID") >= 5 and count(rb"X-MS-Exchange-Message-Is-Ndr") >= 5
    html_only = [raw for raw in contents if b"text/html" in raw and b"text/plain" not in raw]
    assert len(html_only) >= 10
    labels = _labels()
    ooo = [
        name
        for name, row in labels.items()
        if row["kind"] == ReplyKind.AUTO_REPLY and name.startswith("email/")
    ]
    with_header = [name for name in ooo if b"Auto-Submitted:" in (CORPUS / name).read_bytes()]
    assert 0 < len(with_header) < len(ooo)
