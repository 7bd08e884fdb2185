"""The dashboard's charts: server-rendered SVG by pygal, readable without JavaScript (DESIGN §10).

Each function takes a :class:`~bot.reporting.dashboard.Dashboard` and a ``language`` (``"zh-CN"`` or
``"en"``) and returns :class:`Chart` values: the SVG, to inline in the page, and the same numbers as a
table (columns and rows of plain values, for the page to format in the user's locale).

The SVG carries no ``<script>`` and no reference to anything outside itself: pygal's tooltip script
(from a CDN by default) and its configuration script are left out (``js=[]`` and a filter that drops
any ``script`` element), as are its comments (they name pygal's web site and today's date). The
chart's id comes from its kind, not pygal's random one, so the same data gives the same bytes. Text
uses a font-family stack that starts with common CJK families, so Chinese titles render wherever one
of them is installed (Debian's fonts-wqy-zenhei, which the notices use too, is in the stack).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import pygal
from pygal.style import Style

from bot.domain.reports import KpiRow
from bot.reporting.dashboard import Dashboard

Cell = str | int | Decimal | date | None
KpiMetric = Literal["dso", "cei", "overdue_rate"]

FONT_FAMILY = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "PingFang SC", '
    '"Microsoft YaHei", "Hiragino Sans GB", "DejaVu Sans", sans-serif'
)
_STYLE = Style(font_family=FONT_FAMILY, background="white", plot_background="white")

# Chart words in both languages. The pages' own text comes from the console's message catalogs;
# these few labels travel with the charts so that the SVG is complete on its own.
_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "aging": "Aging per tier ({currency})",
        "tier": "Tier",
        "amount": "Outstanding ({currency})",
        "total": "Total",
        "dso": "DSO over time (days, {days}-day period)",
        "cei": "CEI over time (%, {days}-day period)",
        "overdue_rate": "Overdue rate over time (%)",
        "date": "Date",
        "days": "Days",
        "percent": "%",
        "outbox": "Outbox by state",
        "state": "State",
        "messages": "Messages",
        "no_data": "No data yet",
        "email": "E-mail",
        "sms": "SMS",
        "voice": "Voice call",
        "letter": "Letter",
        "task": "Collector task",
        "strategic": "Strategic",
        "cooperative": "Cooperative",
        "cautious": "Cautious",
        "all": "All tiers",
        "current": "Current",
        "1-30": "1-30 days",
        "31-60": "31-60 days",
        "61-90": "61-90 days",
        "90+": "90+ days",
    },
    "zh-CN": {
        "aging": "各等级账龄（{currency}）",
        "tier": "客户等级",
        "amount": "未收金额（{currency}）",
        "total": "合计",
        "dso": "应收账款周转天数 DSO（天，{days} 天期间）",
        "cei": "回款有效指数 CEI（%，{days} 天期间）",
        "overdue_rate": "逾期率（%）",
        "date": "日期",
        "days": "天数",
        "percent": "%",
        "outbox": "发件箱各状态",
        "state": "状态",
        "messages": "消息数",
        "no_data": "暂无数据",
        "strategic": "战略级",
        "cooperative": "合作级",
        "cautious": "谨慎级",
        "all": "全部等级",
        "current": "未到期",
        "1-30": "逾期 1-30 天",
        "31-60": "逾期 31-60 天",
        "61-90": "逾期 61-90 天",
        "90+": "逾期 90 天以上",
        "planned": "待发送",
        "claimed": "已领取",
        "sending": "发送中",
        "sent": "已发送",
        "delivered": "已送达",
        "undelivered": "未送达",
        "failed": "失败",
        "unknown": "结果未知",
        "cancelled": "已取消",
        "email": "邮件",
        "sms": "短信",
        "voice": "语音电话",
        "letter": "信函",
        "task": "人工任务",
    },
}


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: its SVG and its numbers as a table (cells are plain values, not yet formatted)."""

    kind: str  # "aging-CNY", "dso", "cei", "overdue_rate", "outbox": unique on a page
    title: str
    svg: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def word(language: str, key: str, **values: object) -> str:
    """A chart word in ``language`` (English when the language or the word has none)."""
    text = _WORDS.get(language, _WORDS["en"]).get(key) or _WORDS["en"].get(key, key)
    return text.format(**values) if values else text


def aging_charts(board: Dashboard, language: str) -> tuple[Chart, ...]:
    """Stacked bars, one bar per tier and a stack per aging bucket; one chart per currency (amounts
    never mix currencies). No receivables: one empty chart that says so."""
    currencies = sorted({row.currency for row in board.aging}) or [""]
    charts = []
    for currency in currencies:
        rows = [row for row in board.aging if row.currency == currency]
        title = word(language, "aging", currency=currency or "-")
        chart = _new(pygal.StackedBar, f"aging-{currency or 'none'}", title, language)
        chart.x_title = word(language, "tier")
        chart.y_title = word(language, "amount", currency=currency or "-")
        chart.x_labels = [word(language, row.tier) for row in rows]
        if rows:
            for index, bucket in enumerate(board.buckets):
                chart.add(word(language, bucket), [float(row.amounts[index]) for row in rows])
        charts.append(
            Chart(
                kind=f"aging-{currency or 'none'}",
                title=title,
                svg=_render(chart),
                columns=(
                    word(language, "tier"),
                    *(word(language, bucket) for bucket in board.buckets),
                    word(language, "total"),
                ),
                rows=tuple((word(language, row.tier), *row.amounts, row.total) for row in rows),
            )
        )
    return tuple(charts)


