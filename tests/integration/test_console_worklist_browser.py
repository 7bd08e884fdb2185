"""The worklist, the approvals page and reassignment in a real browser (chromium through Playwright)
over real HTTP, on a ledger imported and run through the real cycle.

The main flow: a lawyer's letter waits for approval after a cycle; the manager approves it on
/approvals; the next cycle (``run_cycle`` as `dunbot cycle` calls it, with the config's own
transports) signs it and queues the letter for the mailroom.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.access.users import add_user
from bot.config import EmailSettings, EvidenceSettings, Settings, SigningSettings, SmsSettings
from bot.ingest.service import import_rows
from bot.outreach.cycle import run_cycle
from bot.reporting.worklist import WorklistQuery, worklist
from bot.store import tables
from tests.integration.test_console_read_models import (
    ALICE,
    AS_OF,
    BOB,
    DEFAULTS,
    MANAGER,
    NOON,
    _customer,
    _invoice,
)
from tests.support.browser import Clock, ConsoleServer, log_in, screenshot

PASSWORD = "s3cret-horse-battery"
LEGAL = "lawyer@xinghe.cn"
USERS = {
    ALICE.name: "collector",
    BOB.name: "collector",
    MANAGER.name: "manager",
    LEGAL: "legal",
    "root": "admin",
}
EXTRA_TASKS = 55  # manual tasks on one more customer, so that the worklist has a second page


@pytest.fixture
def settings(tmp_path: Path, trial_certificate: Any) -> Settings:
    """File transports for e-mail and SMS, the default letter queue (outbox/letters), signed notices."""
    return Settings(
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        email=EmailSettings(transport="file", drop_dir="outbox/email"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        base_dir=tmp_path,
    )


def _cycle(engine: Engine, settings: Settings, day: Any, at: Any) -> Any:
    """One cycle as `dunbot cycle` runs it: the config's transports (build_senders), exclusive. In a
    thread of its own: Playwright's sync API holds an event loop on the test's thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(
            asyncio.run, run_cycle(engine, settings, day, clock=lambda: at, exclusive=True)
        ).result()


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path, settings: Settings) -> Iterator[ConsoleServer]:
    """Alice works A1 and A2, Bob B1; Z1 has nobody; M1 (Bob's) has 55 manual tasks. Two cycles nine
    days apart raise the calls, the reviews and two lawyer's letters to approve (A1's and Z1's)."""
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    customers = [
        _customer("A1", "cooperative", ALICE.name),
        _customer("A2", "strategic", ALICE.name),
        _customer("B1", "cooperative", BOB.name),
        _customer("Z1", "cautious", ""),
        _customer("M1", "cooperative", BOB.name, name="Many Tasks Ltd"),
    ]
    invoices = [
        _invoice("INV-A1-CALL", "A1", "8000.00", 7),
        _invoice("INV-A1-LAW", "A1", "3000.00", 46),  # lawyer_letter (procedural, day 45): approval
        _invoice("INV-A2-CARE", "A2", "5000.00", 7),
        _invoice("INV-B1-CALL", "B1", "20000.00", 7),
        _invoice("INV-Z1-LAW", "Z1", "1000.00", 15),  # lawyer_letter (preservation, day 15): approval
        _invoice("INV-M1", "M1", "100.00", 2),
    ]
    import_rows(
        engine, "customers", "customers.csv", list(enumerate(customers, 2)), defaults=DEFAULTS, now=NOON
    )
    import_rows(engine, "invoices", "invoices.csv", list(enumerate(invoices, 2)), defaults=DEFAULTS, now=NOON)
    for day in (AS_OF - timedelta(days=9), AS_OF):
        _cycle(engine, settings, day, NOON - (AS_OF - day))
    with Session(engine) as session:
        for n in range(EXTRA_TASKS):
            session.add(
                tables.Task(
                    kind="manual",
                    customer_id="M1",
                    invoices='["INV-M1"]',
                    assignee=BOB.name,
                    title=f"Check the delivery note {n + 1:02d} of INV-M1",
                    created_at=NOON - timedelta(hours=n),
                )
            )
        session.commit()
    for name, role in USERS.items():
        language = "zh-CN" if role == "collector" else "en"
        add_user(engine, name, role, PASSWORD, actor="user:ops", now=NOON, language=language)
    running = ConsoleServer(engine, tmp_path / "artifacts", Clock(NOON), settings=settings)
    running.engine = engine  # type: ignore[attr-defined]
    yield running
    running.close()
    engine.dispose()


def _page(browser: Any, server: ConsoleServer, name: str) -> tuple[Any, Any]:
    context = browser.new_context()
    page = context.new_page()
    assert log_in(page, server, name, PASSWORD).status == 200
    return context, page


