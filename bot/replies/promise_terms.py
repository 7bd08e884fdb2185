"""The date and the amount in a promise to pay, in zh-CN and en.

Dates are resolved against the day the customer wrote, in the customer's timezone. English phrases go
to dateparser; the rules here cover only what it cannot read (or reads otherwise than a customer means):
Chinese relative dates (下周五, 月底, 15号, 下个月初, 3天内, 元旦, 圣诞), Christmas and New Year,
"end of month", "early next month", bare day ordinals ("the 5th", which dateparser reads as May) and
"next <weekday>" (the weekday of next week; dateparser gives the coming one). "X前" / "by X" is read
as X itself: the promise is kept by then.

Amounts need a currency mark (¥, 元, 万, RMB, USD, $...): a bare number is an invoice number, a
quantity or a date as often as it is money.

Both functions take text already NFKC-normalised and lower-cased (full-width digits and ￥ folded).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import dateparser

_ZH_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_ZH_NUMBER = r"[0-9]{1,2}|[一二两三四五六七八九十]{1,3}"

# Where "early" and "mid" month land: a promise for 月初 is kept if paid by the 5th.
EARLY_MONTH_DAY = 5
MID_MONTH_DAY = 15

_ZH_DATE = re.compile(
    rf"(?P<md>(?P<m>{_ZH_NUMBER})月(?P<d>{_ZH_NUMBER})[日号]?)"
    rf"|(?P<wd>(?P<wk>上个?|下下|下|本|这|这个|今)?(?:周|星期|礼拜)(?P<wn>[一二三四五六日天1-7]))"
    rf"|(?P<mp>(?P<mm>下下个?|下个?|本|这个?|当)?月(?P<part>底|末|初|中))"
    rf"|(?P<yd>年底|年末)|(?P<ny>元旦)|(?P<xmas>圣诞节?)"
    rf"|(?P<dom>(?P<nm>下个?月)?(?P<dn>{_ZH_NUMBER})[号日])"
    r"|(?P<month>(?P<mq>这个?|本|当|下个?)月(?:内|之内|以内)?)"
    rf"|(?P<within>(?P<n>{_ZH_NUMBER})(?P<unit>天|日|周|个?星期|个?礼拜)(?:内|之内|以内|后|之后))"
    r"|(?P<week>(?P<wq>下|本|这)(?:周|星期|个星期|礼拜)(?:内)?)"
    r"|(?P<rel>今天|明天|后天|大后天)"
)

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
# Three-letter "sat" and "sun" are left out: they are words too.
_WEEKDAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thu(?:rs?)?|fri"
_EN_WEEKDAY_INDEX = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_EN_DATE = re.compile(
    rf"(?P<eom>\bend of (?:the |this )?month\b|\bmonth[- ]end\b|\beom\b)"
    rf"|(?P<xmas>\b(?:christmas|xmas)\b)|(?P<ny>\bnew year(?:'s day)?\b)"
    rf"|(?P<eonm>\bend of next month\b)"
    rf"|(?P<eow>\bend of (?:the |this )?week\b)"
    rf"|(?P<early>\b(?:early|beginning of|start of|first week of) next month\b)"
    rf"|(?P<mid>\bmid[- ]?month\b|\bmiddle of (?:the |this )?month\b)"
    rf"|(?P<dm>\b\d{{1,2}}(?:st|nd|rd|th)? (?:of )?(?:{_MONTHS})\b\.?)"
    rf"|(?P<md>\b(?:{_MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?\b)"
    rf"|(?P<ord>\b(?:the )?(?P<day>\d{{1,2}})(?:st|nd|rd|th)\b)"
    rf"|(?P<nwd>\bnext (?:{_WEEKDAYS})\b)"
    rf"|(?P<wd>\b(?:this |coming )?(?:{_WEEKDAYS})\b)"
    r"|(?P<iso>\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b)"
    r"|(?P<rel>\b(?:today|tomorrow|tmrw|tmr|tomorow|next week|this week)\b)"
    r"|(?P<within>\b(?:in|within) (?:\d+|a|one|two|three|four|five|a few) (?:days?|weeks?)\b)"
)


def promise_date(text: str, day: date, after: int = 0) -> date | None:
    """The first date in ``text`` from position ``after`` on (where the promise is said: "Sam is out this
    week; the USD 14,275 will be released on the 18th") that is not before ``day`` (the day the
    customer wrote); else the first such date anywhere ("本周五之前我们会把…打到贵司账户"); else None."""
    candidates: list[tuple[int, date]] = []
    for match in _ZH_DATE.finditer(text):
        resolved = _zh_date(match, day)
        if resolved is not None:
            candidates.append((match.start(), resolved))
    for match in _EN_DATE.finditer(text):
        resolved = _en_date(match, day)
        if resolved is not None:
            candidates.append((match.start(), resolved))
    future = [(position, found) for position, found in candidates if found >= day]
    following = [(position, found) for position, found in future if position >= after]
    return min(following or future)[1] if future else None


_CURRENCY_BEFORE = r"(?:¥|rmb|cny|人民币|usd|us\$|hkd|hk\$|eur|€|£|gbp|\$)"
_CURRENCY_AFTER = r"(?:万元|万块|万|元|块钱|块|rmb|cny|usd|dollars|yuan|eur|euros)"
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_AMOUNT = re.compile(
    rf"{_CURRENCY_BEFORE}\s?(?P<a>{_NUMBER})\s?(?P<a_wan>万)?"
    rf"|(?<![\d.,])(?P<b>{_NUMBER})\s?(?P<b_unit>{_CURRENCY_AFTER})(?![a-z])"
)


def promise_amount(text: str, after: int = 0) -> Decimal | None:
    """The first amount of money in ``text`` (1.2万 is 12000) from position ``after`` on, where the
    promise is said ("¥21,300 我们计划分两次支付：本周五先付10,000元" promises 10,000 first); else the first
    anywhere ("the USD 14,275 will be released"); else None."""
    matches = list(_AMOUNT.finditer(text))
    for match in [found for found in matches if found.start() >= after] + matches:
        digits = match.group("a") or match.group("b")
        try:
            amount = Decimal(digits.replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
            continue
        if match.group("a_wan") or (match.group("b_unit") or "").startswith("万"):
            amount *= 10_000
        if amount > 0:
            return amount
    return None


def _christmas(day: date) -> date:
    christmas = date(day.year, 12, 25)
    return christmas if christmas >= day else date(day.year + 1, 12, 25)


def _zh_int(value: str) -> int:
    if value.isdigit():
        return int(value)
    if "十" in value:
        tens, _, units = value.partition("十")
        return (_ZH_DIGITS[tens] if tens else 1) * 10 + (_ZH_DIGITS[units] if units else 0)
    return _ZH_DIGITS.get(value, 0)


def _month_offset(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _day_in_month(year: int, month: int, number: int) -> date | None:
    if not 1 <= number <= calendar.monthrange(year, month)[1]:
        return None
    return date(year, month, number)


def _next_day_of_month(day: date, number: int) -> date | None:
    """The next date (today included) whose day of the month is ``number``."""
    for months in range(3):
        year, month = _month_offset(day, months)
        found = _day_in_month(year, month, number)
        if found is not None and found >= day:
            return found
    return None


def _zh_date(match: re.Match[str], day: date) -> date | None:
    monday = day - timedelta(days=day.weekday())
    if match.group("md"):
        month, number = _zh_int(match.group("m")), _zh_int(match.group("d"))
        if not 1 <= month <= 12:
            return None
        found = _day_in_month(day.year, month, number)
        if found is not None and found < day:
            found = _day_in_month(day.year + 1, month, number)
        return found
    if match.group("wd"):
        weekday = _ZH_WEEKDAYS.get(match.group("wn"))
        weekday = int(match.group("wn")) - 1 if weekday is None else weekday
        weeks = {"下下": 2, "下": 1, "上": -1, "上个": -1}.get(match.group("wk") or "", 0)
        found = monday + timedelta(days=7 * weeks + weekday)
        return found + timedelta(days=7) if found < day and not match.group("wk") else found
    if match.group("mp"):
        months = {"下下": 2, "下下个": 2, "下": 1, "下个": 1}.get(match.group("mm") or "", 0)
        year, month = _month_offset(day, months)
        part = match.group("part")
        if part in ("底", "末"):
            return _last_day(year, month)
        number = EARLY_MONTH_DAY if part == "初" else MID_MONTH_DAY
        found = date(year, month, number)
        if found < day and not match.group("mm"):
            year, month = _month_offset(day, 1)
            found = date(year, month, number)
        return found
    if match.group("yd"):
        return date(day.year, 12, 31)
    if match.group("ny"):
        return date(day.year + 1, 1, 1)
    if match.group("xmas"):
        return _christmas(day)
    if match.group("dom"):
        number = _zh_int(match.group("dn"))
        if match.group("nm"):
            year, month = _month_offset(day, 1)
            return _day_in_month(year, month, number)
        return _next_day_of_month(day, number)
    if match.group("month"):  # "最迟不超过这个月", "下个月内": by the month's last day
        return _last_day(*_month_offset(day, 1 if match.group("mq").startswith("下") else 0))
    if match.group("within"):
        count = _zh_int(match.group("n"))
        return day + timedelta(days=count if match.group("unit") in ("天", "日") else 7 * count)
    if match.group("week"):
        if match.group("wq") == "下":
            return day + timedelta(days=7)
        return max(day, monday + timedelta(days=4))  # this week: by Friday
    return _dateparser(match.group("rel"), day, "zh")


def _en_date(match: re.Match[str], day: date) -> date | None:
    monday = day - timedelta(days=day.weekday())
    if match.group("eom"):
        return _last_day(day.year, day.month)
    if match.group("xmas"):
        return _christmas(day)
    if match.group("ny"):
        return date(day.year + 1, 1, 1)
    if match.group("eonm"):
        return _last_day(*_month_offset(day, 1))
    if match.group("eow"):
        return max(day, monday + timedelta(days=4))
    if match.group("early"):
        year, month = _month_offset(day, 1)
        return date(year, month, EARLY_MONTH_DAY)
    if match.group("mid"):
        found = date(day.year, day.month, MID_MONTH_DAY)
        return found if found >= day else date(*_month_offset(day, 1), MID_MONTH_DAY)
    if match.group("ord"):
        return _next_day_of_month(day, int(match.group("day")))
    if match.group("nwd"):
        # "Next Tuesday" said on a Monday is not tomorrow: it is the Tuesday of next week, as 下周二 is.
        # (dateparser reads it as the coming Tuesday.) For a promise the later reading is the safe one:
        # read early, the ladder would chase a customer who is keeping their word.
        return monday + timedelta(days=7 + _EN_WEEKDAY_INDEX[match.group("nwd")[5:8]])
    phrase = match.group(0)
    phrase = re.sub(r"\b(?:tmrw|tmr|tomorow)\b", "tomorrow", phrase)
    phrase = re.sub(r"\bwithin\b", "in", phrase)
    phrase = re.sub(r"\bcoming\b", "this", phrase)
    phrase = re.sub(r"\ba few\b", "3", phrase)
    if phrase == "this week":
        return max(day, monday + timedelta(days=4))
    return _dateparser(phrase, day, "en")


def _dateparser(phrase: str, day: date, language: str) -> date | None:
    parsed = dateparser.parse(
        phrase,
        languages=[language],
        settings={"RELATIVE_BASE": datetime.combine(day, time(12)), "PREFER_DATES_FROM": "future"},
    )
    return parsed.date() if parsed is not None else None
