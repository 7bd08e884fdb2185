"""The customer page in a real browser (chromium through Playwright) over real HTTP, on a ledger the
real planner and outbox worked (tests/support/customer_story.py): what each message said, the signed
PDF served inline and only to who may see the customer, the message page, the timeline's paging, the
roles, and both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.access.users import add_user
from bot.outreach.collector import set_dispute
from bot.render.verification import verify_notice_bytes
from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from bot.web.console.guard import PDF_CSP
from tests.conftest import require_cjk_font
from tests.support.browser import Clock, ConsoleServer, log_in, screenshot
from tests.support.customer_story import LI_NA, NOON, WANG_WEI, story_settings, tell_story

PASSWORD = "s3cret-horse-battery"
USERS = {
    LI_NA: ("collector", "zh-CN"),
    WANG_WEI: ("collector", "zh-CN"),
    "boss@xinghe.com.cn": ("manager", "zh-CN"),
    "lawyer@xinghe.com.cn": ("legal", "en"),
    "admin@xinghe.com.cn": ("admin", "en"),
}
DISPUTE_TURNS = 41  # enough events for a second page of the timeline (50 a page)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trial_certificate: Any) -> Iterator[ConsoleServer]:
    """The story on SQLite, a user of each role, and C1's second invoice disputed and settled over
    and over (the last turn leaves it disputed), served at 14:00 in Shanghai on the story's day."""
    require_cjk_font()
    base = tmp_path_factory.mktemp("customer-console")
    engine = make_engine(f"sqlite:///{base}/dunbot.db")
    upgrade(engine)
    settings = story_settings(base, trial_certificate.pkcs12)
    tell_story(engine, settings)
    for name, (role, language) in USERS.items():
        add_user(engine, name, role, PASSWORD, actor="user:ops", now=NOON, language=language)
    for turn in range(DISPUTE_TURNS):
        opened = turn % 2 == 0
        set_dispute(
            engine,
            "INV-C1-NEXT",
            opened,
            "delivery short by two pallets" if opened else "credit note agreed",
            f"user:{LI_NA}",
            NOON + timedelta(hours=1, seconds=turn),
        )
    running = ConsoleServer(
        engine, settings.path("artifacts"), Clock(NOON + timedelta(hours=2)), settings=settings
    )
    running.engine = engine  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        running.close()
        engine.dispose()


def _message_of(server: ConsoleServer, customer: str, channel: str) -> int:
    engine: Engine = server.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text("SELECT id FROM message WHERE customer_id = :c AND channel = :ch"),
                {"c": customer, "ch": channel},
            ).scalar_one()
        )


