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