def _rows(page: Any) -> list[tuple[str, str]]:
    """(customer, kind-cell text) of each worklist row."""
    rows = page.locator("table.tasks tbody tr")
    return [
        (rows.nth(i).get_attribute("data-customer"), rows.nth(i).locator("td").nth(1).inner_text())
        for i in range(rows.count())
    ]


def _options(page: Any, facet: str) -> dict[str, str]:
    """value -> shown text of a filter's options (the first, "(any)", left out)."""
    options = page.locator(f"form.filters select[name={facet}] option")
    return {
        options.nth(i).get_attribute("value"): options.nth(i).inner_text() for i in range(1, options.count())
    }


def _csrf(page: Any) -> str:
    token = page.locator("header form input[name=csrf_token]").get_attribute("value")
    assert token
    return str(token)


def _engine(server: ConsoleServer) -> Engine:
    engine: Engine = server.engine  # type: ignore[attr-defined]
    return engine


def test_a_manager_filters_pages_and_sees_the_counts(browser: Any, server: ConsoleServer) -> None:
    expected = worklist(_engine(server), MANAGER, WorklistQuery(page_size=50), AS_OF)
    context, page = _page(browser, server, MANAGER.name)
    assert page.url == server.url("/worklist")
    assert page.locator("p.scope .total").inner_text() == f"{expected.total} matching"
    assert page.locator("table.tasks tbody tr").count() == 50
    # the rows in the read model's order: most at risk first (B1's CNY 20,000 call)
    shown = [page.locator("table.tasks tbody tr").nth(i).get_attribute("data-task") for i in range(50)]
    assert shown == [str(item.task) for item in expected.items]
    assert shown[0] == str(next(i.task for i in expected.items if i.customer == "B1"))
    # each filter value with its count, as the read model counts it
    for facet in ("tier", "kind", "bucket", "assignee"):
        options = _options(page, facet)
        assert {v: int(re.search(r"\((\d+)\)$", t).group(1)) for v, t in options.items()} == dict(  # type: ignore[union-attr]
            expected.counts[facet]
        ), facet
    assert _options(page, "kind")["approval"] == "approval (2)"
    assert _options(page, "step")["lawyer_letter"] == "Lawyer's letter (2)"
    assert page.locator("a[rel=next]").get_attribute("href") == "/worklist?page=2"
    screenshot(page, "worklist-manager")

    # choose a filter with the form: the approvals alone, their customers linked
    page.select_option("form.filters select[name=kind]", "approval")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert "kind=approval" in page.url
    assert sorted(c for c, _ in _rows(page)) == ["A1", "Z1"]
    assert page.locator("p.scope .total").inner_text() == "2 matching"
    # the kind facet still counts every kind (it ignores its own filter); the others count approvals
    assert _options(page, "kind")["call"].endswith(f"({dict(expected.counts['kind'])['call']})")
    assert _options(page, "tier") == {"cautious": "cautious (1)", "cooperative": "cooperative (1)"}
    assert page.locator("tr[data-customer=A1] a").first.get_attribute("href") == "/customers/A1"
    screenshot(page, "worklist-manager-approvals")

    # paging keeps the filters: M1's 55 manual tasks are two pages
    page.goto(server.url("/worklist?kind=manual&assignee=bob%40xinghe.cn"))
    assert page.locator("table.tasks tbody tr").count() == 50
    assert page.locator("a[rel=prev]").count() == 0
    with page.expect_navigation():
        page.click("a[rel=next]")
    assert page.url == server.url("/worklist?assignee=bob%40xinghe.cn&kind=manual&page=2")
    assert page.locator("table.tasks tbody tr").count() == EXTRA_TASKS - 50
    assert page.locator("nav.pages .at").inner_text() == "Page 2 of 2"
    assert page.locator("select[name=kind] option[selected]").get_attribute("value") == "manual"
    screenshot(page, "worklist-manager-page-2")
    with page.expect_navigation():
        page.click("a[rel=prev]")
    assert page.url == server.url("/worklist?assignee=bob%40xinghe.cn&kind=manual")

    # a filter value nothing has still shows, selected, with 0; the page says nothing matches
    page.goto(server.url("/worklist?bucket=90%2B"))
    assert page.locator("p.empty").is_visible()
    assert _options(page, "bucket")["90+"] == "90+ (0)"

    # what the page does not understand is a 400 page that says so, never a traceback
    for bad, says in (
        ("page=abc", "The page must be a whole number from 1."),
        ("page=0", "The page must be a whole number from 1."),
        ("page=%C2%B2", "The page must be a whole number from 1."),
        ("state=closed", "The state must be open, done or all."),
    ):
        response = page.goto(server.url(f"/worklist?{bad}"))
        assert response.status == 400
        assert page.locator("main p").inner_text() == says
        assert "Traceback" not in page.content()
    screenshot(page, "worklist-bad-query")
    context.close()


