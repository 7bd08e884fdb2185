"""The reply classifier on the cases the corpus cannot show one by one: negations, our own opt-out hint
quoted back, relative dates in both languages and in the customer's timezone, amounts, conflicting
signals, headers and attachments."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.config.sections import InboundSettings
from bot.replies.classify import classify
from bot.replies.model import Attachment, Classification, DeliveryReport, Reply, ReplyKind

TODAY = date(2026, 12, 7)  # a Monday
SHANGHAI = "Asia/Shanghai"
CONFIRM_BELOW = InboundSettings().confirm_below


def sms(text: str, *, sent_at: datetime | None = None) -> Classification:
    reply = Reply(channel="sms", sender="+8613800138000", text=text, full_text=text, sent_at=sent_at)
    return classify(reply, today=TODAY, timezone=SHANGHAI)


@pytest.mark.parametrize(
    "text",
    [
        "don't stop, I need these reminders",
        "please do not unsubscribe me",
        "不是退订，我问一下余额",
        "不要退订我",
    ],
)
def test_a_negated_opt_out_is_no_opt_out_and_goes_to_a_collector(text: str) -> None:
    """ "Don't stop" and "不是退订" are not opt-outs; they are not acted on either, a collector reads them."""
    got = sms(text)
    assert got.kind == ReplyKind.OTHER
    assert got.confidence < CONFIRM_BELOW
    assert any("negated opt-out" in reason for reason in got.reasons)


@pytest.mark.parametrize(
    "text", ["I'm not interested stop", "No. STOP", "not interested, unsubscribe", "不需要，退订"]
)
def test_a_negation_elsewhere_in_the_message_keeps_the_opt_out(text: str) -> None:
    """A "not" that is not about the keyword does not hide an opt-out (recall comes first)."""
    got = sms(text)
    assert got.kind == ReplyKind.OPT_OUT
    assert got.confidence >= CONFIRM_BELOW


def test_our_hint_quoted_in_a_question_is_not_an_opt_out() -> None:
    """A customer who quotes "回复TD退订" / "Reply STOP to opt out" while asking something has not opted out."""
    assert sms("你们短信里说回复TD退订，我想先问下金额").kind == ReplyKind.OTHER
    assert sms("The text says Reply STOP to opt out, but what is my balance?").kind == ReplyKind.OTHER


def test_our_hint_sent_back_alone_is_an_opt_out() -> None:
    """A customer who sends our hint back as it is means it."""
    assert sms("回复TD退订").kind == ReplyKind.OPT_OUT


def test_the_quoted_history_of_an_email_is_not_read_for_an_opt_out() -> None:
    """Our reminder quoted under the customer's answer holds "回复TD退订" and "unsubscribe": the reply
    is the customer's promise, whether the parser removed the quote (text) or left it in."""
    own = "这笔款我们下周五安排支付，金额¥12,500.00。"
    quoted = "在 2026年12月5日 09:00，应收账款组 <ar@example.com> 写道：\n> 请尽快付款。\n> 回复TD退订\n"
    for text in (own, f"{own}\n\n{quoted}"):
        reply = Reply(channel="email", sender="a@example.cn", text=text, full_text=f"{own}\n\n{quoted}")
        got = classify(reply, today=TODAY, timezone=SHANGHAI)
        assert got.kind == ReplyKind.PROMISE, got
        assert got.promise_date == date(2026, 12, 18)
        assert got.promise_amount == Decimal("12500.00")
    outlook = "We will pay by the 20th.\n\n-----Original Message-----\nFrom: AR\nTo stop these e-mails, unsubscribe here"
    reply = Reply(channel="email", sender="b@example.com", text=outlook, full_text=outlook)
    assert classify(reply, today=TODAY, timezone=SHANGHAI).kind == ReplyKind.PROMISE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("下周五付款", date(2026, 12, 18)),
        ("周五前付", date(2026, 12, 11)),
        ("月底付", date(2026, 12, 31)),
        ("本月底付清", date(2026, 12, 31)),
        ("15号打款", date(2026, 12, 15)),
        ("3号发工资后付", date(2027, 1, 3)),
        ("下个月初付", date(2027, 1, 5)),
        ("下个月15号付款", date(2027, 1, 15)),
        ("1月10日前付清", date(2027, 1, 10)),
        ("明天转账", date(2026, 12, 8)),
        ("3天内付清", date(2026, 12, 10)),
        ("We will pay next Friday", date(2026, 12, 18)),
        ("we can pay this Friday", date(2026, 12, 11)),
        ("will pay end of month", date(2026, 12, 31)),
        ("Payment by the 20th", date(2026, 12, 20)),
        ("we will pay on the 5th", date(2027, 1, 5)),
        ("We'll pay on 20 December", date(2026, 12, 20)),
        ("will transfer by Dec 15", date(2026, 12, 15)),
        ("I'll pay next week", date(2026, 12, 14)),
        ("ill pay tmrw", date(2026, 12, 8)),
    ],
)
def test_relative_promise_dates_resolve_against_the_day_written(text: str, expected: date) -> None:
    """Relative dates in zh-CN and en resolve against Monday 2026-12-07: 下周五 and "next Friday" are
    next week's Friday, 月底 the month's last day, a day of the month already past is next month's."""
    got = sms(text)
    assert got.kind == ReplyKind.PROMISE, got
    assert got.promise_date == expected
    assert got.acknowledges_debt


