"""SMS segment counting: GSM-7 (160/153 septets) versus UCS-2 (70/67 UTF-16 code units)."""

from __future__ import annotations

import pytest

from bot.channels.twilio import sms_segments


@pytest.mark.parametrize(
    ("length", "segments"),
    [(0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm_lengths(length: int, segments: int) -> None:
    assert sms_segments("a" * length) == (segments, "GSM-7")


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_cjk_lengths(length: int, segments: int) -> None:
    assert sms_segments("欠" * length) == (segments, "UCS-2")


def test_gsm_basic_characters_beyond_ascii_stay_gsm() -> None:
    assert sms_segments("Grüße à Zürich: £5, ¥10, ΔΩ §1 ¿qué?") == (1, "GSM-7")


def test_newlines_and_carriage_returns_are_gsm() -> None:
    assert sms_segments("line one\r\nline two") == (1, "GSM-7")


@pytest.mark.parametrize("char", ["€", "{", "}", "[", "]", "~", "^", "\\", "|"])
def test_extension_characters_count_twice(char: str) -> None:
    assert sms_segments(char * 80) == (1, "GSM-7")  # 160 septets
    assert sms_segments(char * 81) == (2, "GSM-7")  # 162 septets
    assert sms_segments("a" * 159 + char) == (2, "GSM-7")  # 161 septets


def test_extension_pair_is_never_split_across_parts() -> None:
    # 152 septets then "€" (2): 154 > 153, so the escape pair starts part two.
    text = "a" * 152 + "€" + "a" * 152
    assert sms_segments(text) == (3, "GSM-7")  # naive ceil(306 / 153) would say 2
    assert sms_segments("a" * 151 + "€" + "a" * 153) == (2, "GSM-7")


def test_one_non_gsm_character_switches_to_ucs2() -> None:
    assert sms_segments("a" * 70) == (1, "GSM-7")
    assert sms_segments("a" * 69 + "é") == (1, "GSM-7")  # é is in the GSM alphabet
    assert sms_segments("a" * 69 + "á") == (1, "UCS-2")  # á is not
    assert sms_segments("a" * 70 + "á") == (2, "UCS-2")


def test_mixed_chinese_reminder() -> None:
    text = "您好，您的发票 INV-1001 金额 ¥1,200.00 已逾期 15 天，请尽快付款。"
    assert sms_segments(text) == (1, "UCS-2")


def test_emoji_counts_two_utf16_code_units() -> None:
    assert sms_segments("😀" * 35) == (1, "UCS-2")  # 70 code units
    assert sms_segments("😀" * 36) == (2, "UCS-2")  # 72 code units
    # 66 units then a surrogate pair: 68 > 67, so the pair opens part two.
    assert sms_segments("欠" * 66 + "😀" + "欠" * 66) == (3, "UCS-2")


def test_escape_character_itself_is_not_gsm_text() -> None:
    assert sms_segments("\x1b")[1] == "UCS-2"


# --- keeping English SMS GSM-7 (issue 16) ------------------------------------------------------------


def test_typography_is_written_plainly_when_that_keeps_an_sms_gsm7() -> None:
    from bot.channels.gsm import gsm_friendly

    fancy = "Xinghe’s notice: “INV-1” – GBP\u00a02,500.50 due…\u3000Call （021）5080 1234"
    assert sms_segments(fancy)[1] == "UCS-2"
    plain = gsm_friendly(fancy)
    assert plain == 'Xinghe\'s notice: "INV-1" - GBP 2,500.50 due... Call (021)5080 1234'
    assert sms_segments(plain) == (1, "GSM-7")


def test_a_text_that_needs_ucs2_anyway_is_left_exactly_as_written() -> None:
    from bot.channels.gsm import gsm_friendly

    for text in ("【星河】贵司发票“INV-1”已逾期–请付款", "Café’s bill: 10 €, 5 á", "ok 👍 it’s paid"):
        assert gsm_friendly(text) == text
    assert gsm_friendly("already plain, £5 and €5") == "already plain, £5 and €5"


@pytest.mark.parametrize("invoice_count", [1, 2, 3])
@pytest.mark.parametrize(
    "step",
    ["pre_due_reminder", "due_statement", "overdue_sms", "collection_call", "formal_notice", "credit_hold"],
)
def test_every_english_sms_with_its_hint_is_gsm7_even_with_typography_in_the_config(
    step: str, invoice_count: int
) -> None:
    from bot.outreach.compose import sms_text
    from bot.render.context import example_context
    from bot.render.environment import render_sms

    context = example_context("en", invoice_count=invoice_count)
    context["company"]["name"] = "Xinghe’s Precision – AR"  # as pasted from a word processor
    body = sms_text(render_sms("en", step, context), "Reply STOP to opt out")
    assert body.endswith(". Reply STOP to opt out") and "Xinghe's Precision - AR" in body
    segments, encoding = sms_segments(body)
    assert encoding == "GSM-7" and segments <= 3, body


def test_the_hint_is_its_own_sentence_in_either_language() -> None:
    from bot.outreach.compose import sms_text

    assert sms_text("Please pay soon.", "Reply STOP to opt out") == "Please pay soon. Reply STOP to opt out"
    assert (
        sms_text("Call 021-5080 1234", "Reply STOP to opt out") == "Call 021-5080 1234. Reply STOP to opt out"
    )
    assert sms_text("【星河】请尽快付款。", "回复TD退订") == "【星河】请尽快付款。回复TD退订"
    assert sms_text("【星河】咨询021-5080 1234", "回复TD退订") == "【星河】咨询021-5080 1234。回复TD退订"
    assert sms_text("Call 021-5080 1234", "") == "Call 021-5080 1234"