def test_a_collector_sees_their_own_customers_only(browser: Any, server: ConsoleServer) -> None:
    context, page = _page(browser, server, ALICE.name)
    assert page.locator("h1").inner_text() == "工作清单"
    assert {c for c, _ in _rows(page)} == {"A1", "A2"}
    assert page.locator("form.reassign").count() == 0  # a collector does not reassign
    # their counts know nothing of other customers
    assert set(_options(page, "tier")) == {"cooperative", "strategic"}
    screenshot(page, "worklist-collector-zh")
    assert page.goto(server.url("/worklist?kind=call&assignee=bob%40xinghe.cn")).status == 200
    assert page.locator("table.tasks").count() == 0
    assert page.goto(server.url("/customers/B1")).status == 404
    assert page.goto(server.url("/approvals")).status == 403
    screenshot(page, "approvals-refused-collector")
    context.close()


def test_an_admin_opens_neither_page(browser: Any, server: ConsoleServer) -> None:
    context, page = _page(browser, server, "root")
    for path in ("/worklist", "/approvals"):
        assert page.goto(server.url(path)).status == 403
        assert page.locator("h1").inner_text() == "Not allowed"
    refused = context.request.post(
        server.url("/customers/A1/reassign"),
        form={"assignee": BOB.name, "reason": "x", "csrf_token": _csrf(page)},
        max_redirects=0,
    )
    assert refused.status == 403
    screenshot(page, "approvals-refused-admin")
    context.close()


def test_a_manager_reassigns_a_customer(browser: Any, server: ConsoleServer) -> None:
    # a collector or legal posting the form (with a valid CSRF token) is refused
    for name in (ALICE.name, LEGAL):
        context, page = _page(browser, server, name)
        refused = context.request.post(
            server.url("/customers/A1/reassign"),
            form={"assignee": BOB.name, "reason": "mine now", "csrf_token": _csrf(page)},
            max_redirects=0,
        )
        assert refused.status == 403
        context.close()

    context, page = _page(browser, server, MANAGER.name)
    page.goto(server.url("/worklist?tier=cooperative"))
    row = page.locator("tr[data-customer=A1]").first
    row.locator("select[name=assignee]").select_option(BOB.name)
    row.locator("input[name=reason]").fill("Alice is on leave")
    screenshot(page, "worklist-manager-reassign")
    with page.expect_navigation():
        row.locator("form.reassign button").click()
    assert page.url == server.url("/worklist?tier=cooperative")  # back to the worklist it came from
    assert {page.locator("tr[data-customer=A1] td:nth-child(9)").nth(i).inner_text() for i in range(2)} == {
        BOB.name
    }
    # a bad assignee is a 400 page naming the problem, and nothing changes
    bad = context.request.post(
        server.url("/customers/A2/reassign"),
        form={"assignee": LEGAL, "reason": "x", "csrf_token": _csrf(page)},
        max_redirects=0,
    )
    assert bad.status == 400 and "is legal, not a collector or manager" in bad.text()
    context.close()
    with _engine(server).connect() as connection:
        actors = connection.execute(
            sa.text("SELECT actor, customer FROM evidence_event WHERE kind = 'customer_reassigned'")
        ).all()
    assert [tuple(a) for a in actors] == [(f"user:{MANAGER.name}", "A1")]

    # Bob sees A1 now, on the worklist and its page; Alice gets 404 on it
    context, page = _page(browser, server, BOB.name)
    assert "A1" in {c for c, _ in _rows(page)}
    assert page.goto(server.url("/customers/A1")).status == 200
    screenshot(page, "customer-reassigned-new-collector")
    context.close()
    context, page = _page(browser, server, ALICE.name)
    assert {c for c, _ in _rows(page)} == {"A2"}
    assert page.goto(server.url("/customers/A1")).status == 404
    screenshot(page, "customer-reassigned-old-collector-404")
    context.close()