def test_the_day_written_is_the_customers_day_in_their_timezone() -> None:
    """A reply sent at 20:00 UTC on 7 December was written on the 8th in Shanghai: its "明天" is the 9th;
    in New York it was still the 7th: "tomorrow" is the 8th. ``today`` is used only without a time."""
    evening_utc = datetime(2026, 12, 7, 20, 0, tzinfo=ZoneInfo("UTC"))
    assert sms("明天付款", sent_at=evening_utc).promise_date == date(2026, 12, 9)
    reply = Reply(channel="sms", sender="+12125550100", text="will pay tomorrow", sent_at=evening_utc)
    assert classify(reply, today=TODAY, timezone="America/New_York").promise_date == date(2026, 12, 8)
    assert sms("明天付款").promise_date == date(2026, 12, 8)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("本月底付¥12,500.00", Decimal("12500.00")),
        ("15号付12500元", Decimal("12500")),
        ("下周五先付1.2万", Decimal("12000")),
        ("20号付RMB 8000", Decimal("8000")),
        ("We'll pay USD 3,200 on 20 December", Decimal("3200")),
        ("月底付￥３０００", Decimal("3000")),
        ("will pay $1,500 by Dec 15", Decimal("1500")),
        ("invoice INV-2026-0412 will be paid by the 20th", None),
    ],
)
def test_promise_amounts_need_a_currency_mark(text: str, amount: Decimal | None) -> None:
    """Amounts with ¥, 元, 万, RMB, USD or $ are read (1.2万 is 12000, full-width digits fold); an
    invoice number or a date is no amount."""
    got = sms(text)
    assert got.kind == ReplyKind.PROMISE
    assert got.promise_amount == amount


def test_a_promise_without_a_date_or_hedged_or_asked_is_confirmed_by_a_collector() -> None:
    """ "我们会尽快付款" acknowledges the debt but names no date; "maybe", "可能" and a question mark lower
    the confidence too: none of them is acted on silently."""
    for text in ("我们会尽快付款", "maybe we can pay next week", "可能下周五付", "Can I pay on the 15th?"):
        got = sms(text)
        assert got.kind == ReplyKind.PROMISE
        assert got.acknowledges_debt
        assert got.confidence < CONFIRM_BELOW, text
    assert sms("下周五付款").confidence >= CONFIRM_BELOW


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("已付款，但是数量不对", ReplyKind.PAID),
        ("Already paid the part that arrived, the rest was damaged", ReplyKind.PAID),
        ("数量不对，其余的下周五付", ReplyKind.DISPUTE),
    ],
)
def test_conflicting_signals_lower_the_confidence(text: str, kind: ReplyKind) -> None:
    """A paid claim beside a dispute, or a dispute beside a promise, is given the first class in
    ReplyKind's order but below confirm_below, with both reasons for the collector."""
    got = sms(text)
    assert got.kind == kind
    assert got.confidence < CONFIRM_BELOW
    assert len(got.reasons) >= 2


def test_an_opt_out_wins_over_what_else_the_message_says() -> None:
    """ "Already paid. STOP": the opt-out acts (it must never be missed)."""
    got = sms("Already paid. STOP")
    assert got.kind == ReplyKind.OPT_OUT
    assert got.confidence >= CONFIRM_BELOW


def test_negated_payment_and_lookalike_words_are_not_signals() -> None:
    """ "Haven't paid yet" is no paid claim, "stopped" and "Ltd" are no STOP or TD, 不要发票 is no 不要发."""
    assert sms("Haven't paid yet, waiting for approval").kind == ReplyKind.OTHER
    assert sms("not been paid yet").kind == ReplyKind.OTHER
    assert sms("I can t pay this month").kind == ReplyKind.OTHER
    assert sms("Why was my service stopped?").kind == ReplyKind.OTHER
    assert sms("ABC Trading Ltd accounts here").kind == ReplyKind.OTHER
    assert sms("我们不要发票，直接报价").kind != ReplyKind.OPT_OUT