def _signature_valid(pdf: bytes) -> bool:
    """pyHanko's check of the notice, on a thread of its own: Playwright holds this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(verify_notice_bytes, pdf, "notice.pdf").result().ok


def _session(browser: Any, server: ConsoleServer, name: str) -> tuple[Any, Any]:
    context = browser.new_context()
    page = context.new_page()
    assert log_in(page, server, name, PASSWORD).status == 200
    return context, page


def test_a_collector_sees_what_each_message_said_and_the_signed_pdf(
    browser: Any, server: ConsoleServer
) -> None:
    context, page = _session(browser, server, LI_NA)
    response = page.goto(server.url("/customers/C1"))
    assert response.status == 200 and response.headers["cache-control"] == "no-store"
    assert page.locator("h1").inner_text().startswith("杭州远航贸易有限公司")
    screenshot(page, "customer-collector-zh")
    facts = page.locator("#facts").inner_text()
    assert LI_NA in facts and "合作级" in facts and "程序式" in facts and "80,000.00" in facts
    scorecard = page.locator("#scorecard").inner_text()
    assert "由人工指定为合作级。" in scorecard and "tier set by override to cooperative" in scorecard
    invoices = page.locator("#invoices").inner_text()
    assert "INV-C1-15" in invoices and "¥20,000.00" in invoices and "¥3,000.00" in invoices
    assert "2026年6月20日" in page.locator("#invoice-INV-C1-15 .promise").inner_text()
    assert "有异议" in page.locator("#invoice-INV-C1-NEXT").inner_text()

    timeline = page.locator("#timeline")
    sms = timeline.locator("li.kind-message_sent", has_text="短信")
    assert "INV-C1-15逾期未付CNY 20,000.00" in sms.locator("pre.text").inner_text()
    assert "+8613800138000" in sms.inner_text() and "已发出" in sms.inner_text()
    mail = timeline.locator("li.kind-message_sent", has_text="电子邮件")
    assert mail.locator(".subject").inner_text().startswith("正式催款函")
    assert "INV-C1-15" in mail.locator("pre.text").inner_text()
    assert "To: ap@c1.example.cn" in mail.inner_text()
    assert timeline.locator("li.kind-promise").first.inner_text().count("承诺于 2026-06-20 付款") == 1
    assert "PAY-1" in timeline.locator("li.kind-payment").inner_text()
    assert "异议" in timeline.locator("li.kind-dispute").first.inner_text()
    assert page.locator("#actions").count() == 1  # the actions' forms go here (customer_actions.html)

    link = mail.locator(".notice a")
    href = link.get_attribute("href")
    assert href == f"/customers/C1/messages/{_message_of(server, 'C1', 'email')}/notice.pdf"
    assert link.get_attribute("target") == "_blank"
    pdf = context.request.get(server.url(href))
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert re.fullmatch(r'inline; filename="DN-\d{8}-\d{6}\.pdf"', pdf.headers["content-disposition"])
    assert pdf.headers["cache-control"] == "no-store"
    # the browser's PDF viewer may show it; every HTML page keeps the strict policy
    assert (
        pdf.headers["content-security-policy"] == PDF_CSP and pdf.headers["x-frame-options"] == "SAMEORIGIN"
    )
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    body = pdf.body()
    assert body.startswith(b"%PDF") and _signature_valid(body)
    # the letter carried the very same file
    letter = context.request.get(
        server.url(f"/customers/C1/messages/{_message_of(server, 'C1', 'letter')}/notice.pdf")
    )
    assert letter.status == 200 and letter.body() == body
    context.close()


def test_the_message_page_shows_the_content_and_its_history(browser: Any, server: ConsoleServer) -> None:
    context, page = _session(browser, server, LI_NA)
    page.goto(server.url("/customers/C1"))
    mail = page.locator("#timeline li.kind-message_sent", has_text="电子邮件")
    with page.expect_navigation():
        mail.locator(".delivery a").click()
    assert page.url == server.url(f"/customers/C1/messages/{_message_of(server, 'C1', 'email')}")
    screenshot(page, "customer-message-email-zh")
    assert page.locator("h1").inner_text().endswith("正式催款函 · 电子邮件")
    assert page.locator("#content .subject").inner_text().startswith("正式催款函")
    assert ".pdf" in page.locator("#content table.attachments").inner_text()
    history = page.locator("#history").inner_text()
    assert "sent" in history or "已发出" in history
    pdf = page.locator("#content .notice a").get_attribute("href")
    assert pdf is not None and context.request.get(server.url(pdf)).status == 200
    page.goto(server.url(f"/customers/C1/messages/{_message_of(server, 'C1', 'sms')}"))
    screenshot(page, "customer-message-sms-zh")
    assert "INV-C1-15逾期未付" in page.locator("#content pre.text").inner_text()
    assert page.locator("#content .notice").count() == 0
    context.close()


def test_a_collector_gets_404_for_another_collectors_customer_and_its_pdf(
    browser: Any, server: ConsoleServer
) -> None:
    context, page = _session(browser, server, LI_NA)
    theirs = _message_of(server, "C2", "email")
    assert page.goto(server.url("/customers/C2")).status == 404
    screenshot(page, "customer-not-found-collector")
    assert "宁波港湾" not in page.content()
    for path in (
        f"/customers/C2/messages/{theirs}/notice.pdf",
        f"/customers/C2/messages/{theirs}",
        f"/customers/C1/messages/{theirs}/notice.pdf",  # C2's message under my customer
        f"/customers/C1/messages/{theirs}",
        f"/customers/C1/messages/{_message_of(server, 'C1', 'sms')}/notice.pdf",  # no notice
        "/customers/C1/messages/abc",
        "/customers/C1/messages/99999/notice.pdf",
        "/customers/C1/messages/2147483648/notice.pdf",
        "/customers/C1/messages/99999999999999999999",
        "/customers/NOPE",
    ):
        answer = context.request.get(server.url(path))
        assert answer.status == 404, path
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], path
        assert b"%PDF" not in answer.body() and "宁波港湾".encode() not in answer.body(), path
    context.close()
    # the other collector opens their own
    context, page = _session(browser, server, WANG_WEI)
    assert page.goto(server.url("/customers/C2")).status == 200
    screenshot(page, "customer-other-collector-own")
    assert context.request.get(server.url(f"/customers/C2/messages/{theirs}/notice.pdf")).status == 200
    assert page.goto(server.url("/customers/C1")).status == 404
    screenshot(page, "customer-not-found-other-collector")
    context.close()


def test_the_timeline_pages_to_older_events_and_back(browser: Any, server: ConsoleServer) -> None:
    context, page = _session(browser, server, "boss@xinghe.com.cn")
    page.goto(server.url("/customers/C1"))
    first = page.locator("ol.timeline > li").evaluate_all("items => items.map(i => i.id)")
    assert len(first) == 50 and page.locator("#timeline a[href='/customers/C1']").count() == 0
    with page.expect_navigation():
        page.locator("#timeline a.older").click()
    assert re.search(r"/customers/C1\?before=\d+$", page.url)
    screenshot(page, "customer-timeline-older-zh")
    second = page.locator("ol.timeline > li").evaluate_all("items => items.map(i => i.id)")
    assert second and not set(first) & set(second)
    seqs = [int(i.split("-")[1]) for i in first + second]
    assert seqs == sorted(seqs, reverse=True)  # newest first, across the pages
    assert page.locator("#timeline a.older").count() == 0  # the story's first events are here
    assert page.locator("ol.timeline > li").last.locator(".label").inner_text() == "信用等级评定"
    with page.expect_navigation():
        page.locator("#timeline a[href='/customers/C1']").click()
    assert page.url == server.url("/customers/C1")
    for bad in ("abc", "0", "-3", "1.5", "", "2147483648", "99999999999999999999", "１２"):
        answer = page.goto(server.url(f"/customers/C1?before={bad}"))
        assert answer.status == 400, bad
    screenshot(page, "customer-bad-before")
    context.close()


def test_legal_reads_in_english_and_an_admin_is_refused(browser: Any, server: ConsoleServer) -> None:
    context, page = _session(browser, server, "lawyer@xinghe.com.cn")
    assert page.goto(server.url("/customers/C1")).status == 200
    screenshot(page, "customer-legal-en")
    assert page.locator("#actions").count() == 0  # read only
    assert "cooperative" in page.locator("#facts").inner_text()
    assert page.locator("#scorecard .reason").inner_text() == "Set by override to cooperative."
    text = page.locator("#timeline").inner_text()
    assert "Promise to pay" in text and "to pay by 2026-06-20" in text and "Payment" in text
    assert "Formal notice" in text and "E-mail" in text and "SMS" in text
    assert "Jun 20, 2026" in page.locator("#invoice-INV-C1-15 .promise").inner_text()
    assert "CN¥20,000.00" in page.locator("#invoices").inner_text()
    href = page.locator("#timeline .notice a").first.get_attribute("href")
    assert href is not None and context.request.get(server.url(href)).status == 200
    context.close()
    context, page = _session(browser, server, "admin@xinghe.com.cn")
    assert page.goto(server.url("/customers/C1")).status == 403
    href_status = context.request.get(server.url(href)).status
    assert href_status == 403
    screenshot(page, "customer-admin-refused")
    context.close()


def test_an_approved_letter_waits_for_the_contact_window_in_both_languages(
    browser: Any, server: ConsoleServer
) -> None:
    noon_plus_two = server.clock.now
    server.clock.now = NOON + timedelta(hours=10)  # 22:00 in Shanghai: outside the contact window
    try:
        context, page = _session(browser, server, "boss@xinghe.com.cn")
        assert page.goto(server.url("/customers/C3")).status == 200
        screenshot(page, "customer-waiting-approved-zh")
        waiting = page.locator("#waiting ul.waiting > li")
        assert waiting.count() == 2
        for item in waiting.all():
            text = item.inner_text()
            assert "律师函" in text and "已计划，尚未发送" in text and "INV-C3-46" in text
            assert "不在客户可联系时段内" in text and "最早发送时间" in text and "2026年6月11日 08:00" in text
        timeline = page.locator("#timeline").inner_text()
        assert "审批决定" in timeline and "提交审批" in timeline and "逾期预警" in timeline
        assert "US$3,000.00" in page.locator("#aging").inner_text()
        hold = page.locator("#timeline li.kind-message_sent", has_text="电子邮件")
        assert hold.locator(".notice a").count() == 1 and hold.locator(".subject").inner_text()
        with page.expect_navigation():
            waiting.first.locator("a").click()
        screenshot(page, "customer-message-waiting-zh")
        assert "不在客户可联系时段内" in page.locator("#waiting").inner_text()
        context.close()

        context, page = _session(browser, server, "lawyer@xinghe.com.cn")
        page.goto(server.url("/customers/C3"))
        screenshot(page, "customer-waiting-approved-en")
        text = page.locator("#waiting").inner_text()
        assert "Lawyer's letter" in text and "outside the customer's contact hours" in text
        assert "It can go from" in text and "Jun 11, 2026" in text
        timeline = page.locator("#timeline").inner_text()
        assert "Approval decision" in timeline and "approved" in timeline and "Approval requested" in timeline
        context.close()
    finally:
        server.clock.now = noon_plus_two
