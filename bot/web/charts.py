"""The dashboard's charts: server-rendered SVG by pygal, readable without JavaScript (DESIGN §10).

Each function takes a :class:`~bot.reporting.dashboard.Dashboard` and the user's message catalog
(:class:`Words`: the chart words are msgids of the console's gettext catalogs, context "dashboard")
and returns :class:`Chart` values: the SVG, served as an image by the dashboard page, and the same
numbers as a table (columns and rows of plain values, for the page to format in the user's locale).

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
from typing import Any, Literal, Protocol

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
# The first five colours are the aging buckets, from current (green) to 90+ days (dark red); the
# rest tell the KPI lines and the outbox's channels apart (pygal cycles through them).
COLORS = (
    "#3a8f5c", "#e5c33b", "#f08a24", "#d9483b", "#7d1f1a",
    "#2f6db5", "#8e5bb5", "#1fa5a5", "#8c8c8c", "#b5651d", "#5b8c2a", "#c2378f",
)  # fmt: skip
_STYLE = Style(font_family=FONT_FAMILY, background="white", plot_background="white", colors=COLORS)

# The chart words, as msgids of the console's gettext catalogs (``dashboard.po``, context
# "dashboard"): the same catalogs as the page's own text, so the page has one i18n mechanism. The
# context keeps these short words apart from the same English words other pages translate.
CONTEXT = "dashboard"
_MSGIDS: dict[str, str] = {
    "aging": "Aging per tier (%(currency)s)",
    "tier": "Tier",
    "amount": "Outstanding (%(currency)s)",
    "total": "Total",
    "dso": "DSO over time (days, %(days)s-day period)",
    "cei": "CEI over time (%%, %(days)s-day period)",
    "overdue_rate": "Overdue rate over time (%%)",
    "date": "Date",
    "days": "Days",
    "percent": "%%",
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
    "planned": "Planned",
    "claimed": "Claimed",
    "sending": "Sending",
    "sent": "Sent",
    "delivered": "Delivered",
    "undelivered": "Undelivered",
    "failed": "Failed",
    "unknown": "Outcome unknown",
    "cancelled": "Cancelled",
}


class Words(Protocol):
    """The user's message catalog (``gettext.GNUTranslations``; the console's pages compile it
    from the .po files with :func:`bot.web.console.i18n.translations`)."""

    def pgettext(self, context: str, message: str, /) -> str: ...


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: its SVG and its numbers as a table (cells are plain values, not yet formatted)."""

    kind: str  # "aging-CNY", "dso", "cei", "overdue_rate", "outbox": unique on a page
    title: str
    svg: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def word(words: Words, key: str, **values: object) -> str:
    """A chart word from the user's catalog; a key without a msgid (a state or channel added
    later) is shown as it is."""
    msgid = _MSGIDS.get(key)
    if msgid is None:
        return key
    return words.pgettext(CONTEXT, msgid) % values


def aging_charts(board: Dashboard, words: Words) -> tuple[Chart, ...]:
    """Stacked bars, one bar per tier and a stack per aging bucket; one chart per currency (amounts
    never mix currencies). No receivables: one empty chart that says so."""
    currencies = sorted({row.currency for row in board.aging}) or [""]
    charts = []
    for currency in currencies:
        rows = [row for row in board.aging if row.currency == currency]
        title = word(words, "aging", currency=currency or "-")
        chart = _new(pygal.StackedBar, f"aging-{currency or 'none'}", title, words)
        chart.x_title = word(words, "tier")
        chart.y_title = word(words, "amount", currency=currency or "-")
        chart.x_labels = [word(words, row.tier) for row in rows]
        if rows:
            for index, bucket in enumerate(board.buckets):
                chart.add(word(words, bucket), [float(row.amounts[index]) for row in rows])
        charts.append(
            Chart(
                kind=f"aging-{currency or 'none'}",
                title=title,
                svg=_render(chart),
                columns=(
                    word(words, "tier"),
                    *(word(words, bucket) for bucket in board.buckets),
                    word(words, "total"),
                ),
                rows=tuple((word(words, row.tier), *row.amounts, row.total) for row in rows),
            )
        )
    return tuple(charts)


def kpi_chart(board: Dashboard, words: Words, metric: KpiMetric) -> Chart:
    """Lines over the history points, one line per tier and currency and one for all tiers; a point
    without a denominator (no sales, nothing collectable) is a gap, and an empty cell in the table."""
    series = _kpi_series(board)
    single_currency = len({currency for _, currency in series}) <= 1
    names = [_series_name(words, tier, currency, single_currency) for tier, currency in series]
    values: dict[tuple[str, str], list[Decimal | None]] = {key: [] for key in series}
    for point in board.history:
        found = {(row.tier, row.currency): row for row in (*point.by_tier, *point.totals)}
        for key in series:
            row = found.get(key)
            values[key].append(None if row is None else _metric(row, metric))
    title = word(words, metric, days=board.kpi_days)
    chart = _new(pygal.Line, metric, title, words)
    chart.x_title = word(words, "date")
    chart.y_title = word(words, "days" if metric == "dso" else "percent")
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
        columns=(word(words, "date"), *names),
        rows=rows if series else (),
    )


def outbox_chart(board: Dashboard, words: Words) -> Chart:
    """Bars per message state, stacked by channel."""
    channels = sorted({channel for state in board.outbox for channel, _ in state.by_channel})
    title = word(words, "outbox")
    chart = _new(pygal.StackedBar, "outbox", title, words)
    chart.x_title = word(words, "state")
    chart.y_title = word(words, "messages")
    chart.x_labels = [word(words, state.state) for state in board.outbox]
    counts = [dict(state.by_channel) for state in board.outbox]
    for channel in channels:
        chart.add(word(words, channel), [count.get(channel, 0) for count in counts])
    return Chart(
        kind="outbox",
        title=title,
        svg=_render(chart),
        columns=(
            word(words, "state"),
            *(word(words, channel) for channel in channels),
            word(words, "total"),
        ),
        rows=tuple(
            (word(words, state.state), *(count.get(c, 0) for c in channels), state.count)
            for state, count in zip(board.outbox, counts, strict=True)
        ),
    )


def dashboard_charts(board: Dashboard, words: Words) -> tuple[Chart, ...]:
    """Every chart of the dashboard page, in page order."""
    return (
        *aging_charts(board, words),
        kpi_chart(board, words, "dso"),
        kpi_chart(board, words, "cei"),
        kpi_chart(board, words, "overdue_rate"),
        outbox_chart(board, words),
    )


def _kpi_series(board: Dashboard) -> list[tuple[str, str]]:
    # Tiers in tier order then "all", per currency; only series with a row at some point.
    keys: dict[tuple[str, str], None] = {}
    for point in board.history:
        for row in (*point.by_tier, *point.totals):
            keys.setdefault((row.tier, row.currency), None)
    order = {"strategic": 0, "cooperative": 1, "cautious": 2, "all": 3}
    return sorted(keys, key=lambda key: (key[1], order.get(key[0], 9), key[0]))


def _series_name(words: Words, tier: str, currency: str, single_currency: bool) -> str:
    return word(words, tier) if single_currency else f"{word(words, tier)} {currency}"


def _metric(row: KpiRow, metric: KpiMetric) -> Decimal | None:
    value: Decimal | None = getattr(row, metric)
    return value


def _new(kind: Any, chart_id: str, title: str, words: Words) -> Any:
    chart = kind(
        style=_STYLE,
        js=[],  # no tooltip script from a CDN: the page works offline and without JavaScript
        disable_xml_declaration=True,  # inlined in an HTML page
        no_data_text=word(words, "no_data"),
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