def test_a_delivery_report_is_a_bounce() -> None:
    """A reply carrying a DSN is a bounce, whatever its text says."""
    report = DeliveryReport("<m1@example.com>", "x@example.cn", "failed", "5.1.1", "user unknown")
    reply = Reply(channel="email", sender="mailer-daemon@example.cn", text="STOP", delivery_reports=(report,))
    got = classify(reply, today=TODAY, timezone=SHANGHAI)
    assert got.kind == ReplyKind.BOUNCE
    assert got.confidence >= CONFIRM_BELOW


def test_an_auto_submitted_reply_is_an_auto_reply_even_when_it_quotes_stop() -> None:
    """An RFC 3834 auto-reply that echoes our "Reply STOP" is no opt-out: no person wrote it."""
    reply = Reply(
        channel="email",
        sender="a@example.com",
        text="I am away. Your message: Reply STOP to opt out",
        auto_submitted="auto-replied",
    )
    got = classify(reply, today=TODAY, timezone=SHANGHAI)
    assert got.kind == ReplyKind.AUTO_REPLY
    assert got.confidence >= CONFIRM_BELOW


def test_out_of_office_text_without_headers_is_an_auto_reply() -> None:
    """ "I am out of the office", "自动回复" and "休假" make an auto-reply without RFC 3834 headers."""
    for text in (
        "I am out of the office until 14 December.",
        "【自动回复】您好，我稍后联系您",
        "我正在休假，12月15日回来",
    ):
        assert sms(text).kind == ReplyKind.AUTO_REPLY, text


def test_a_remittance_attachment_makes_a_sure_paid_claim() -> None:
    """ "Already paid" with a remittance advice attached is a paid claim with remittance=True, more
    certain than the words alone."""
    pdf = Attachment("Remittance_Advice_88231.pdf", "application/pdf", b"%PDF-1.4")
    with_pdf = Reply(
        channel="email", sender="ap@example.com", text="Already paid, see attached.", attachments=(pdf,)
    )
    got = classify(with_pdf, today=TODAY, timezone=SHANGHAI)
    assert got.kind == ReplyKind.PAID
    assert got.remittance
    assert got.confidence > sms("Already paid, see attached.").confidence >= CONFIRM_BELOW
    assert not sms("Already paid, see attached.").remittance


def test_language_and_acknowledgement() -> None:
    """The language is told from the script; an admission of the debt is marked even without a promise,
    and a denial of it is not."""
    admission = sms("我知道欠你们钱，但最近实在困难")
    assert (admission.kind, admission.language, admission.acknowledges_debt) == (
        ReplyKind.OTHER,
        "zh-CN",
        True,
    )
    denial = sms("We don't owe you anything, this is not our order")
    assert (denial.kind, denial.language, denial.acknowledges_debt) == (ReplyKind.DISPUTE, "en", False)


@pytest.mark.parametrize("text", ["谢谢，T", "T 谢谢", "已付 T"])
def test_chinese_t_beside_other_words_is_an_opt_out(text: str) -> None:
    """China's one-letter keyword counts beside other words in a Chinese message."""
    assert sms(text).kind == ReplyKind.OPT_OUT


@pytest.mark.parametrize("text", ["I can t pay this month", "买了一件T恤的钱还没付"])
def test_a_t_that_is_part_of_something_else_is_no_opt_out(text: str) -> None:
    """A typo's lone "t" in English and the T of T恤 are not the keyword."""
    assert sms(text).kind != ReplyKind.OPT_OUT


def test_a_stop_not_said_to_us_is_confirmed_by_a_collector() -> None:
    """ "Production had to stop" in a long message is kept as an opt-out (none is missed) but below
    confirm_below; "please stop texting me" in the same kind of message is acted on."""
    unsure = sms("Our production line had to stop for two weeks after the fire, we will pay on the 20th")
    assert unsure.kind == ReplyKind.OPT_OUT
    assert unsure.confidence < CONFIRM_BELOW
    sure = sms("We have been customers for years and this is too much, please stop texting me every day")
    assert sure.kind == ReplyKind.OPT_OUT
    assert sure.confidence >= CONFIRM_BELOW


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("圣诞前付款", date(2026, 12, 25)),
        ("will pay before Christmas", date(2026, 12, 25)),
        ("元旦前付", date(2027, 1, 1)),
    ],
)
def test_holidays_with_a_fixed_date_are_promise_dates(text: str, expected: date) -> None:
    """Christmas and New Year's Day (圣诞, 元旦) have fixed dates; "before X" is read as by X."""
    assert sms(text).promise_date == expected


