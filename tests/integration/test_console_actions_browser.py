"""The actions on a customer's page in a real browser (chromium through Playwright) over real HTTP:
each is an evidence event whose actor is the logged-in user, through the services the CLI calls.

The ledger is imported and run through two real cycles, which raise a collection call for each
customer and a registered letter for the mailroom; the tests then work them as people do. The
main flow: a collector works a call task to a promise. Negative paths: another collector's customer
is 404, legal and admin are refused (403), a POST without the CSRF token is 403, a bad date is 400
and writes nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.access.users import add_user
from bot.channels.file import FileSender
from bot.channels.letter import LetterQueueSender
from bot.config import EmailSettings, EvidenceSettings, Settings, SigningSettings, SmsSettings
from bot.domain.ledger import Channel
from bot.evidence import chronology_text
from bot.ingest.demo_ledger import CUSTOMER_HEADER
from bot.ingest.schema import ImportDefaults
from bot.ingest.service import import_rows
from bot.outreach.cycle import run_cycle
from bot.outreach.tasks import list_tasks
from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from tests.support.browser import Clock, ConsoleServer, log_in, screenshot

AS_OF = date(2026, 6, 10)
NOON = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)  # noon in Shanghai
PASSWORD = "s3cret-horse-battery"
ALICE, BOB = "alice@xinghe.cn", "bob@xinghe.cn"
USERS = {
    ALICE: ("collector", "zh-CN"),
    BOB: ("collector", "zh-CN"),
    "mgr@xinghe.cn": ("manager", "en"),
    "lawyer@xinghe.cn": ("legal", "en"),
    "root@xinghe.cn": ("admin", "en"),
}
DEFAULTS = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")


def _customer(id: str, manager: str) -> dict[str, str]:
    return {
        **dict.fromkeys(CUSTOMER_HEADER, ""),
        "id": id,
        "name": f"Customer {id}",
        "tier": "cooperative",
        "email": f"ap@{id.lower()}.example.cn",
        "phone": "+8613800138000",
        "address": "上海市浦东新区世纪大道 100 号",
        "account_manager": manager,
    }


def _invoice(number: str, customer: str, amount: str, days_overdue: int) -> dict[str, str]:
    due = AS_OF - timedelta(days=days_overdue)
    return {
        "number": number,
        "customer_id": customer,
        "currency": "CNY",
        "amount": amount,
        "issue_date": (due - timedelta(days=30)).isoformat(),
        "due_date": due.isoformat(),
        "contract_ref": "",
        "status": "",
    }


class Desk:
    """The console over a ledger worked by two cycles, and what the tests read back."""

    def __init__(self, engine: Engine, server: ConsoleServer) -> None:
        self.engine, self.server = engine, server
        tasks = list_tasks(engine)
        self.call = next(t.id for t in tasks if t.kind == "call" and t.customer == "A1")
        self.bob_call = next(t.id for t in tasks if t.kind == "call" and t.customer == "B1")
        self.letter = next(t.id for t in tasks if t.kind == "letter" and t.customer == "A1")

    def one(self, statement: str, **params: object) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(statement), params).one()

    def last_event(self) -> tuple[str, str, dict[str, Any], list[str]]:
        body = self.one("SELECT body FROM evidence_event ORDER BY seq DESC LIMIT 1").body
        event = json.loads(body)
        return event["kind"], event["actor"], event["data"], event["invoices"]

    def events(self) -> int:
        return int(self.one("SELECT count(*) AS n FROM evidence_event").n)


@pytest.fixture
def desk(sqlite_url: str, tmp_path: Path, trial_certificate: Any) -> Iterator[Desk]:
    """Alice works A1 (a 7-day call, a 15-day registered letter, an invoice not yet due), Bob B1."""
    settings = Settings(
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        email=EmailSettings(transport="file", drop_dir="outbox/email"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        base_dir=tmp_path,
    )
    engine = make_engine(sqlite_url)
    upgrade(engine)
    customers = [_customer("A1", ALICE), _customer("B1", BOB)]
    invoices = [
        _invoice("INV-A1-CALL", "A1", "8000.00", 7),  # collection_call (day 7)
        _invoice("INV-A1-LTR", "A1", "20000.00", 15),  # formal_notice by registered letter (day 15)
        _invoice("INV-A1-NEW", "A1", "3000.00", -10),  # due in ten days
        _invoice("INV-B1-CALL", "B1", "6000.00", 7),
    ]
    import_rows(engine, "customers", "c.csv", list(enumerate(customers, 2)), defaults=DEFAULTS, now=NOON)
    import_rows(engine, "invoices", "i.csv", list(enumerate(invoices, 2)), defaults=DEFAULTS, now=NOON)
    senders = {
        Channel.EMAIL: FileSender(Channel.EMAIL, settings.path("outbox/email")),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
        Channel.LETTER: LetterQueueSender(settings.path("outbox/letters")),
    }
    for day in (AS_OF - timedelta(days=9), AS_OF):
        at = NOON - (AS_OF - day)
        cycle = run_cycle(
            engine, settings, day, clock=lambda at=at: at, exclusive=True, senders=dict(senders)
        )
        # In a thread of its own: Playwright's sync API holds an event loop on this one.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, cycle).result()
    for name, (role, language) in USERS.items():
        add_user(engine, name, role, PASSWORD, actor="user:ops", now=NOON, language=language)
    server = ConsoleServer(engine, tmp_path / "served", Clock(NOON + timedelta(hours=1)), settings=settings)
    try:
        yield Desk(engine, server)
    finally:
        server.close()
        engine.dispose()


def _submit(page: Any, form: str, name: str) -> Any:
    with page.expect_navigation() as navigation:
        page.click(f"{form} button[type=submit]")
    screenshot(page, name)
    return navigation.value


def test_a_collector_works_a_call_task_to_a_promise(browser: Any, desk: Desk) -> None:
    server = desk.server
    context = browser.new_context()
    page = context.new_page()
    log_in(page, server, ALICE, PASSWORD)
    page.goto(server.url("/worklist"))
    assert page.locator("h1").inner_text() == "工作清单"
    screenshot(page, "actions-worklist-collector")
    link = page.locator('a[href="/customers/A1"]')
    if link.count():  # the worklist links each task's customer
        with page.expect_navigation():
            link.first.click()
    else:
        page.goto(server.url("/customers/A1"))
    assert page.url == server.url("/customers/A1")
    screenshot(page, "actions-customer-with-call-task")
    task = f"#task-{desk.call}"
    assert page.locator(task).is_visible()
    page.select_option(f"{task} select[name=outcome]", "promised")
    page.select_option(f"{task} select[name=promise_invoice]", "INV-A1-CALL")
    page.fill(f"{task} input[name=promise_date]", "2026-06-20")
    page.fill(f"{task} input[name=promise_amount]", "5000.00")
    page.fill(f"{task} textarea[name=note]", "王经理接听，承诺 6 月 20 日先付 5000 元")
    response = _submit(page, task, "actions-customer-after-call-promise")
    assert response.status == 200
    assert page.url == server.url("/customers/A1?done=task")

    # The call task is closed with what the call came to, the collector's note and the actor.
    row = desk.one("SELECT status, outcome, note FROM task WHERE id = :id", id=desk.call)
    assert (row.status, row.outcome, row.note) == (
        "done",
        "promised",
        "王经理接听，承诺 6 月 20 日先付 5000 元",
    )
    invoice = desk.one("SELECT promise_date, promise_amount FROM invoice WHERE number = 'INV-A1-CALL'")
    assert str(invoice.promise_date) == "2026-06-20" and Decimal(invoice.promise_amount) == Decimal("5000.00")
    with desk.engine.connect() as connection:
        bodies = [
            json.loads(b)
            for b in connection.execute(
                sa.text("SELECT body FROM evidence_event WHERE kind IN ('promise', 'task_done') ORDER BY seq")
            ).scalars()
        ]
    promise, done = bodies
    assert promise["kind"] == "promise" and promise["actor"] == f"user:{ALICE}"
    assert promise["invoices"] == ["INV-A1-CALL"] and promise["data"]["promised_on"] == "2026-06-20"
    assert done["data"]["task"] == desk.call and done["data"]["outcome"] == "promised"
    assert done["actor"] == f"user:{ALICE}"
    # The page shows the promise in the timeline, and the task is gone from the actions.
    timeline = page.locator("#timeline").inner_text()
    assert chronology_text.what("promise", chronology_text.ZH) in timeline and "2026-06-20" in timeline
    assert page.locator(task).count() == 0
    # The worklist no longer lists it.
    page.goto(server.url("/worklist"))
    screenshot(page, "actions-worklist-after-promise")
    assert "催收电话：Customer A1" not in page.locator("main").inner_text()
    context.close()


@pytest.mark.parametrize("name", [ALICE, "mgr@xinghe.cn"])
def test_each_action_is_an_event_of_the_user(browser: Any, desk: Desk, name: str) -> None:
    server, role = desk.server, USERS[name][0]
    actor = f"user:{name}"
    context = browser.new_context()
    page = context.new_page()
    log_in(page, server, name, PASSWORD)
    page.goto(server.url("/customers/A1"))
    screenshot(page, f"actions-customer-{role}")

    page.fill("#add-note textarea[name=text]", "客户财务下周休假，改约周一")
    page.select_option("#add-note select[name=invoice]", "INV-A1-NEW")
    _submit(page, "#add-note", f"actions-after-note-{role}")
    assert page.url.endswith("/customers/A1?done=note")
    assert page.locator("p.done[role=status]").count() == 1  # the confirmation line
    assert desk.last_event() == ("note", actor, {"text": "客户财务下周休假，改约周一"}, ["INV-A1-NEW"])

    page.select_option("#record-promise select[name=invoice]", "INV-A1-NEW")
    page.fill("#record-promise input[name=date]", "2026-06-25")
    _submit(page, "#record-promise", f"actions-after-promise-{role}")
    kind, who, data, invoices = desk.last_event()
    assert (kind, who, data["promised_on"], data["amount"], invoices) == (
        "promise",
        actor,
        "2026-06-25",
        None,
        ["INV-A1-NEW"],
    )
    assert str(desk.one("SELECT promise_date FROM invoice WHERE number = 'INV-A1-NEW'").promise_date) == (
        "2026-06-25"
    )

    page.select_option("#dispute select[name=invoice]", "INV-A1-CALL")
    page.select_option("#dispute select[name=action]", "open")
    page.fill("#dispute input[name=reason]", "货物规格不符")
    _submit(page, "#dispute", f"actions-after-dispute-open-{role}")
    assert desk.one("SELECT status FROM invoice WHERE number = 'INV-A1-CALL'").status == "disputed"
    # the open call task about it is settled by the dispute, as `dunbot dispute open` settles it
    assert desk.one("SELECT status, outcome FROM task WHERE id = :id", id=desk.call).outcome == "disputed"
    with desk.engine.connect() as connection:
        dispute = json.loads(
            connection.execute(
                sa.text("SELECT body FROM evidence_event WHERE kind = 'dispute' ORDER BY seq DESC LIMIT 1")
            ).scalar_one()
        )
    assert dispute["actor"] == actor and dispute["data"] == {"action": "open", "reason": "货物规格不符"}

    page.select_option("#dispute select[name=invoice]", "INV-A1-CALL")
    page.select_option("#dispute select[name=action]", "close")
    page.fill("#dispute input[name=reason]", "补发合格品，异议解决")
    _submit(page, "#dispute", f"actions-after-dispute-close-{role}")
    assert desk.last_event()[:3] == ("dispute", actor, {"action": "close", "reason": "补发合格品，异议解决"})
    assert desk.one("SELECT status FROM invoice WHERE number = 'INV-A1-CALL'").status == "open"

    page.select_option("#pause select[name=invoice]", "INV-A1-LTR")
    page.fill("#pause input[name=until]", "2026-06-13")
    page.fill("#pause input[name=reason]", "等待客户对账")
    _submit(page, "#pause", f"actions-after-pause-invoice-{role}")
    kind, who, data, invoices = desk.last_event()
    assert (kind, who, data["scope"], data["until"], invoices) == (
        "pause",
        actor,
        "invoice",
        "2026-06-13",
        ["INV-A1-LTR"],
    )
    assert str(desk.one("SELECT paused_until FROM invoice WHERE number = 'INV-A1-LTR'").paused_until) == (
        "2026-06-13"
    )

    page.select_option("#pause select[name=invoice]", "")
    page.fill("#pause input[name=until]", "2026-06-12")
    page.fill("#pause input[name=reason]", "客户搬迁")
    _submit(page, "#pause", f"actions-after-pause-customer-{role}")
    assert desk.last_event()[:2] == ("pause", actor) and desk.last_event()[2]["scope"] == "customer"
    assert str(desk.one("SELECT paused_until FROM customer WHERE id = 'A1'").paused_until) == "2026-06-12"

    page.select_option("#opt-out select[name=channel]", "sms")
    page.fill("#opt-out input[name=reason]", "客户书面要求停止短信")
    _submit(page, "#opt-out", f"actions-after-opt-out-{role}")
    kind, who, data, _ = desk.last_event()
    assert (kind, who, data["channel"], data["reason"]) == ("opt_out", actor, "sms", "客户书面要求停止短信")
    assert desk.one("SELECT opted_out FROM customer WHERE id = 'A1'").opted_out == "sms"
    assert page.locator("#opt-out select[name=channel] option[value=sms]").count() == 0

    letter = f"#task-{desk.letter}"
    page.fill(f"{letter} input[name=tracking]", "RR123456789CN")
    page.fill(f"{letter} textarea[name=note]", "已交邮局挂号寄出")
    _submit(page, letter, f"actions-after-letter-posted-{role}")
    kind, who, data, _ = desk.last_event()
    assert (kind, who, data["task"], data["tracking"]) == ("task_done", actor, desk.letter, "RR123456789CN")
    row = desk.one("SELECT status, outcome FROM task WHERE id = :id", id=desk.letter)
    assert (row.status, row.outcome) == ("done", "posted: RR123456789CN")
    context.close()


def _token(page: Any) -> str:
    return str(page.locator("#actions input[name=csrf_token]").first.get_attribute("value"))


def test_who_may_act_and_what_a_bad_form_gets(browser: Any, desk: Desk) -> None:
    server = desk.server
    before = desk.events()
    note = {"text": "不该写入"}

    # Bob, a collector, acts on his own customer's page only: Alice's A1 is 404, as a GET is.
    context = browser.new_context()
    page = context.new_page()
    log_in(page, server, BOB, PASSWORD)
    page.goto(server.url("/customers/B1"))
    token = _token(page)
    post = context.request.post
    assert post(server.url("/customers/A1/note"), form={**note, "csrf_token": token}).status == 404
    assert post(server.url("/customers/A1/pause"), form={"until": "bad", "csrf_token": token}).status == 404
    page.goto(server.url("/customers/A1"))
    screenshot(page, "actions-other-collectors-customer")
    assert page.locator("h1").inner_text() == "未找到"
    # On his own customer: an invoice or a task of another customer is 404 too.
    wrong_invoice = {"invoice": "INV-A1-CALL", "date": "2026-06-20", "csrf_token": token}
    assert post(server.url("/customers/B1/promise"), form=wrong_invoice).status == 404
    wrong_task = {"note": "x", "outcome": "no-answer", "csrf_token": token}
    assert post(server.url(f"/customers/B1/tasks/{desk.call}/done"), form=wrong_task).status == 404
    # Without the CSRF token, or with a forged one: 403.
    assert post(server.url("/customers/B1/note"), form=note).status == 403
    assert post(server.url("/customers/B1/note"), form={**note, "csrf_token": "guessed"}).status == 403
    # A bad date is 400 naming the field, and nothing is written.
    bad = {"invoice": "INV-B1-CALL", "date": "2026-02-30", "amount": "100", "csrf_token": token}
    response = post(server.url("/customers/B1/promise"), form=bad)
    assert response.status == 400 and "承诺付款日期" in response.text() and "2026-02-30" in response.text()
    bad_amount = {**bad, "date": "2026-06-20", "amount": "lots"}
    assert post(server.url("/customers/B1/promise"), form=bad_amount).status == 400
    # The service's own refusal (more than is owed) is 400 with its words, and writes nothing.
    too_much = {**bad, "date": "2026-06-20", "amount": "99999.00"}
    refused = post(server.url("/customers/B1/promise"), form=too_much)
    assert refused.status == 400 and "more than invoice INV-B1-CALL still owes" in refused.text()
    # In the browser: a date before today is held back by the form itself (min=today); what the
    # service refuses comes back as a 400 page with its words.
    page.goto(server.url("/customers/B1"))
    assert page.locator("#pause input[name=until]").get_attribute("min") == "2026-06-10"
    page.select_option("#dispute select[name=invoice]", "INV-B1-CALL")
    page.select_option("#dispute select[name=action]", "close")
    page.fill("#dispute input[name=reason]", "x")
    response = _submit(page, "#dispute", "actions-refused-dispute-close")
    assert response.status == 400 and "is not disputed" in page.locator("main").inner_text()
    # A call task needs its outcome; a promise outcome needs its date.
    call = f"/customers/B1/tasks/{desk.bob_call}/done"
    assert post(server.url(call), form={"note": "x", "csrf_token": token}).status == 400
    no_date = {"note": "x", "outcome": "promised", "promise_invoice": "INV-B1-CALL", "csrf_token": token}
    assert post(server.url(call), form=no_date).status == 400
    assert desk.events() == before
    assert desk.one("SELECT promise_date FROM invoice WHERE number = 'INV-B1-CALL'").promise_date is None
    assert desk.one("SELECT status FROM task WHERE id = :id", id=desk.bob_call).status == "open"
    # ... and with a right form it goes through.
    ok = post(server.url(call), form={"note": "无人接听", "outcome": "no-answer", "csrf_token": token})
    assert ok.status == 200 and ok.url == server.url("/customers/B1?done=task")
    assert desk.last_event()[:2] == ("task_done", f"user:{BOB}")
    assert desk.last_event()[2]["outcome"] == "no-answer"
    context.close()

    # Legal reads but does not act; admin sees no customer at all: both 403.
    for name in ("lawyer@xinghe.cn", "root@xinghe.cn"):
        context = browser.new_context()
        page = context.new_page()
        log_in(page, server, name, PASSWORD)
        token = str(page.locator("header form input[name=csrf_token]").get_attribute("value"))
        refused = context.request.post(server.url("/customers/A1/note"), form={**note, "csrf_token": token})
        assert refused.status == 403, name
        if name.startswith("lawyer"):
            page.goto(server.url("/customers/A1"))
            screenshot(page, "actions-customer-legal-reads")
            assert page.locator("#actions").count() == 0
        context.close()
    assert desk.events() == before + 1
