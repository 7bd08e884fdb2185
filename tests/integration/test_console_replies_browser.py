"""The console's Replies pages in a real browser (chromium through Playwright) over real HTTP: the
replies awaiting confirmation as each role sees them, one reply's text, confirming up to the reply
handling's ``confirm_reply``, and replies in the customer's timeline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.access.users import add_user
from bot.config import EvidenceSettings, Settings
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.replies.model import ReplyKind
from bot.store import tables
from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from tests.support.browser import ConsoleServer, log_in, screenshot, start_clock

PASSWORD = "s3cret-horse-battery"
USERS = {
    "alice@xinghe.cn": ("collector", "zh-CN"),
    "bob@xinghe.cn": ("collector", "en"),
    "mgr": ("manager", "en"),
    "lawyer": ("legal", "en"),
    "root": ("admin", "en"),
}


def _mail(sender: str, subject: str, text: str) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "ar@xinghe.cn", subject
    mail.set_content(text)
    return mail.as_bytes()


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path) -> Iterator[ConsoleServer]:
    """Alice works A1, Bob B1. Replies: 1 (A1, a promise, unsure), 2 (B1, a dispute, unsure), 3 (no
    customer, unsure), 4 (A1, an opt-out already handled); A1's timeline has the reply events."""
    clock = start_clock()
    now = clock()
    engine = make_engine(sqlite_url)
    upgrade(engine)
    settings = Settings(evidence=EvidenceSettings(artifact_dir="artifacts"), base_dir=tmp_path)
    store = ArtifactStore(tmp_path / "artifacts")
    replies = [
        ("A1", "ap@a1.cn", "回复：付款提醒", "我们月底前付清，谢谢。", "confirm", ReplyKind.PROMISE, "0.620"),
        ("B1", "ap@b1.com", "Re: statement", "The quantity on INV-B1 was short.", "confirm", ReplyKind.DISPUTE, "0.550"),
        (None, "stranger@else.com", "hello", "Who are you?", "confirm", ReplyKind.OTHER, "0.300"),
        ("A1", "+8613800138000", "", "退订", "handled", ReplyKind.OPT_OUT, "0.990"),
    ]  # fmt: skip
    with Session(engine) as session:
        for customer, manager in (("A1", "alice@xinghe.cn"), ("B1", "bob@xinghe.cn")):
            session.add(
                tables.Customer(
                    id=customer, name=f"{customer} Trading", country="CN", timezone="Asia/Shanghai",
                    language="zh-CN", account_manager=manager,
                )
            )  # fmt: skip
            session.add(
                tables.Invoice(
                    number=f"INV-{customer}", customer_id=customer, currency="CNY", amount=Decimal("8800.00"),
                    issue_date=date(2026, 4, 1), due_date=date(2026, 5, 1),
                )
            )  # fmt: skip
        session.flush()
        for n, (customer, sender, subject, text, state, kind, sure) in enumerate(replies, 1):
            sms = sender.startswith("+")
            raw = f"MessageSid=SM{n}&Body={text}".encode() if sms else _mail(sender, subject, text)
            session.add(
                tables.InboundMessage(
                    channel="sms" if sms else "email", source_key=f"test:{n}", raw_sha256=store.put(raw),
                    sender=sender, subject=subject, received_at=now, state=state, attempts=1,
                    customer_id=customer, matched_by="sender" if customer else None, kind=kind.value,
                    confidence=sure, action="sms opted out" if state == "handled" else None,
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
        session.flush()
        append_events(
            session,
            now,
            [
                NewEvent(EventKind.REPLY_RECEIVED, "dunbot", {"inbound": 1, "kind": "promise", "sender": "ap@a1.cn"}, "A1"),
                NewEvent(EventKind.REPLY_ACTED, "dunbot", {"inbound": 4, "kind": "opt-out",
                         "action": "sms opted out", "confirmed": "alice@xinghe.cn"}, "A1"),
            ],
        )  # fmt: skip
        session.commit()
    for name, (role, language) in USERS.items():
        add_user(engine, name, role, PASSWORD, actor="user:ops", now=now, language=language)
    running = ConsoleServer(engine, tmp_path / "artifacts", clock, settings=settings)
    running.engine = engine  # type: ignore[attr-defined]
    yield running
    running.close()
    engine.dispose()


def _page(browser: Any, server: ConsoleServer, name: str) -> tuple[Any, Any]:
    context = browser.new_context()
    page = context.new_page()
    assert log_in(page, server, name, PASSWORD).status == 200
    return context, page


def _listed(page: Any) -> list[str]:
    rows = page.locator("table.replies tbody tr")
    return [rows.nth(i).get_attribute("data-reply") for i in range(rows.count())]


def _csrf(page: Any) -> str:
    token = page.locator("header form input[name=csrf_token]").get_attribute("value")
    assert token
    return str(token)


def _states(server: ConsoleServer) -> list[str]:
    engine: Engine = server.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return list(connection.execute(sa.text("SELECT state FROM inbound_message ORDER BY id")).scalars())


def test_a_collector_sees_and_confirms_only_their_own_customers_replies(
    browser: Any, server: ConsoleServer
) -> None:
    """Alice (zh-CN) finds the Replies link, sees reply 1 only (not Bob's, not the unmatched one),
    with a select offering the other kinds; reply 1's page shows its text; Bob's reply is 404, and
    so is confirming it; the handled one cannot be confirmed (400, said why); nothing changed."""
    context, page = _page(browser, server, "alice@xinghe.cn")
    page.click("header nav a[href='/replies']")
    assert page.locator("h1").inner_text() == "客户回复"
    assert _listed(page) == ["1"]
    options = page.locator("tr[data-reply='1'] select[name=kind] option")
    values = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert values[0] == "" and "按识别结果：承诺付款" in options.nth(0).inner_text()
    assert set(values[1:]) == {k.value for k in ReplyKind} - {"promise"}
    screenshot(page, "replies-collector-zh")
    page.click("tr[data-reply='1'] a[href='/replies/1'] >> nth=0")
    assert "我们月底前付清，谢谢。" in page.locator("pre.text").inner_text()
    assert "ap@a1.cn" in page.locator("dd.sender").inner_text()
    assert page.locator("form.confirm").count() == 1
    screenshot(page, "reply-collector-zh")
    for path in ("/replies/2", "/replies/3", "/replies/999", "/replies/x"):
        assert page.goto(server.url(path)).status == 404, path
    token = _csrf(page)
    post = context.request.post
    assert post(server.url("/replies/2/confirm"), form={"csrf_token": token}, max_redirects=0).status == 404
    handled = post(server.url("/replies/4/confirm"), form={"csrf_token": token}, max_redirects=0)
    assert handled.status == 400 and "does not await confirmation" in handled.text()
    bad_kind = post(
        server.url("/replies/1/confirm"), form={"csrf_token": token, "kind": "maybe"}, max_redirects=0
    )
    assert bad_kind.status == 400 and "is not a kind of reply" in bad_kind.text()
    assert (
        post(server.url("/replies/1/confirm"), form={"kind": "dispute"}, max_redirects=0).status == 403
    )  # CSRF
    assert _states(server) == ["confirm", "confirm", "confirm", "handled"]
    context.close()


def test_the_role_matrix(browser: Any, server: ConsoleServer) -> None:
    """A manager sees every waiting reply (the unmatched one too) with Confirm; legal reads them all
    without forms and is refused a confirm (403); an admin is refused the page and the post."""
    context, page = _page(browser, server, "mgr")
    assert page.goto(server.url("/replies")).status == 200
    assert sorted(_listed(page)) == ["1", "2", "3"]
    assert page.locator("form.confirm").count() == 3
    screenshot(page, "replies-manager-en")
    context.close()

    context, page = _page(browser, server, "lawyer")
    assert page.goto(server.url("/replies")).status == 200
    assert sorted(_listed(page)) == ["1", "2", "3"] and page.locator("form.confirm").count() == 0
    assert page.goto(server.url("/replies/2")).status == 200 and page.locator("form.confirm").count() == 0
    refused = context.request.post(
        server.url("/replies/2/confirm"), form={"csrf_token": _csrf(page)}, max_redirects=0
    )
    assert refused.status == 403
    context.close()

    context, page = _page(browser, server, "root")
    assert page.locator("header nav a[href='/replies']").count() == 0
    assert page.goto(server.url("/replies")).status == 403
    assert page.goto(server.url("/replies/1")).status == 403
    refused = context.request.post(
        server.url("/replies/1/confirm"), form={"csrf_token": _csrf(page)}, max_redirects=0
    )
    assert refused.status == 403
    context.close()
    assert _states(server) == ["confirm", "confirm", "confirm", "handled"]


def test_replies_show_in_the_customer_s_timeline(browser: Any, server: ConsoleServer) -> None:
    """A1's timeline names the reply received and the one acted on (as the reply handling writes
    them: ``kind``, ``action``, ``confirmed``), each linking to its reply."""
    context, page = _page(browser, server, "alice@xinghe.cn")
    assert page.goto(server.url("/customers/A1")).status == 200
    received = page.locator("li.kind-reply_received")
    acted = page.locator("li.kind-reply_acted")
    assert received.locator(".label").inner_text() == "收到客户回复"
    assert "承诺付款" in received.locator(".summary").inner_text()
    assert acted.locator(".summary").inner_text() == "按退订处理，经人工确认"
    assert received.locator("a[href='/replies/1']").count() == 1
    assert acted.locator("a[href='/replies/4']").count() == 1
    screenshot(page, "customer-timeline-replies-zh")
    context.close()


def test_one_click_confirm_acts_on_the_reply(browser: Any, server: ConsoleServer) -> None:
    """Alice picks "dispute" for reply 1 and clicks Confirm: back on /replies, reply 1 no longer
    waits (the reply handling acted on it)."""
    context, page = _page(browser, server, "alice@xinghe.cn")
    page.goto(server.url("/replies"))
    page.select_option("tr[data-reply='1'] select[name=kind]", "dispute")
    with page.expect_navigation() as navigation:
        page.click("tr[data-reply='1'] form.confirm button")
    assert navigation.value.status == 200 and page.url.endswith("/replies")
    assert _listed(page) == [] and _states(server)[0] != "confirm"
    context.close()


def test_a_confirmation_that_cannot_be_done_is_refused_with_the_reason(
    browser: Any, server: ConsoleServer
) -> None:
    """The manager confirms the unmatched reply 3 as "other" without saying whose it is: a 400 page
    naming what is missing, and the reply still waits (nothing written)."""
    context, page = _page(browser, server, "mgr")
    page.goto(server.url("/replies"))
    refused = context.request.post(
        server.url("/replies/3/confirm"),
        form={"csrf_token": _csrf(page), "kind": "other"},
        max_redirects=0,
    )
    assert refused.status == 400
    assert "say whose reply 3 is" in refused.text()
    assert _states(server)[2] == "confirm"
    context.close()
