"""The dashboard's SVG charts: valid, self-contained (no script, nothing fetched), deterministic, in
both languages, and with every number also in the chart's table."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bot.domain.reports import AGING_BUCKETS, KpiRow
from bot.reporting.dashboard import Dashboard, KpiPoint, OutboxState, TierAging
from bot.reporting.operations import CycleInfo
from bot.web.charts import FONT_FAMILY, Cell, Chart, dashboard_charts, word
from bot.web.console.i18n import translations

D = Decimal
SVG = "{http://www.w3.org/2000/svg}"


def _kpi(tier: str, currency: str, dso: str | None, cei: str | None, rate: str) -> KpiRow:
    return KpiRow(
        tier=tier,
        currency=currency,
        receivables=D("1000.00"),
        overdue=D("400.00"),
        credit_sales=D("3000.00"),
        beginning_receivables=D("500.00"),
        overdue_rate=D(rate),
        dso=None if dso is None else D(dso),
        cei=None if cei is None else D(cei),
    )


def _board() -> Dashboard:
    return Dashboard(
        as_of=date(2026, 11, 23),
        now=datetime(2026, 11, 23, 1, 0, tzinfo=UTC),
        buckets=AGING_BUCKETS,
        aging=(
            TierAging(
                "strategic", "CNY", (D("505350.51"), D("1321378.58"), D("571178.55"), D("72455.32"), D(0))
            ),
            TierAging("cooperative", "CNY", (D("1200.00"), D(0), D("300.50"), D(0), D("9999.99"))),
            TierAging("cautious", "USD", (D(0), D("4100.25"), D(0), D(0), D("88000.00"))),
        ),
        kpi_days=90,
        history=(
            KpiPoint(date(2026, 9, 30), (_kpi("strategic", "CNY", None, None, "12.5"),), ()),
            KpiPoint(
                date(2026, 10, 31),
                (
                    _kpi("strategic", "CNY", "41.3", "77.7", "20.0"),
                    _kpi("cautious", "USD", "95.1", "40.2", "61.0"),
                ),
                (_kpi("all", "CNY", "41.3", "77.7", "20.0"), _kpi("all", "USD", "95.1", "40.2", "61.0")),
            ),
            KpiPoint(
                date(2026, 11, 23),
                (_kpi("strategic", "CNY", "38.0", "80.4", "18.2"),),
                (_kpi("all", "CNY", "38.0", "80.4", "18.2"),),
            ),
        ),
        last_cycle=CycleInfo(
            worker="w",
            as_of="2026-11-23",
            started_at=datetime(2026, 11, 23, 1, 0, tzinfo=UTC),
            finished_at=datetime(2026, 11, 23, 1, 2, tzinfo=UTC),
            ok=True,
            error=None,
            messages_sent=78,
        ),
        outbox=(
            OutboxState("planned", 19, (("email", 12), ("letter", 1), ("sms", 6))),
            OutboxState("sent", 78, (("email", 41), ("sms", 24), ("task", 13))),
            OutboxState("unknown", 5, (("letter", 5),)),
        ),
    )


def _charts(language: str) -> dict[str, Chart]:
    return {chart.kind: chart for chart in dashboard_charts(_board(), translations(language))}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_chart_is_valid_svg_without_script_or_outside_reference(language: str) -> None:
    charts = _charts(language)
    assert set(charts) == {"aging-CNY", "aging-USD", "dso", "cei", "overdue_rate", "outbox"}
    for chart in charts.values():
        root = ET.fromstring(chart.svg)
        assert root.tag == f"{SVG}svg"
        assert root.get("id") == f"chart-{chart.kind}"
        tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
        assert "script" not in tags and "<script" not in chart.svg
        assert "foreignObject" not in tags
        # Nothing to fetch: once the namespace names are set aside, no URL at all, and every link
        # (if any) points inside the document.
        without_namespaces = re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", chart.svg)
        assert "http" not in without_namespaces and "//" not in without_namespaces
        assert "@import" not in chart.svg and "<?xml-stylesheet" not in chart.svg
        for element in root.iter():
            for name, value in element.attrib.items():
                if name.endswith("href"):
                    assert value.startswith("#"), (name, value)
        assert "<!--" not in chart.svg  # pygal's comments carry its URL and today's date


def test_the_same_data_gives_the_same_bytes_and_each_chart_its_own_id() -> None:
    first, second = (
        dashboard_charts(_board(), translations("zh-CN")),
        dashboard_charts(_board(), translations("zh-CN")),
    )
    assert [c.svg for c in first] == [c.svg for c in second]
    assert len({ET.fromstring(c.svg).get("id") for c in first}) == len(first)


def test_chinese_titles_labels_and_a_cjk_font() -> None:
    charts = _charts("zh-CN")
    aging = charts["aging-CNY"]
    assert aging.title == "各等级账龄（CNY）" and aging.title in aging.svg
    for label in ("战略级", "合作级", "未到期", "逾期 90 天以上", "客户等级", "未收金额（CNY）"):
        assert label in aging.svg, label
    assert "应收账款周转天数" in charts["dso"].svg and "日期" in charts["dso"].svg
    assert "回款有效指数" in charts["cei"].svg
    for label in ("发件箱各状态", "待发送", "结果未知", "邮件", "短信", "信函"):
        assert label in charts["outbox"].svg, label
    assert aging.columns[0] == "客户等级" and aging.rows[0][0] == "战略级"
    assert "WenQuanYi Zen Hei" in FONT_FAMILY and "Noto Sans CJK SC" in FONT_FAMILY
    style = "".join(e.text or "" for e in ET.fromstring(aging.svg).iter(f"{SVG}style"))
    assert "WenQuanYi Zen Hei" in style


def test_english_labels() -> None:
    charts = _charts("en")
    assert "Aging per tier (CNY)" in charts["aging-CNY"].svg and "Strategic" in charts["aging-CNY"].svg
    assert "DSO over time" in charts["dso"].svg and "Outbox by state" in charts["outbox"].svg
    assert "战略级" not in charts["aging-CNY"].svg


def test_every_value_is_in_the_tables() -> None:
    board, charts = _board(), _charts("en")
    for row in board.aging:
        table = charts[f"aging-{row.currency}"]
        assert set(row.amounts) | {row.total} <= set(table_values(table))
    assert charts["aging-CNY"].rows[0] == ("Strategic", *board.aging[0].amounts, board.aging[0].total)
    for metric in ("dso", "cei", "overdue_rate"):
        table = charts[metric]
        assert [row[0] for row in table.rows] == [point.end for point in board.history]
        for point in board.history:
            for kpi in (*point.by_tier, *point.totals):
                column = next(
                    i for i, name in enumerate(table.columns) if name == f"{_en(kpi.tier)} {kpi.currency}"
                )
                cell = next(row[column] for row in table.rows if row[0] == point.end)
                assert cell == getattr(kpi, metric)
    # No sales in September: no DSO, an empty cell (not a zero), and the line has a gap there.
    assert charts["dso"].rows[0][1:] == (None, None, None, None)
    outbox = charts["outbox"]
    assert outbox.columns == ("State", "E-mail", "Letter", "SMS", "Collector task", "Total")
    assert outbox.rows == (
        ("Planned", 12, 1, 6, 0, 19),
        ("Sent", 41, 0, 24, 13, 78),
        ("Outcome unknown", 0, 5, 0, 0, 5),
    )


def test_the_svg_carries_the_drawn_values() -> None:
    # pygal writes each drawn value in a <desc class="value"> (what a browser shows on hover, too).
    svg = _charts("en")["outbox"].svg
    values = {e.text for e in ET.fromstring(svg).iter(f"{SVG}desc") if e.get("class") == "value"}
    assert {"12", "41", "5", "13"} <= values


def table_values(chart: Chart) -> list[Cell]:
    return [cell for row in chart.rows for cell in row]


def _en(tier: str) -> str:
    return {
        "strategic": "Strategic",
        "cooperative": "Cooperative",
        "cautious": "Cautious",
        "all": "All tiers",
    }[tier]


def test_the_chart_words_come_from_the_gettext_catalogs() -> None:
    # One i18n mechanism: every chart word is a msgid (context "dashboard") of dashboard.po.
    from bot.web.charts import _MSGIDS, CONTEXT

    for language in ("en", "zh-CN"):
        catalog = translations(language)
        for key, msgid in _MSGIDS.items():
            text = catalog.pgettext(CONTEXT, msgid)
            assert text, (language, key)
            if language == "zh-CN" and msgid not in ("SMS", "%%"):
                assert text != msgid, key  # translated, not fallen back to the English msgid
    assert word(translations("zh-CN"), "aging", currency="CNY") == "各等级账龄（CNY）"
    assert word(translations("en"), "cei", days=90) == "CEI over time (%, 90-day period)"
    assert word(translations("en"), "a-state-added-later") == "a-state-added-later"