def kpi_chart(board: Dashboard, language: str, metric: KpiMetric) -> Chart:
    """Lines over the history points, one line per tier and currency and one for all tiers; a point
    without a denominator (no sales, nothing collectable) is a gap, and an empty cell in the table."""
    series = _kpi_series(board)
    single_currency = len({currency for _, currency in series}) <= 1
    names = [_series_name(language, tier, currency, single_currency) for tier, currency in series]
    values: dict[tuple[str, str], list[Decimal | None]] = {key: [] for key in series}
    for point in board.history:
        found = {(row.tier, row.currency): row for row in (*point.by_tier, *point.totals)}
        for key in series:
            row = found.get(key)
            values[key].append(None if row is None else _metric(row, metric))
    title = word(language, metric, days=board.kpi_days)
    chart = _new(pygal.Line, metric, title, language)
    chart.x_title = word(language, "date")
    chart.y_title = word(language, "days" if metric == "dso" else "percent")
    chart.x_labels = [point.end.isoformat() for point in board.history]
    for key, name in zip(series, names, strict=True):
        chart.add(name, [None if v is None else float(v) for v in values[key]])
    rows = tuple(
        (point.end, *(values[key][index] for key in series)) for index, point in enumerate(board.history)
    )
    return Chart(
        kind=metric,
        title=title,
        svg=_render(chart),
        columns=(word(language, "date"), *names),
        rows=rows if series else (),
    )


def outbox_chart(board: Dashboard, language: str) -> Chart:
    """Bars per message state, stacked by channel."""
    channels = sorted({channel for state in board.outbox for channel, _ in state.by_channel})
    title = word(language, "outbox")
    chart = _new(pygal.StackedBar, "outbox", title, language)
    chart.x_title = word(language, "state")
    chart.y_title = word(language, "messages")
    chart.x_labels = [word(language, state.state) for state in board.outbox]
    counts = [dict(state.by_channel) for state in board.outbox]
    for channel in channels:
        chart.add(word(language, channel), [count.get(channel, 0) for count in counts])
    return Chart(
        kind="outbox",
        title=title,
        svg=_render(chart),
        columns=(
            word(language, "state"),
            *(word(language, channel) for channel in channels),
            word(language, "total"),
        ),
        rows=tuple(
            (word(language, state.state), *(count.get(c, 0) for c in channels), state.count)
            for state, count in zip(board.outbox, counts, strict=True)
        ),
    )


def dashboard_charts(board: Dashboard, language: str) -> tuple[Chart, ...]:
    """Every chart of the dashboard page, in page order."""
    return (
        *aging_charts(board, language),
        kpi_chart(board, language, "dso"),
        kpi_chart(board, language, "cei"),
        kpi_chart(board, language, "overdue_rate"),
        outbox_chart(board, language),
    )


def _kpi_series(board: Dashboard) -> list[tuple[str, str]]:
    # Tiers in tier order then "all", per currency; only series with a row at some point.
    keys: dict[tuple[str, str], None] = {}
    for point in board.history:
        for row in (*point.by_tier, *point.totals):
            keys.setdefault((row.tier, row.currency), None)
    order = {"strategic": 0, "cooperative": 1, "cautious": 2, "all": 3}
    return sorted(keys, key=lambda key: (key[1], order.get(key[0], 9), key[0]))


def _series_name(language: str, tier: str, currency: str, single_currency: bool) -> str:
    return word(language, tier) if single_currency else f"{word(language, tier)} {currency}"


def _metric(row: KpiRow, metric: KpiMetric) -> Decimal | None:
    value: Decimal | None = getattr(row, metric)
    return value


def _new(kind: Any, chart_id: str, title: str, language: str) -> Any:
    chart = kind(
        style=_STYLE,
        js=[],  # no tooltip script from a CDN: the page works offline and without JavaScript
        disable_xml_declaration=True,  # inlined in an HTML page
        no_data_text=word(language, "no_data"),
        legend_at_bottom=True,
        truncate_legend=-1,
        x_label_rotation=30,
        width=800,
        height=420,
    )
    chart.title = title
    chart.uuid = chart_id  # the SVG's id scopes its CSS: fixed per kind, so output is deterministic
    chart.add_xml_filter(_without_scripts_or_comments)
    return chart


def _without_scripts_or_comments(root: Any) -> Any:
    # pygal always writes a configuration <script> and comments with a URL and today's date.
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag
            if not isinstance(tag, str) or tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return root


def _render(chart: Any) -> str:
    # With the XML declaration off, pygal returns text, not bytes.
    return str(chart.render(is_unicode=True))
