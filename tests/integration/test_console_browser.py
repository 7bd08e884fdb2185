"""The console in a real browser (chromium through Playwright) against the app over real HTTP:
logging in as each role, wrong passwords and the lockout, idle expiry, logout, CSRF, the security
headers, and that no page shows a password hash or the session token."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from bot.access.users import add_user
from bot.store import tables
from bot.web.console.cookies import SESSION_COOKIE, Signer
from tests.support.browser import SECRET, ConsoleServer, log_in, screenshot

PASSWORD = "s3cret-horse-battery"
USERS = {
    "li.na@xinghe.com.cn": "collector",
    "wang.wei@xinghe.com.cn": "collector",
    "boss@xinghe.com.cn": "manager",
    "lawyer@xinghe.com.cn": "legal",
    "admin@xinghe.com.cn": "admin",
}


@pytest.fixture
def server(console_server: Any) -> ConsoleServer:
    """The console with a user of each role, and a customer with a task for each collector."""
    engine = console_server.engine
    now = console_server.clock()
    for name, role in USERS.items():
        add_user(
            engine,
            name,
            role,
            PASSWORD,
            actor="user:ops",
            now=now,
            language="en" if role == "legal" else "zh-CN",
        )
    # A collector sees the customers they work (their account_manager): one customer each.
    with Session(engine) as session:
        for customer, invoice, manager, title in (
            ("C1", "INV-1", "li.na@xinghe.com.cn", "Call about INV-1"),
            ("C2", "INV-2", "wang.wei@xinghe.com.cn", "Review INV-2 dispute"),
        ):
            session.add(
                tables.Customer(
                    id=customer,
                    name="杭州远航贸易有限公司",
                    country="CN",
                    timezone="Asia/Shanghai",
                    language="zh-CN",
                    account_manager=manager,
                )
            )
            session.flush()
            session.add(
                tables.Invoice(
                    number=invoice,
                    customer_id=customer,
                    currency="CNY",
                    amount=Decimal("5000.00"),
                    issue_date=now.date() - timedelta(days=60),
                    due_date=now.date() - timedelta(days=30),
                    status="open",
                )
            )
            session.flush()
            session.add(
                tables.Task(
                    kind="manual",
                    customer_id=customer,
                    invoices=f'["{invoice}"]',
                    assignee=manager,
                    title=title,
                    created_at=now,
                )
            )
        session.commit()
    return console_server


def _session_token(context: Any) -> tuple[str, str]:
    """The session cookie's value and the token inside it."""
    (cookie,) = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    token = Signer(SECRET, "session").read(cookie["value"])
    assert token
    return cookie["value"], token


def _no_secret_shown(html: str, *secrets: str) -> None:
    assert "$argon2" not in html
    assert PASSWORD not in html
    for secret in secrets:
        assert secret not in html


@pytest.mark.parametrize("name, role", USERS.items())
def test_each_role_logs_in_to_its_home(browser: Any, server: ConsoleServer, name: str, role: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url("/worklist"))
    assert page.url == server.url("/login")  # no session: sent to the login form
    screenshot(page, "login")
    response = log_in(page, server, name, PASSWORD)
    assert response.status == 200
    cookie, token = _session_token(context)
    if role == "admin":
        assert page.url == server.url("/users")
        assert page.locator("table.users tbody tr").count() == len(USERS)
    else:
        assert page.url == server.url("/worklist")
        titles = page.locator("table.tasks tbody tr").all_inner_texts()
        if role == "collector":  # only their own task
            mine = "Call about INV-1" if name.startswith("li.na") else "Review INV-2 dispute"
            assert len(titles) == 1 and mine in titles[0]
        else:  # manager and legal: everyone's
            assert len(titles) == 2
        assert ("CN¥5,000.00" if role == "legal" else "¥5,000.00") in " ".join(titles)
    assert page.locator("header .who").inner_text().startswith(name)
    heading = page.locator("h1").inner_text()
    assert heading in ({"用户", "Users"} if role == "admin" else {"工作清单", "Worklist"})
    assert heading.isascii() == (role == "legal")  # legal chose English, the others zh-CN
    screenshot(page, f"home-{role}-{name.split('@')[0]}")
    _no_secret_shown(page.content(), cookie, token)
    if role != "admin":  # a page of another role is refused
        page.goto(server.url("/users"))
        assert page.locator("h1").inner_text() in {"无权访问", "Not allowed"}
        screenshot(page, f"users-refused-{role}")
    context.close()