def test_approve_a_lawyer_s_letter_and_see_it_go_out_in_the_next_cycle(
    browser: Any, server: ConsoleServer, settings: Settings
) -> None:
    engine = _engine(server)
    letters = settings.path(settings.letter.queue_dir)

    # legal reads the list, without buttons
    context, page = _page(browser, server, LEGAL)
    page.goto(server.url("/approvals"))
    assert {
        page.locator("table.approvals tbody tr").nth(i).get_attribute("data-customer") for i in range(2)
    } == {
        "A1",
        "Z1",
    }
    assert page.locator("table.approvals button").count() == 0
    assert "read only" in page.locator("p.scope").inner_text()
    screenshot(page, "approvals-legal")
    forbidden = context.request.post(
        server.url("/approvals/1/approve"), form={"csrf_token": _csrf(page)}, max_redirects=0
    )
    assert forbidden.status == 403
    context.close()

    context, page = _page(browser, server, MANAGER.name)
    page.goto(server.url("/approvals"))
    a1 = page.locator("table.approvals tr[data-customer=A1]")
    assert "Lawyer's letter" in a1.inner_text() and "INV-A1-LAW" in a1.inner_text()
    task = int(a1.get_attribute("data-task") or 0)
    z1 = int(page.locator("table.approvals tr[data-customer=Z1]").get_attribute("data-task") or 0)
    screenshot(page, "approvals-manager")
    # rejecting needs a reason: the form says so, and the server too
    token = _csrf(page)
    no_reason = context.request.post(
        server.url(f"/approvals/{z1}/reject"), form={"csrf_token": token, "reason": " "}, max_redirects=0
    )
    assert no_reason.status == 400 and "Say why the step is rejected" in no_reason.text()
    with page.expect_navigation():
        a1.locator("form.approve button").click()
    assert page.url == server.url("/approvals")
    assert page.locator("table.approvals tr[data-customer=A1]").count() == 0
    z1_row = page.locator("table.approvals tr[data-customer=Z1]")
    z1_row.locator("input[name=reason]").fill("the customer is negotiating")
    with page.expect_navigation():
        z1_row.locator("form.reject button").click()
    assert page.locator("table.approvals").count() == 0 and page.locator("p.empty").is_visible()
    screenshot(page, "approvals-manager-after-decisions")
    # a decided task is a clear 400, an unknown one 404
    again = context.request.post(
        server.url(f"/approvals/{task}/approve"), form={"csrf_token": token}, max_redirects=0
    )
    assert again.status == 400 and "already decided" in again.text()
    for unknown in ("99999", "99999999999999", "%C2%B2", "1e3"):  # beyond 32 bits, a superscript two
        missing = context.request.post(
            server.url(f"/approvals/{unknown}/approve"), form={"csrf_token": token}, max_redirects=0
        )
        assert missing.status == 404, unknown
    call = next(i.task for i in worklist(engine, MANAGER, WorklistQuery(kind="call"), AS_OF).items)
    not_approval = context.request.post(
        server.url(f"/approvals/{call}/approve"), form={"csrf_token": token}, max_redirects=0
    )
    assert not_approval.status == 400 and "not an approval" in not_approval.text()
    context.close()

    with engine.connect() as connection:
        decisions = connection.execute(
            sa.text("SELECT actor, customer FROM evidence_event WHERE kind = 'approval' ORDER BY seq")
        ).all()
        queued = connection.execute(
            sa.text("SELECT channel, state FROM message WHERE customer_id = 'A1' AND step = 'lawyer_letter'")
        ).all()
    assert [tuple(d) for d in decisions] == [(f"user:{MANAGER.name}", "A1"), (f"user:{MANAGER.name}", "Z1")]
    assert sorted(tuple(q) for q in queued) == [("email", "planned"), ("letter", "planned")]

    # the next cycle sends it: the e-mail and the signed letter, queued for the mailroom
    _cycle(engine, settings, AS_OF, NOON + timedelta(hours=1))
    with engine.connect() as connection:
        sent = connection.execute(
            sa.text("SELECT channel, state FROM message WHERE customer_id = 'A1' AND step = 'lawyer_letter'")
        ).all()
        z1_letter = connection.execute(
            sa.text("SELECT count(*) FROM message WHERE customer_id = 'Z1' AND step = 'lawyer_letter'")
        ).scalar()
    assert sorted(tuple(s) for s in sent) == [("email", "sent"), ("letter", "sent")]
    assert z1_letter == 0  # the rejected one never goes out
    manifest = [json.loads(line) for line in (letters / "manifest.jsonl").read_text().splitlines()]
    (entry,) = [e for e in manifest if e["customer"] == "A1" and e["step"] == "lawyer_letter"]
    assert entry["invoices"] == ["INV-A1-LAW"] and entry["signed"] and entry["file"].endswith(".pdf")
    pdf = letters / entry["file"]
    assert (
        pdf.read_bytes().startswith(b"%PDF")
        and hashlib.sha256(pdf.read_bytes()).hexdigest() == entry["sha256"]
    )