def test_a_payment_made_last_friday_is_no_promise() -> None:
    """ "上周五已经转账" names a past Friday and a payment made: a sure paid claim, not a conflict with a
    promise for this Friday."""
    got = sms("这笔款上周五已经转账了，请查收")
    assert got.kind == ReplyKind.PAID
    assert got.confidence >= CONFIRM_BELOW


def test_the_signature_and_its_disclaimer_are_not_read() -> None:
    """A disclaimer under the "-- " separator ("if you received it in error, delete it") neither hedges
    the promise above it nor adds words of its own."""
    text = "Both invoices will be paid at the end of the month.\n\n-- \nPriya | Meridian Foods\nIf you received this in error, delete it."
    reply = Reply(channel="email", sender="p@example.co.uk", text=text, full_text=text)
    got = classify(reply, today=TODAY, timezone=SHANGHAI)
    assert (got.kind, got.promise_date) == (ReplyKind.PROMISE, date(2026, 12, 31))
    assert got.confidence >= CONFIRM_BELOW


def _full_width(text: str) -> str:
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


_OPT_OUT_FORMS = ["STOP", "stop", "TD", "T", "退订", "T退订", "TD退订", "unsubscribe", "取消订阅", "请勿再发"]


_CASES: list[Callable[[str], str]] = [str.upper, str.lower, str.title, str]
_BEFORE = ["", " ", "\n", "您好，", "请", "麻烦", "pls ", "please ", "🙄 ", "!!"]
_AFTER = ["", ".", "。", "！", "!!!", " 谢谢", " thanks", " 😡", "\n", " pls"]


def test_every_dressing_of_an_opt_out_keyword_is_an_opt_out() -> None:
    """Opt-out recall under the dressings SMS replies come in, every combination tried: any case,
    full-width letters, polite words, punctuation and emoji around STOP, TD, T, 退订, unsubscribe,
    取消订阅, 请勿再发."""
    missed = []
    for form, case, full_width, before, after in itertools.product(
        _OPT_OUT_FORMS, _CASES, (False, True), _BEFORE, _AFTER
    ):
        keyword = case(form)
        text = before + (_full_width(keyword) if full_width else keyword) + after
        if sms(text).kind != ReplyKind.OPT_OUT:
            missed.append(text)
    assert not missed, missed[:20]


def email(text: str, subject: str = "RE: Invoice INV-7 is past due") -> Classification:
    reply = Reply(channel="email", sender="ap@example.com", subject=subject, text=text, full_text=text)
    return classify(reply, today=TODAY, timezone=SHANGHAI)


def test_traditional_chinese_is_read_with_the_simplified_rules() -> None:
    """Big5 mail from Hong Kong or Taiwan says the same things in other characters: 請勿再發送 is an
    opt-out, 已經電匯 a payment, 下週五付款 a promise for next week's Friday."""
    assert email("以後請勿再發送這類通知給我們。").kind == ReplyKind.OPT_OUT
    assert email("貨款已於上週五電匯,請查收。").kind == ReplyKind.PAID
    got = email("我們會在下週五付款。")
    assert (got.kind, got.promise_date) == (ReplyKind.PROMISE, date(2026, 12, 18))


def test_an_opt_out_said_only_in_the_subject_is_an_opt_out() -> None:
    """A mail whose subject is a keyword ("Unsubscribe", "回复：退订") opts out, whether its body is empty
    or not; a subject that merely starts our own thread ("RE: Stop-loss report") does not."""
    assert email("", subject="Unsubscribe").kind == ReplyKind.OPT_OUT
    assert email("谢谢", subject="回复：退订").kind == ReplyKind.OPT_OUT
    assert email("Please call me about it.", subject="RE: Stop-loss report").kind == ReplyKind.OTHER
    assert email("", subject="Paid").kind == ReplyKind.PAID


def test_refusing_goods_at_the_warehouse_is_a_dispute_not_an_opt_out() -> None:
    """拒收 is China's SMS keyword, and also what a warehouse does with the wrong goods."""
    assert email("型号不对,仓库拒收了,这张发票我们不认。").kind == ReplyKind.DISPUTE
    assert email("以后这类邮件我们拒收。").kind == ReplyKind.OPT_OUT


def test_a_paying_verb_in_the_future_is_a_promise_not_a_payment() -> None:
    """ "will be paid on 22 December" names a day to come; "was paid on Friday" one gone."""
    got = email("Both invoices will be paid on 22 December via SEPA.")
    assert (got.kind, got.promise_date) == (ReplyKind.PROMISE, date(2026, 12, 22))
    assert email("Both invoices were paid on Friday via SEPA.").kind == ReplyKind.PAID