def test_wrong_password_then_the_sixth_locks(browser: Any, server: ConsoleServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    for attempt in range(1, 7):
        response = log_in(page, server, "li.na@xinghe.com.cn", f"wrong-{attempt}")
        assert response.status == 401
        assert page.url == server.url("/login")
        assert page.locator("p.error").is_visible()
    screenshot(page, "login-wrong-password")
    # locked: even the right password is refused
    assert log_in(page, server, "li.na@xinghe.com.cn", PASSWORD).status == 401
    with server.engine.connect() as connection:  # type: ignore[attr-defined]
        locked = connection.execute(
            sa.text("SELECT locked_until FROM web_user WHERE name = 'li.na@xinghe.com.cn'")
        ).scalar()
    assert locked is not None
    server.clock.advance(timedelta(minutes=15))
    assert log_in(page, server, "li.na@xinghe.com.cn", PASSWORD).status == 200
    assert page.url == server.url("/worklist")
    context.close()


def test_an_idle_session_expires(browser: Any, server: ConsoleServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, server, "boss@xinghe.com.cn", PASSWORD)
    server.clock.advance(timedelta(minutes=29))
    page.goto(server.url("/worklist"))
    assert page.url == server.url("/worklist")  # a request in time keeps it alive
    server.clock.advance(timedelta(minutes=31))
    page.goto(server.url("/worklist"))
    assert page.url == server.url("/login")
    screenshot(page, "login-after-idle")
    context.close()


def test_logout_ends_the_session_for_good(browser: Any, server: ConsoleServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, server, "lawyer@xinghe.com.cn", PASSWORD)
    old = context.cookies()
    with page.expect_navigation():
        page.click("header form button[type=submit]")
    assert page.url == server.url("/login")
    assert SESSION_COOKIE not in {c["name"] for c in context.cookies()}
    # the old cookie, replayed, opens nothing
    thief = browser.new_context()
    thief.add_cookies(old)
    stolen = thief.new_page()
    stolen.goto(server.url("/worklist"))
    assert stolen.url == server.url("/login")
    screenshot(stolen, "login-after-logout")
    thief.close()
    context.close()


def test_a_post_without_the_csrf_token_is_403(browser: Any, server: ConsoleServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, server, "admin@xinghe.com.cn", PASSWORD)
    request = context.request
    assert request.post(server.url("/users/disable"), form={"name": "li.na@xinghe.com.cn"}).status == 403
    forged = {"name": "li.na@xinghe.com.cn", "csrf_token": "guessed"}
    assert request.post(server.url("/users/disable"), form=forged).status == 403
    assert request.post(server.url("/logout"), form={}).status == 403
    assert (
        request.post(
            server.url("/login"), form={"username": "admin@xinghe.com.cn", "password": PASSWORD}
        ).status
        == 403
    )
    with server.engine.connect() as connection:  # type: ignore[attr-defined]
        assert not connection.execute(
            sa.text("SELECT disabled FROM web_user WHERE name = 'li.na@xinghe.com.cn'")
        ).scalar()
    # the form on the page carries the token: disabling works, and the user's sessions end
    page.goto(server.url("/users"))
    row = page.locator("table.users tbody tr", has_text="li.na@xinghe.com.cn")
    with page.expect_navigation():
        row.locator("button").click()
    assert "已停用" in page.locator("table.users tbody tr", has_text="li.na@xinghe.com.cn").inner_text()
    screenshot(page, "users-after-disable")
    with server.engine.connect() as connection:  # type: ignore[attr-defined]
        actor = connection.execute(
            sa.text("SELECT actor FROM evidence_event WHERE kind = 'user_disabled'")
        ).scalar()
    assert actor == "admin@xinghe.com.cn"
    context.close()


def test_security_headers_and_cookie_flags(browser: Any, server: ConsoleServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(server.url("/login"))
    for got in (response.headers, log_in(page, server, "boss@xinghe.com.cn", PASSWORD).headers):
        csp = got["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "script-src" not in csp
        assert got["x-content-type-options"] == "nosniff"
        assert got["referrer-policy"] == "no-referrer"
        assert got["cache-control"] == "no-store"
    (cookie,) = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # plain http here
    assert "<script" not in page.content() and "style=" not in page.content()
    css = context.request.get(server.url("/static/console.css"))
    assert css.status == 200 and "text/css" in css.headers["content-type"]
    context.close()
