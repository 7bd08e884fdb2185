"""Bytes and RFC 2047 header words into text, with the charsets Chinese mail really uses.

Chinese mail is labelled ``gb2312`` but written with GBK/GB18030 characters (㈠, 镕, 喆 …), and Big5
mail with HKSCS characters; so every GB label is read with gb18030 (a superset of both) and Big5 with
big5hkscs. Nothing here raises: what does not decode is replaced and reported to the caller.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re

_SUPERSETS = {
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "euc-cn": "gb18030",
    "euccn": "gb18030",
    "x-euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "csgb2312": "gb18030",
    "hz-gb-2312": "hz",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "cp950": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "unicode-1-1-utf-8": "utf-8",
    "utf8": "utf-8",
    "us-ascii": "utf-8",  # 8-bit bytes under a us-ascii label are nearly always UTF-8
    "ascii": "utf-8",
}
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(=\?)")


def codec_for(charset: str | None) -> str | None:
    """The Python codec to read ``charset`` with (a superset where senders mislabel), or None."""
    if not charset:
        return None
    name = charset.strip().strip('"').lower()
    name = name.split("*", 1)[0]  # RFC 2231 language suffix: "gb2312*zh"
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, UnicodeError, ValueError):  # unknown, or not even a name (8-bit bytes, NUL)
        return None


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """``data`` as text and whether it decoded cleanly. Without a (known) charset: UTF-8, then
    GB18030 (Chinese clients that send 8-bit text without a label), then Latin-1 as a last resort."""
    codec = codec_for(charset)
    if codec is not None:
        try:
            return data.decode(codec), True
        except UnicodeDecodeError:
            return data.decode(codec, errors="replace"), False
    for guess in ("utf-8", "gb18030"):
        try:
            return data.decode(guess), charset is None
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), False


def decode_header(raw: str) -> tuple[str, bool]:
    """A raw header value (as stored by :mod:`email`, 8-bit bytes kept as surrogates) as text, with its
    RFC 2047 encoded words decoded; and whether everything decoded cleanly."""
    unfolded = re.sub(r"\r?\n[ \t]+", " ", raw)
    unfolded = _BETWEEN_WORDS.sub(r"\1\2", unfolded)  # whitespace between encoded words is not text
    clean = True
    pieces: list[str] = []
    position = 0
    for match in _ENCODED_WORD.finditer(unfolded):
        text, ok = _plain(unfolded[position : match.start()])
        pieces.append(text)
        clean &= ok
        text, ok = _encoded_word(match.group(1), match.group(2), match.group(3))
        pieces.append(text)
        clean &= ok
        position = match.end()
    text, ok = _plain(unfolded[position:])
    pieces.append(text)
    clean &= ok
    return "".join(pieces).strip(), clean


def _plain(segment: str) -> tuple[str, bool]:
    """Unencoded header text; raw 8-bit bytes (GBK subjects sent without RFC 2047) come back as
    surrogates from the parser and are decoded here."""
    if not any("\udc80" <= char <= "\udcff" for char in segment):
        return segment, True
    return decode_bytes(segment.encode("utf-8", errors="surrogateescape"), None)


def _encoded_word(charset: str, encoding: str, payload: str) -> tuple[str, bool]:
    try:
        if encoding in "bB":
            data = base64.b64decode(payload + "=" * (-len(payload) % 4))
        else:
            data = quopri.decodestring(payload.encode("ascii"), header=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return payload, False
    text, ok = decode_bytes(data, charset)
    return text, ok and codec_for(charset) is not None
