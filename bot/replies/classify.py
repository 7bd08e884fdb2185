"""A :class:`Reply` into a :class:`Classification` (DESIGN §11): pure, no database, no clock.

The classes are weighed in :class:`ReplyKind`'s order: a delivery report is a bounce; RFC 3834 headers
make an auto-reply; an opt-out in the customer's own words wins over everything they wrote with it (it
acts at once and must never be missed); then an out-of-office text, a paid claim, a dispute, a promise,
anything else. Confidence is high only when one signal stands alone: a paid claim beside a dispute, a
negated keyword ("don't stop", "不是退订"), a hedge or a question lowers it below ``[inbound]
confirm_below`` so a collector confirms.

Only the reply's own text counts for the opt-out: quoted history may hold our own "回复TD退订".
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import opencc

from bot.replies import signals
from bot.replies.model import Classification, Reply, ReplyKind
from bot.replies.promise_terms import promise_amount, promise_date

# Lines that start the quoted message in a reply (Gmail, Apple Mail, Outlook, Foxmail, QQ Mail).
_QUOTE_HEADER = re.compile(
    r"^\s*(?:on\s.{0,200}\swrote:|在.{0,200}写道[:：]?|-{2,}\s*(?:original message|原始邮件)\s*-{2,}"
    r"|(?:from|发件人)[:：].*\n\s*(?:sent|date|发送时间|时间|日期)[:：])",
    re.IGNORECASE | re.MULTILINE,
)
# The RFC 3676 signature separator ("-- "), and the bare "--" many clients write instead.
_SIGNATURE = re.compile(r"^--[ \t]*$", re.MULTILINE)
_FORWARDED = re.compile(r"-{2,}\s*(?:forwarded message|转发的邮件|转发邮件)", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[a-z]")
_QUESTION = re.compile(r"[?？]\s*$|吗\s*[?？]?\s*$")
# What is left of a message once spaces, punctuation and emoji are gone: letters, digits, CJK.
_NOT_WORD = re.compile(r"[^0-9a-z\u3400-\u9fff]+")

CERTAIN = Decimal("0.99")


def classify(reply: Reply, *, today: date, timezone: str) -> Classification:
    """What ``reply`` is. Relative dates ("下周五", "next Friday") are resolved from the day the customer
    sent it in ``timezone`` (their zone), or from ``today`` when the reply carries no time."""
    if reply.delivery_reports:
        statuses = ", ".join(
            sorted({f"{report.action} {report.status}" for report in reply.delivery_reports})
        )
        return Classification(ReplyKind.BOUNCE, CERTAIN, reasons=(f"delivery report: {statuses}",))
    subject = own_subject(reply)
    # A reply with nothing in its body says it in the subject ("STOP", "退订", "Paid").
    text = own_text(reply) or subject
    language = _language(text)
    if reply.auto_submitted:
        reason = f"header: Auto-Submitted: {reply.auto_submitted}"
        return Classification(ReplyKind.AUTO_REPLY, CERTAIN, language, reasons=(reason,))
    if reply.auto_headers:
        reason = "header: " + ", ".join(reply.auto_headers)
        return Classification(ReplyKind.AUTO_REPLY, Decimal("0.95"), language, reasons=(reason,))

    opt_out = _opt_out(text)
    if opt_out is None and _NOT_WORD.sub("", _COURTESY.sub(" ", subject)) in signals.OPT_OUT_KEYWORDS:
        # The subject replaced by a keyword ("STOP", "Unsubscribe", "退订"): meant, whatever the body says.
        opt_out = (Decimal("0.95"), (f'opt-out keyword in the subject: "{subject}"',))
    if opt_out is not None:
        return Classification(ReplyKind.OPT_OUT, opt_out[0], language, reasons=opt_out[1])

    paid = [
        hit
        for hit in signals.find(signals.PAID, text)
        if not hit.negated and not signals.FUTURE_BEFORE.search(text[: hit.start])
    ]
    remittance_files = [
        attachment.filename
        for attachment in reply.attachments
        if signals.REMITTANCE_FILE.search(attachment.filename.casefold())
    ]
    dispute = [hit for hit in signals.find(signals.DISPUTE, text) if not hit.negated]
    day = _reference_day(reply, today, timezone)
    found_date = promise_date(text, day)
    promise = [hit for hit in signals.find(signals.PROMISE, text) if not hit.negated]
    paying_from = _zh_pays_after_date(text) if not promise and found_date is not None else None
    if paying_from is not None:  # the date is the one the verb follows, not an earlier one (本月资金…)
        promise = [signals.Hit("date and a verb of paying", paying_from, negated=False)]
    acknowledges = bool(promise) or any(not hit.negated for hit in signals.find(signals.ACKNOWLEDGES, text))
    negated_opt_out = [hit for hit in signals.find(signals.OPT_OUT, text) if hit.negated]

    reasons = (
        *(f'paid: "{hit.phrase}"' for hit in paid),
        *(f"remittance attachment: {name}" for name in remittance_files),
        *(f'dispute: "{hit.phrase}"' for hit in dispute),
        *(f'promise: "{hit.phrase}"' for hit in promise),
    )
    content = sum(bool(found) for found in (paid or remittance_files, dispute, promise))

    auto_text = signals.find(signals.AUTO_REPLY, f"{_normalise(reply.subject)}\n{text}")
    read_it = signals.find(signals.READ_IT, text)
    if auto_text and read_it and not signals.find(signals.AUTO_REPLY, _normalise(reply.subject)):
        auto_text = []  # "on leave until Thursday, will look at this when I'm back": a person wrote it
    if auto_text:
        confidence = Decimal("0.92") if content == 0 else Decimal("0.65")
        reason = f'auto-reply text: "{auto_text[0].phrase}"'
        return Classification(ReplyKind.AUTO_REPLY, confidence, language, reasons=(reason, *reasons))

    duplicate = paid and any(signals.DUPLICATE.search(hit.phrase) for hit in dispute)
    if (paid or remittance_files) and not duplicate:
        confidence = Decimal("0.97") if remittance_files and paid else Decimal("0.93")
        if content > 1:
            confidence = Decimal("0.60")
        elif not paid:  # an attachment named like a remittance, and no words saying it was paid
            confidence = Decimal("0.80")
        has_document = any(
            attachment.content_type in ("application/pdf",) or attachment.content_type.startswith("image/")
            for attachment in reply.attachments
        )
        return Classification(
            ReplyKind.PAID,
            confidence,
            language,
            acknowledges_debt=False,
            remittance=bool(remittance_files) or has_document,
            reasons=reasons,
        )
    if dispute:
        confidence = Decimal("0.92") if content == 1 else Decimal("0.70")
        # "Credit the 20 missing units and we will pay the balance": the rest of the debt is owned.
        return Classification(
            ReplyKind.DISPUTE, confidence, language, acknowledges_debt=acknowledges, reasons=reasons
        )
    if promise:
        found_date = promise_date(text, day, after=min(hit.start for hit in promise))
        confidence = Decimal("0.94") if found_date is not None else Decimal("0.75")
        hedges = signals.find(signals.HEDGE, text)
        if hedges:
            confidence -= Decimal("0.20")
            reasons = (*reasons, f'hedge: "{hedges[0].phrase}"')
        if _QUESTION.search(text):
            confidence -= Decimal("0.15")
            reasons = (*reasons, "a question")
        return Classification(
            ReplyKind.PROMISE,
            confidence,
            language,
            promise_date=found_date,
            promise_amount=promise_amount(text, after=min(hit.start for hit in promise)),
            acknowledges_debt=True,
            reasons=reasons,
        )
    if negated_opt_out:
        reason = f'negated opt-out: "{negated_opt_out[0].phrase}"'
        return Classification(ReplyKind.OTHER, Decimal("0.50"), language, reasons=(reason,))
    reasons = ("acknowledges the debt",) if acknowledges else ()
    return Classification(
        ReplyKind.OTHER, Decimal("0.60"), language, acknowledges_debt=acknowledges, reasons=reasons
    )


def own_text(reply: Reply) -> str:
    """What the customer wrote this time, normalised: the parser's ``text`` (or the whole body), cut
    where a quoted message or the signature starts and with ``>`` lines dropped, NFKC-folded and
    lower-cased. The parser removes both already; this holds when it could not tell."""
    body = reply.text or reply.full_text
    cut = _QUOTE_HEADER.search(body)
    if cut is not None and not _FORWARDED.search(body, 0, cut.start()):
        body = body[: cut.start()]
    signature = _SIGNATURE.search(body)
    if signature is not None:
        body = body[: signature.start()]
    lines = [line for line in body.splitlines() if not line.lstrip().startswith(">")]
    return _normalise("\n".join(lines)).strip()


def own_subject(reply: Reply) -> str:
    """The subject the customer wrote, normalised: reply and forward prefixes (RE:, 回复：, AW:) removed."""
    return _REPLY_PREFIX.sub("", _normalise(reply.subject)).strip()


_REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|fw|fwd|aw|sv|wg|答复|回复|转发)\s*(?:\[\d+\])?\s*:\s*)+")


def _normalise(text: str) -> str:
    """NFKC-folded (full-width letters, digits, ￥), traditional Chinese as simplified, lower-cased."""
    return str(_TO_SIMPLIFIED.convert(unicodedata.normalize("NFKC", text))).casefold()


# OpenCC's traditional-to-simplified table: Big5 mail from Hong Kong and Taiwan (請勿再發送, 付過了,
# 電匯) is read with the same zh-CN rules.
_TO_SIMPLIFIED = opencc.OpenCC("t2s")


def _opt_out(text: str) -> tuple[Decimal, tuple[str, ...]] | None:
    """How sure an opt-out is, and why; None when the text holds none (or only negated ones)."""
    bare = _NOT_WORD.sub("", text)
    # "pls T", "TD 谢谢", "STOP thanks": a keyword with nothing but courtesy around it.
    keyword = _NOT_WORD.sub("", _COURTESY.sub(" ", text))
    only_our_hint = signals.OUR_HINT.search(text) and not _NOT_WORD.sub("", signals.OUR_HINT.sub("", text))
    if keyword in signals.OPT_OUT_KEYWORDS or only_our_hint:
        # The whole message is the keyword: "cancel" and "取消" alone act like STOP (Twilio's own list
        # has CANCEL); stopping when in doubt is the side that never harasses.
        return CERTAIN, (f'opt-out keyword: "{text}"',)
    unquoted = signals.OUR_HINT.sub(" ", text)
    hits = signals.find(signals.OPT_OUT, unquoted)
    if _CJK.search(unquoted) or len(bare) <= 4:  # "谢谢，T": China's short keyword beside other words
        hits += signals.find(signals.LONE_T, unquoted)
    acting = [hit for hit in hits if not hit.negated]
    if not acting:
        return None
    reasons = tuple(f'opt-out: "{hit.phrase}"' for hit in acting)
    if len(acting) < len(hits):
        return Decimal("0.60"), (*reasons, "a negated opt-out beside it")
    if len(bare) <= 12 or bare.replace("td", "").replace("stop", "") == "":
        return CERTAIN, reasons
    if all(_uncertain(hit, unquoted) for hit in acting):
        # Still an opt-out (one is never missed), but a person reads it before the channel closes.
        return Decimal("0.70"), (*reasons, "inside a longer message: not sure it is meant as an opt-out")
    return Decimal("0.95"), reasons


def _uncertain(hit: signals.Hit, text: str) -> bool:
    """TD or T inside a longer message, or a "stop" that is not said to us ("production had to stop")."""
    if hit.phrase in ("td", "t"):
        return True
    if not hit.phrase.startswith("stop"):
        return False
    before = text[: hit.start].rstrip()
    after = text[hit.start + len(hit.phrase) :]
    return not (
        not before
        or before[-1] in _CLAUSE_END
        or _STOP_ADDRESSED_BEFORE.search(before)
        or _STOP_ADDRESSED_AFTER.match(after)
        or not after.strip(" .!?。！？~")
    )


_COURTESY = re.compile(
    r"(?<![a-z])(?:please|pls|plz|thanks|thank you|thx|ty|ok|okay|hi|hello)(?![a-z])"
    r"|谢谢|多谢|麻烦|请|您好|你好|好的"
)
_CLAUSE_END = frozenset(".!?,;:。！？，；：\n")
# A "stop" said to us: "please stop", "can you stop", "stop texting", "stop it", "..., stop".
_STOP_ADDRESSED_BEFORE = re.compile(
    r"(?<![a-z])(?:please|pls|plz|kindly|just|so|now|and|can you|could you|u|you)$"
)
_STOP_ADDRESSED_AFTER = re.compile(
    r"\s*(?:texting|sending|messaging|msging|e-?mailing|contacting|calling|bothering|spamming|harassing"
    r"|these|this|that|them|it|now|immediately|asap|please|pls|plz"
    r"|the (?:messages|texts|e-?mails|reminders|sms))(?![a-z])"
)


def _zh_pays_after_date(text: str) -> int | None:
    """Where a Chinese date followed by a verb of paying starts ("月底付", "15号打款"), not one already
    made ("已于12月3日付款"); None when there is none."""
    for found in _ZH_DATE_END.finditer(text):
        if signals.ZH_PAY_AFTER_DATE.search(text[found.end() :]) and not _ZH_DONE_BEFORE.search(
            text[: found.start()]
        ):
            return found.start()
    return None


# 已 just before the date: "已于12月3日付款", "已经在11月28日支付" tell of a payment made.
_ZH_DONE_BEFORE = re.compile(r"已经?(?:于|在)?\s*$")


# Where a Chinese date phrase ends: a day, a weekday, a part of the month, or a relative day.
_ZH_DATE_END = re.compile(
    r"(?:[0-9一二两三四五六七八九十]+[号日]|(?:周|星期|礼拜)[一二三四五六日天1-7]|月(?:底|末|初|中)|年底|年末|元旦|圣诞节?"
    r"|[0-9一二两三四五六七八九十]+(?:天|日|周|个?星期)(?:内|之内|以内|后|之后)|今天|明天|后天|下周|本周|这周)(?:前|之前|以前)?"
)


def _reference_day(reply: Reply, today: date, timezone: str) -> date:
    if reply.sent_at is None or reply.sent_at.tzinfo is None:
        return today
    return reply.sent_at.astimezone(ZoneInfo(timezone)).date()


def _language(text: str) -> str | None:
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if cjk and cjk * 2 >= latin:
        return "zh-CN"
    if latin >= 2:
        return "en"
    return None
