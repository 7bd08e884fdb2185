"""What the customer wrote this time: a reply's text without the quoted history and the signature.

Mail clients quote the message being answered in a handful of shapes, in English and in Chinese:

- ``On Mon, 7 Dec 2026 at 10:02, Accounts <ar@x.com> wrote:`` (Gmail, Apple Mail, Thunderbird; the
  line is often wrapped in two) and ``在 2026年12月7日 周一 10:02，Accounts <ar@x.com> 写道：``;
- ``-----Original Message-----``, ``-----原始邮件-----``, QQ Mail's
  ``------------------ 原始邮件 ------------------`` and NetEase's ``---- 回复的原邮件 ----``;
- an Outlook header block: ``From: …`` / ``发件人: …`` followed within a few lines by ``Sent:``,
  ``Date:``, ``发送时间:``, ``To:``, ``收件人:`` or ``Subject:`` / ``主题:`` (often after a line of
  underscores);
- ``>`` lines.

A message the customer forwards on purpose (``---------- Forwarded message ---------``, ``转发的邮件``:
a bank's remittance notice) is their text, not history: its header block does not cut.

Everything from the first of those markers on is history. A company's legal footer
(``CONFIDENTIALITY NOTICE``, ``This e-mail and any attachments are confidential``, ``免责声明``,
``本邮件及其附件含有…``) goes with everything under it. A signature starts at an RFC 3676 ``-- `` line,
or at a closing (``Best regards``, ``此致``, ``顺颂商祺`` …) near the end followed by a few short lines
(name, title, telephone). "Sent from my iPhone" lines go too.

``mail-parser-reply`` (1.36, the maintained one with a ``zh`` table) was tried on these shapes and
kept Foxmail's ``发件人：`` block (full-width colons), the ``-----原始邮件-----`` line, ``写道:`` with an
ASCII colon and ``发自我的iPhone``; hence this module. It only ever removes a tail or ``>`` lines,
never rewrites a line.
"""

from __future__ import annotations

import re

