"""The house style of a notice: page geometry, colours, and the fixed words of its layout.

The words (``Labels``) come in zh-CN and English; ``letter_date`` writes a date as each language's
letters do. Shared by the letter, its signature block and page furniture, and the chronology.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 20 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
INK = colors.HexColor("#1A1A1A")
ACCENT = colors.HexColor("#1F3A68")
SEAL_RED = colors.HexColor("#C8102E")
RULE = colors.HexColor("#9AA5B8")


@dataclass(frozen=True, slots=True)
class Labels:
    """The fixed words of a notice's layout in one language."""

    reference: str
    date: str
    customer_no: str
    recipient: str
    schedule: str
    columns: tuple[str, str, str, str, str, str, str]
    total: str
    not_due: str
    seal_note: str
    page: str  # format with {page} and {pages}
    specimen: str
    signed_for: str
    colon: str  # after a label: "：" in Chinese, ": " in English


LABELS: dict[str, Labels] = {
    "zh-CN": Labels(
        reference="编号",
        date="日期",
        customer_no="客户编号",
        recipient="致",
        schedule="附表：未付款项明细",
        columns=("发票号", "币种", "开票日期", "到期日", "未付金额", "逾期天数", "违约金"),
        total="合计",
        not_due="未到期",
        seal_note="",  # the seal itself is pressed over the name: no "（盖章）" placeholder
        page="第 {page} 页 / 共 {pages} 页",
        specimen="样章 SPECIMEN",
        signed_for="",
        colon="：",
    ),
    "en": Labels(
        reference="Reference",
        date="Date",
        customer_no="Customer no.",
        recipient="To",
        schedule="Schedule: amounts outstanding",
        columns=("Invoice", "Currency", "Issued", "Due", "Outstanding", "Days overdue", "Late fee"),
        total="Total",
        not_due="not yet due",
        seal_note="(company seal)",  # the caption under the seal
        page="Page {page} of {pages}",
        specimen="SPECIMEN",
        signed_for="For and on behalf of",
        colon=": ",
    ),
}


def labels_for(language: str) -> Labels:
    """The layout words for ``language`` (zh-CN for any zh variant, else English)."""
    return LABELS["zh-CN"] if language.lower().startswith("zh") else LABELS["en"]


def letter_date(as_of: str, language: str) -> str:
    """The date line: 2026年12月1日 in Chinese, 1 December 2026 in English."""
    day = date.fromisoformat(as_of)
    if language.lower().startswith("zh"):
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {day:%B} {day.year}"