def test_the_promise_date_is_the_one_said_with_the_promise() -> None:
    """A date named before the promise about something else ("out this week") does not become the
    promise date; a date said before the verb in Chinese (本周五之前…会把…打到) still does."""
    got = email("Anna is away this week, but the EUR 2,400.50 will be remitted on the 21st.")
    assert (got.kind, got.promise_date, got.promise_amount) == (
        ReplyKind.PROMISE,
        date(2026, 12, 21),
        Decimal("2400.50"),
    )
    got = email("下周三之前我们会把¥3,000.00转到贵司账户。")
    assert (got.promise_date, got.promise_amount) == (date(2026, 12, 16), Decimal("3000.00"))
    assert email("尽快安排付款,最迟不超过本月。").promise_date == date(2026, 12, 31)


def test_a_colleague_or_a_person_on_leave_is_not_an_autoresponder() -> None:
    """Leave said of someone else (张三下周起休年假) or by a person who has read the mail ("will check
    this when I'm back") is a message for a collector; "我正在休假" alone is an auto-reply."""
    assert email("张三下周起休年假,期间请联系李四。").kind == ReplyKind.OTHER
    assert email("I'm on holiday until Monday, will check this when I'm back.").kind == ReplyKind.OTHER
    assert email("我正在休假，12月15日返回。").kind == ReplyKind.AUTO_REPLY


@pytest.mark.parametrize(
    "text",
    [
        "The unit price is USD 3.10 but our PO says USD 2.90. Please correct and reissue.",
        "We do not recognise this invoice and have no purchase order for it.",
        "The pumps failed our incoming inspection; payment is withheld until they are replaced.",
        "The invoice doesn't match the quote we signed.",
        "订单我们上个月已经取消了,不存在欠款。",
        "设备还没有通过验收,现在没到付款条件。",
        "税率开错了,请红冲后重新开票。",
    ],
)
def test_ways_of_contesting_an_invoice_are_disputes(text: str) -> None:
    """A price against the PO, an invoice not recognised, failed inspection, a cancelled order, an
    acceptance not passed, a wrong tax rate: each contests the invoice."""
    assert email(text).kind == ReplyKind.DISPUTE


def test_a_payment_method_is_no_promise_date() -> None:
    """ "Payment by credit card?" asks how to pay; "payment by Friday" promises."""
    assert email("Do you take payment by credit card?").kind == ReplyKind.OTHER
    assert email("Payment by Friday.").kind == ReplyKind.PROMISE


@pytest.mark.parametrize(
    "text",
    [
        "请不要再给这个邮箱发催款邮件。",
        "请把这个邮箱从你们的名单里删除。",
        "Please remove this address from your list.",
    ],
)
def test_an_opt_out_said_of_the_address_is_an_opt_out(text: str) -> None:
    """ "Don't mail this mailbox", "take this address off your list": the address, not "me", opts out."""
    assert email(text).kind == ReplyKind.OPT_OUT


def test_an_address_deleted_from_a_document_is_no_opt_out() -> None:
    """ "Delete this address from the invoice header" changes a document, not the mailing."""
    assert email("Please delete this address from the invoice header and use our new one.").kind == (
        ReplyKind.OTHER
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The transfer should go out next Tuesday.", date(2026, 12, 15)),
        ("Payment is due to be released on the 15th.", date(2026, 12, 15)),
        ("We'll have the money to you by the 18th.", date(2026, 12, 18)),
        ("Confirming payment of USD 900 on 22 December.", date(2026, 12, 22)),
    ],
)
def test_a_payment_said_of_the_future_is_a_promise(text: str, expected: date) -> None:
    """A transfer that "should go out", a payment "due to be released", money we "will have to you":
    each a promise with its date."""
    got = email(text)
    assert (got.kind, got.promise_date) == (ReplyKind.PROMISE, expected)


@pytest.mark.parametrize(
    ("text", "promised"),
    [
        ("因本月资金安排，我司将于下周五前支付全部欠款。", date(2026, 12, 18)),
        ("月底前资金紧张，我们下周三付款。", date(2026, 12, 16)),
    ],
)
def test_the_promised_date_is_the_one_the_paying_verb_follows(text: str, promised: date) -> None:
    """An earlier date phrase that only gives a reason (本月资金安排) is not the promised day: the date
    the verb of paying follows is."""
    found = sms(text)
    assert found.kind is ReplyKind.PROMISE and found.promise_date == promised