# A line that on its own starts the quoted history.
_SEPARATOR = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:original message|原始邮件|原始郵件|回复的原邮件|回覆的原郵件)\s*-{2,}"
    r"|-{2,}\s*(?:reply message|回复邮件)\s*-{2,}"
    r"|_{10,}"  # Outlook's rule above the From:/Sent: block once turned into text
    r")\s*$",
    re.IGNORECASE,
)
# A forward the customer sends on purpose (a bank's remittance notice): its text is theirs, not history.
_FORWARD = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|转发的邮件|转发邮件信息|轉寄的郵件)\s*-{2,}"
    r"|begin forwarded message:)\s*$",
    re.IGNORECASE,
)
# "... wrote:" / "... 写道：" ending a line (the attribution line of Gmail, Apple Mail, Foxmail ...).
_WROTE = re.compile(r"(?:\bwrote|写道|寫道|schrieb)\s*[:：]\s*$", re.IGNORECASE)
# The first line of a wrapped attribution: "On Mon, 7 Dec 2026 at 10:02, Accounts" / "在 2026年12月7日".
_ATTRIBUTION_START = re.compile(r"^\s*(?:On\s|在\s?\d|在\s?20\d\d|于\s?20\d\d)", re.IGNORECASE)
# The header lines of an Outlook / Foxmail / QQ quoted block.
_FROM_FIELD = re.compile(r"^\s*[*\s]*(?:from|发件人|寄件者|寄件人)[*\s]*[:：]", re.IGNORECASE)
_OTHER_FIELD = re.compile(
    r"^\s*[*\s]*(?:sent|date|to|cc|subject|发送时间|发送日期|日期|时间|收件人|抄送|主题|主旨|寄件日期|收件者|副本)"
    r"[*\s]*[:：]",
    re.IGNORECASE,
)
# The first line of a company's legal footer; it and everything under it leave the text.
_DISCLAIMER = re.compile(
    r"^\s*[*\s]*(?:confidentiality notice|confidentiality|disclaimer|important notice|"
    r"this (?:e-?mail|message)(?: and any (?:files|attachments?)(?: transmitted with it)?)? "
    r"(?:is|are|may (?:be|contain)|contains?) (?:confidential|privileged|intended)|"
    r"免责声明|保密声明|本邮件(?:及其附件)?(?:含有|包含|仅供|可能包含|内容仅)|本郵件(?:及其附件)?(?:含有|包含|僅供))",
    re.IGNORECASE,
)
_QUOTED_LINE = re.compile(r"^\s*>")
_SIGNATURE_DASHES = re.compile(r"^-- ?$")
_MOBILE_FOOTER = re.compile(
    r"^\s*(?:sent from my \w+|sent from (?:mail|outlook) for \w+|get outlook for \w+|sent from outlook|"
    r"发自我的\s?\S+|从我的\s?\S+\s?发送|发自网易邮箱大师|发自\s?\S+\s?邮箱|来自\S+邮箱)\s*$",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^\s*(?:best regards|kind regards|warm regards|regards|best wishes|best|many thanks|thanks|thank you|"
    r"thanks and regards|thanks & regards|cheers|sincerely|yours sincerely|yours faithfully|yours truly|"
    r"此致|此致敬礼|此致\s*敬礼|顺颂商祺|顺祝商祺|顺颂商安|顺颂时祺|祝商祺|商祺|祝好|谢谢|多谢|感谢|致礼|敬上)"
    r"\s*[,，.。!！]*\s*$",
    re.IGNORECASE,
)
# A signature is a closing followed by at most this many lines (name, title, company, telephone ...).
_SIGNATURE_MAX_LINES = 10
_SIGNATURE_MAX_WIDTH = 80


def strip_history(text: str) -> str:
    """``text`` without quoted history, ``>`` lines and signature; the text itself when that would leave
    nothing (a reply that is only a closing, or a forward with nothing written above it)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _history_start(lines)
    own = [line for line in lines[:cut] if not _QUOTED_LINE.match(line)]
    own = [line for line in own if not _MOBILE_FOOTER.match(line)]
    own = own[: _disclaimer_start(own)]
    own = own[: _signature_start(own)]
    result = _tidy("\n".join(own))
    return result or _tidy(text)


def _history_start(lines: list[str]) -> int:
    forwarded_block = range(0)
    for index, line in enumerate(lines):
        if _FORWARD.match(line):
            forwarded_block = _field_block(lines, index + 1)
            continue
        if index in forwarded_block:
            continue
        if _SEPARATOR.match(line):
            return index
        previous = lines[index - 1] if index > 0 else ""
        # An attribution names a date: "Our bank wrote:" in the customer's own text is not one.
        if _WROTE.search(line) and len(line) < 300 and re.search(r"\d", previous + line):
            # A wrapped attribution: "On Mon, 7 Dec 2026 at 10:02, Accounts\n<ar@x.com> wrote:".
            wrapped = index > 0 and _ATTRIBUTION_START.match(lines[index - 1])
            if wrapped and not _ATTRIBUTION_START.match(line):
                return index - 1
            return index
        if _FROM_FIELD.match(line) and _header_block_follows(lines, index):
            return index
    return len(lines)


def _field_block(lines: list[str], start: int) -> range:
    """The header lines (From:, Date:, 主题: …) of a forwarded message starting at ``start``."""
    end = start
    while end < len(lines) and (_FROM_FIELD.match(lines[end]) or _OTHER_FIELD.match(lines[end])):
        end += 1
    return range(start, end)


def _header_block_follows(lines: list[str], index: int) -> bool:
    following = [line for line in lines[index + 1 : index + 6] if line.strip()]
    return sum(1 for line in following if _OTHER_FIELD.match(line)) >= 2


def _disclaimer_start(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if _DISCLAIMER.match(line) and any(above.strip() for above in lines[:index]):
            return index
    return len(lines)


def _signature_start(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if _SIGNATURE_DASHES.match(line):
            return index
    # The last closing line that is followed by a short tail; the text above it must not be empty.
    for index in range(len(lines) - 1, -1, -1):
        if not _CLOSING.match(lines[index]):
            continue
        tail = [line for line in lines[index + 1 :] if line.strip()]
        above = [line for line in lines[:index] if line.strip()]
        if above and len(tail) <= _SIGNATURE_MAX_LINES and all(len(t) <= _SIGNATURE_MAX_WIDTH for t in tail):
            return index
        break
    return len(lines)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    collapsed: list[str] = []
    for line in lines:
        if not line and collapsed and not collapsed[-1]:
            continue
        collapsed.append(line)
    return "\n".join(collapsed).strip()
