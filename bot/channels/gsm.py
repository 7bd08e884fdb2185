"""SMS text and the GSM 03.38 alphabet: how many segments a text costs, and keeping it GSM-7.

One character outside the GSM-7 alphabet turns a whole SMS into UCS-2: 70 characters a segment
instead of 160. English texts lose it most often to typography — a curly apostrophe, curly quotes, a
dash, a non-breaking space, full-width punctuation pasted from a Chinese document — which
:func:`gsm_friendly` writes as their plain equivalents when that is all that stands in the way.
"""

from __future__ import annotations

from collections.abc import Mapping

# GSM 03.38 default alphabet (one septet each) and its extension table (escape + one septet each).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM_7 = "GSM-7"
UCS_2 = "UCS-2"


def _pack(units: list[int], single: int, multipart: int) -> int:
    """Segments needed for characters of ``units`` width each; a character is never split."""
    total = sum(units)
    if total <= single:
        return 1
    segments, used = 1, 0
    for width in units:
        if used + width > multipart:
            segments, used = segments + 1, 0
        used += width
    return segments


def sms_segments(text: str) -> tuple[int, str]:
    """``(segments, encoding)`` for an SMS body, as a carrier would split it.

    GSM-7 when every character is in the GSM 03.38 alphabet (extension characters such as ``€`` and
    ``{`` take two septets): 160 septets in one message, 153 per part once concatenated. Otherwise
    UCS-2, counted in UTF-16 code units (an emoji takes two): 70 in one message, 67 per part. An escape
    pair or a surrogate pair is never split across parts. An empty body is still one message.
    """
    if all(char in _GSM_BASIC or char in _GSM_EXTENSION for char in text):
        septets = [2 if char in _GSM_EXTENSION else 1 for char in text]
        return _pack(septets, 160, 153), GSM_7
    code_units = [2 if ord(char) > 0xFFFF else 1 for char in text]
    return _pack(code_units, 70, 67), UCS_2


# Characters with a plain GSM-7 equivalent that says the same thing.
_LOOKALIKES: Mapping[int, str] = {
    **{ord(char): "'" for char in "\u2018\u2019\u201a\u201b\u2032\u00b4`"},
    **{ord(char): '"' for char in "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"},
    **{ord(char): "-" for char in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"},
    **{ord(char): " " for char in "\u00a0\u2002\u2003\u2007\u2009\u200a\u202f\u3000"},
    ord("\u2026"): "...",
    ord("\u2022"): "*",
    ord("\u00d7"): "x",
    **{code: chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)},  # full-width ASCII
}


def gsm_friendly(text: str) -> str:
    """``text`` with typographic characters written plainly when that makes it all GSM-7 (fewer,
    cheaper segments); unchanged when it needs UCS-2 anyway (Chinese), so nothing is lost there."""
    if sms_segments(text)[1] == GSM_7:
        return text
    plain = text.translate(_LOOKALIKES)
    return plain if sms_segments(plain)[1] == GSM_7 else text
