"""`dunbot tasks`, `task done` and `log` as a collector types them, on rows seeded straight into SQLite."""

from __future__ import annotations

import email
import email.message
import email.policy
import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

CREATED = "2026-06-10 02:00:00.000000"  # how SQLAlchemy stores a UTC instant in SQLite


def dunbot(
    cwd: Path, *args: str, user: str | None = None, columns: int = 200
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": str(columns)}
    if user is not None:
        env["DUNBOT_USER"] = user
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _sql(folder: Path, statement: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(folder / "dunbot.db") as connection:
        return connection.execute(statement, params).fetchall()


@pytest.fixture
def desk(tmp_path: Path) -> dict[str, object]:
    """A fresh folder with one customer, two invoices, an SMS of unknown fate and three open tasks."""
    result = dunbot(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "dunbot.db") as db:
        db.execute(
            "INSERT INTO customer (id, name, country, timezone, language, email, phone, payment_terms_days,"
            " open_lawsuits, do_not_contact, credit_hold, opted_out, tier_override)"
            " VALUES ('C1', '杭州远航贸易有限公司', 'CN', 'Asia/Shanghai', 'zh-CN', 'ap@yuanhang.example.cn',"
            " '+8613800138000', 30, 0, 0, 0, '', 'cooperative')"
        )
        for number, due in (("INV-1", "2026-06-07"), ("INV-2", "2026-05-26")):
            db.execute(
                "INSERT INTO invoice (number, customer_id, currency, amount, issue_date, due_date, status)"
                " VALUES (?, 'C1', 'CNY', '5000.00', '2026-04-01', ?, 'open')",
                (number, due),
            )
        message = db.execute(
            "INSERT INTO message (customer_id, step, channel, business_date, recipient, state, attempts,"
            " fence, message_id, artifacts, created_at, updated_at)"
            " VALUES ('C1', 'overdue_sms', 'sms', '2026-06-10', '+8613800138000', 'unknown', 1, 1,"
            " '<m1@dunbot>', '[]', ?, ?)",
            (CREATED, CREATED),
        ).lastrowid
        db.execute("INSERT INTO message_invoice (message_id, invoice_number) VALUES (?, 'INV-1')", (message,))
        ids: dict[str, object] = {"message": message, "folder": tmp_path}
        for kind, invoices, step, assignee, key in (
            ("review", '["INV-1"]', "overdue_sms", "ar@xinghe.example.cn", f"review:message:{message}"),
            ("call", '["INV-2"]', "collection_call", "li", "call:C1:collection_call"),
            ("approval", '["INV-2"]', "lawyer_letter", "ar@xinghe.example.cn", "approval:C1:lawyer_letter"),
        ):
            ids[kind] = db.execute(
                "INSERT INTO task (kind, customer_id, invoices, step, assignee, title, body, status,"
                " dedupe_key, created_at) VALUES (?, 'C1', ?, ?, ?, ?, '', 'open', ?, ?)",
                (kind, invoices, step, assignee, f"{kind} for C1", key, CREATED),
            ).lastrowid
    return ids


def test_tasks_lists_open_work_and_mine_filters_by_dunbot_user(desk: dict[str, object]) -> None:
    folder = Path(str(desk["folder"]))
    listed = dunbot(folder, "tasks", "--json")
    assert listed.returncode == 0, listed.stderr
    tasks = json.loads(listed.stdout)
    assert sorted(t["kind"] for t in tasks) == ["approval", "call", "review"]
    review = next(t for t in tasks if t["kind"] == "review")
    assert review["invoices"] == ["INV-1"] and review["step"] == "overdue_sms" and review["status"] == "open"

    mine = dunbot(folder, "tasks", "--mine", "--json", user="ar@xinghe.example.cn")
    assert mine.returncode == 0, mine.stderr
    assert sorted(t["kind"] for t in json.loads(mine.stdout)) == ["approval", "review"]

    table = dunbot(folder, "tasks")
    assert table.returncode == 0, table.stderr
    assert "collection_call" in table.stdout and "dunbot approve" in table.stdout


def test_task_done_once_with_exit_codes(desk: dict[str, object]) -> None:
    folder = Path(str(desk["folder"]))
    call, approval = str(desk["call"]), str(desk["approval"])

    empty = dunbot(folder, "task", "done", call, "--note", "  ")
    assert empty.returncode == 2
    missing = dunbot(folder, "task", "done", call)
    assert missing.returncode == 2

    done = dunbot(folder, "task", "done", call, "--note", "客户承诺周五付款")
    assert done.returncode == 0, done.stderr
    assert f"task {call}" in done.stdout and "done" in done.stdout
    again = dunbot(folder, "task", "done", call, "--note", "again")
    assert again.returncode == 1 and "already done" in again.stderr
    unknown = dunbot(folder, "task", "done", "999", "--note", "x")
    assert unknown.returncode == 1 and "no task 999" in unknown.stderr
    refused = dunbot(folder, "task", "done", approval, "--note", "ok")
    assert refused.returncode == 1 and f"dunbot approve {approval}" in refused.stderr

    assert _sql(folder, "SELECT status, outcome, note FROM task WHERE id = ?", int(call)) == [
        ("done", "done", "客户承诺周五付款")
    ]
    open_now = json.loads(dunbot(folder, "tasks", "--json").stdout)
    assert int(call) not in [t["id"] for t in open_now]
    everything = json.loads(dunbot(folder, "tasks", "--all", "--json").stdout)
    assert next(t for t in everything if t["id"] == int(call))["status"] == "done"
    assert _sql(folder, "SELECT count(*) FROM evidence_event WHERE kind = 'task_done'") == [(1,)]


def test_resolving_an_unknown_sms_and_reading_the_log(desk: dict[str, object]) -> None:
    folder = Path(str(desk["folder"]))
    review, message = str(desk["review"]), int(str(desk["message"]))

    bad = dunbot(folder, "task", "done", review, "--note", "checked", "--outcome", "maybe")
    assert bad.returncode == 1 and "--outcome must be one of" in bad.stderr
    resolved = dunbot(
        folder, "task", "done", review, "--note", "Twilio console: undelivered", "--outcome", "not-delivered"
    )
    assert resolved.returncode == 0, resolved.stderr
    assert _sql(folder, "SELECT state FROM message WHERE id = ?", message) == [("failed",)]

    log = dunbot(folder, "log", "--invoice", "INV-1", "--json")
    assert log.returncode == 0, log.stderr
    events = json.loads(log.stdout)
    assert [e["kind"] for e in events] == ["task_done", "message_resolved"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert events[1]["data"]["outcome"] == "not-delivered" and events[1]["data"]["state"] == "failed"
    assert (
        events[0]["data"]["task"] == int(review)
        and events[0]["data"]["note"] == "Twilio console: undelivered"
    )
    assert all(e["customer"] == "C1" and e["actor"].startswith("user:") for e in events)

    assert json.loads(dunbot(folder, "log", "--invoice", "INV-2", "--json").stdout) == []
    assert len(json.loads(dunbot(folder, "log", "--customer", "C1", "--json").stdout)) == 2
    table = dunbot(folder, "log", "--customer", "C1")
    assert table.returncode == 0 and "message_resolved" in table.stdout

    for flag, value in (("--customer", "C404"), ("--invoice", "NOPE-1")):
        unknown = dunbot(folder, "log", flag, value)
        assert unknown.returncode == 1 and value in unknown.stderr

    verified = dunbot(folder, "evidence", "verify", "--db")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_promise_and_a_dispute_close_the_call_tasks_of_their_invoices(desk: dict[str, object]) -> None:
    folder = Path(str(desk["folder"]))
    call = int(str(desk["call"]))
    promised = dunbot(folder, "promise", "INV-2", "--date", "2030-01-15")
    assert promised.returncode == 0, promised.stderr
    assert f"call task {call} (collection_call) closed" in promised.stdout
    assert _sql(folder, "SELECT status, outcome FROM task WHERE id = ?", call) == [("done", "promised")]
    kinds = [e["kind"] for e in json.loads(dunbot(folder, "log", "--invoice", "INV-2", "--json").stdout)]
    assert kinds == ["promise", "task_done"]

    with sqlite3.connect(folder / "dunbot.db") as db:
        both = db.execute(
            "INSERT INTO task (kind, customer_id, invoices, step, assignee, title, body, status, created_at)"
            " VALUES ('call', 'C1', '[\"INV-1\", \"INV-2\"]', 'care_call', 'li', 'call', '', 'open', ?)",
            (CREATED,),
        ).lastrowid
    disputed = dunbot(folder, "dispute", "open", "INV-1", "--reason", "货物破损")
    assert disputed.returncode == 0, disputed.stderr
    assert f"call task {both} (care_call) stays open for INV-2" in disputed.stdout
    assert _sql(folder, "SELECT status, invoices FROM task WHERE id = ?", both) == [("open", '["INV-2"]')]
    assert dunbot(folder, "evidence", "verify", "--db").returncode == 0


def test_pause_an_invoice_or_a_customer(desk: dict[str, object]) -> None:
    folder = Path(str(desk["folder"]))
    paused = dunbot(folder, "pause", "INV-1", "--until", "2030-01-31", "--reason", "客户内部审计")
    assert paused.returncode == 0, paused.stderr
    assert "invoice INV-1 paused until 2030-01-31" in paused.stdout
    customer = dunbot(folder, "pause", "--customer", "C1", "--until", "2030-02-28", "--reason", "重组谈判")
    assert customer.returncode == 0, customer.stderr
    assert "customer C1 paused until 2030-02-28" in customer.stdout
    assert _sql(folder, "SELECT paused_until, pause_reason FROM invoice WHERE number = 'INV-1'") == [
        ("2030-01-31", "客户内部审计")
    ]
    assert _sql(folder, "SELECT paused_until, pause_reason FROM customer WHERE id = 'C1'") == [
        ("2030-02-28", "重组谈判")
    ]
    events = json.loads(dunbot(folder, "log", "--customer", "C1", "--json").stdout)
    assert [(e["kind"], e["invoices"], e["actor"].startswith("user:")) for e in events] == [
        ("pause", ["INV-1"], True),
        ("pause", [], True),
    ]
    table = dunbot(folder, "log", "--customer", "C1")
    assert "customer paused until 2030-02-28: 重组谈判" in table.stdout

    for args, code, message in (
        (("INV-404", "--until", "2030-01-31", "--reason", "x"), 1, "no invoice 'INV-404'"),
        (("--customer", "C404", "--until", "2030-01-31", "--reason", "x"), 1, "no customer 'C404'"),
        (("INV-1", "--until", "2020-01-31", "--reason", "x"), 1, "--until 2020-01-31 is in the past"),
        (("INV-1", "--customer", "C1", "--until", "2030-01-31", "--reason", "x"), 2, "name exactly one"),
        (("--until", "2030-01-31", "--reason", "x"), 2, "name exactly one"),
        (("INV-1", "--until", "31/01/2030", "--reason", "x"), 2, "YYYY-MM-DD"),
        (("INV-1", "--reason", "x"), 2, "--until"),
    ):
        refused = dunbot(folder, "pause", *args)
        assert refused.returncode == code, (args, refused.stdout, refused.stderr)
        assert message in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr
    assert len(json.loads(dunbot(folder, "log", "--customer", "C1", "--json").stdout)) == 2


def test_opt_out_once(desk: dict[str, object]) -> None:
    folder = Path(str(desk["folder"]))
    first = dunbot(folder, "opt-out", "C1", "--channel", "sms", "--reason", "回复退订")
    assert first.returncode == 0, first.stderr
    assert "C1 opted out of sms" in first.stdout
    again = dunbot(folder, "opt-out", "C1", "--channel", "sms", "--reason", "again")
    assert again.returncode == 0, again.stderr
    assert "already opted out of sms; nothing written" in again.stdout
    assert _sql(folder, "SELECT opted_out FROM customer WHERE id = 'C1'") == [("sms",)]
    events = json.loads(dunbot(folder, "log", "--customer", "C1", "--json").stdout)
    assert [(e["kind"], e["data"]["channel"], e["data"]["reason"]) for e in events] == [
        ("opt_out", "sms", "回复退订")
    ]
    for args, code, message in (
        (("C1", "--channel", "task", "--reason", "x"), 2, "choose one of email, letter, sms, voice"),
        (("C404", "--channel", "email", "--reason", "x"), 1, "no customer 'C404'"),
        (("C1", "--channel", "email"), 2, "--reason"),
    ):
        refused = dunbot(folder, "opt-out", *args)
        assert refused.returncode == code, (args, refused.stderr)
        assert message in refused.stderr and "Traceback" not in refused.stderr


def _shanghai_today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the example config's company timezone


def test_tasks_show_amount_days_overdue_and_due_date(desk: dict[str, object]) -> None:
    folder = Path(str(desk["folder"]))
    with sqlite3.connect(folder / "dunbot.db") as db:
        db.execute(
            "INSERT INTO payment (reference, invoice_number, amount, paid_on) VALUES ('P-1', 'INV-2', '1200.00', ?)",
            (CREATED[:10],),
        )
    before = _shanghai_today()
    listed = dunbot(folder, "tasks", "--json")
    after = _shanghai_today()
    assert listed.returncode == 0, listed.stderr
    approval = next(t for t in json.loads(listed.stdout) if t["kind"] == "approval")
    assert approval["outstanding"] == {"CNY": "3800.00"} and approval["due_date"] == "2026-05-26"
    due = date(2026, 5, 26)
    assert approval["days_overdue"] in {(before - due).days, (after - due).days}

    for columns in (200, 100):
        table = dunbot(folder, "tasks", columns=columns)
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert max(len(line) for line in lines) <= columns
        row = next(line for line in lines if f" {desk['approval']} " in line and "approval" in line)
        assert "3,800.00 CNY" in row and "2026-05-26" in row
        assert f" {approval['days_overdue']} " in row


def test_an_empty_task_list_says_so(desk: dict[str, object]) -> None:
    folder = Path(str(desk["folder"]))
    mine = dunbot(folder, "tasks", "--mine", user="nobody@example.com")
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout.strip() == "no open tasks for nobody@example.com"
    assert json.loads(dunbot(folder, "tasks", "--mine", "--json", user="nobody@example.com").stdout) == []
    everything = dunbot(folder, "tasks", "--all", "--mine", user="nobody@example.com")
    assert everything.stdout.strip() == "no tasks for nobody@example.com"


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (("promise",), ("INVOICE", "--date", "DATE", "--amount", "AMOUNT")),
        (("pause",), ("INVOICE", "--customer", "ID", "--until", "DATE", "--reason", "TEXT")),
        (("opt-out",), ("CUSTOMER", "email|sms|voice|letter")),
        (("log",), ("--customer", "ID", "--invoice", "INVOICE")),
        (("plan",), ("--as-of", "DATE")),
        (("evidence", "export"), ("--out", "FILE")),
        (("task", "done"), ("--note", "TEXT", "--tracking", "NUMBER")),
    ],
)
def test_help_names_what_each_value_is(
    tmp_path: Path, command: tuple[str, ...], shown: tuple[str, ...]
) -> None:
    result = dunbot(tmp_path, *command, "--help")
    assert result.returncode == 0, result.stderr
    for word in shown:
        assert re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", result.stdout), (word, result.stdout)
    options = result.stdout.split("Options", 1)[1]
    # a value is named for what it is, a switch takes none: no "<str>" or "<bool>" after our options
    assert [
        line
        for line in options.splitlines()
        if "<str>" in line or ("<bool>" in line and "--help" not in line)
    ] == []


# --- `dunbot message show` on a real cycle ---------------------------------------------------------

PLAN_DAY = "2026-06-10"


def _ledger_with_window(folder: Path, window: str) -> None:
    from tests.acceptance.test_cli import CUSTOMERS, INVOICES

    assert dunbot(folder, "init").returncode == 0
    config = folder / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    assert 'window = "08:00-20:00"' in text
    config.write_text(text.replace('window = "08:00-20:00"', f'window = "{window}"'), encoding="utf-8")
    for entity, rows in (("customers", CUSTOMERS), ("invoices", INVOICES)):
        (folder / f"{entity}.csv").write_text(rows, encoding="utf-8")
        imported = dunbot(folder, "import", entity, f"{entity}.csv")
        assert imported.returncode == 0, imported.stderr


def _messages(folder: Path) -> dict[tuple[str, str], int]:
    rows = _sql(folder, "SELECT step, channel, id FROM message WHERE customer_id = 'C1'")
    return {(str(step), str(channel)): int(str(number)) for step, channel, number in rows}


def test_message_show_prints_the_email_as_sent_with_its_signed_pdf(tmp_path: Path) -> None:
    _ledger_with_window(tmp_path, "00:00-23:59")  # open whenever the test runs
    cycle = dunbot(tmp_path, "cycle", "--as-of", PLAN_DAY, "--json")
    assert cycle.returncode == 0, cycle.stderr
    email_id = _messages(tmp_path)[("formal_notice", "email")]

    shown = dunbot(tmp_path, "message", "show", str(email_id), "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert (detail["state"], detail["channel"], detail["invoices"]) == ("sent", "email", ["INV-1"])
    [[message_id]] = _sql(tmp_path, f"SELECT message_id FROM message WHERE id = {email_id}")
    # other customers' e-mails lie beside it: pick this message's by its Message-ID
    [sent] = [
        parsed
        for eml in (tmp_path / "outbox" / "email").glob("*.eml")
        if (parsed := email.message_from_bytes(eml.read_bytes(), policy=email.policy.default))["Message-ID"]
        == message_id
    ]
    assert isinstance(sent, email.message.EmailMessage)
    body = sent.get_body(preferencelist=("plain",))
    assert isinstance(body, email.message.EmailMessage)
    assert detail["content"]["subject"] == str(sent["Subject"])
    assert detail["content"]["text"] == body.get_content() and "INV-1" in detail["content"]["text"]
    [pdf] = detail["attachments"]
    assert pdf["name"].endswith(".pdf") and pdf["content_type"] == "application/pdf"
    assert detail["signed_pdf"] == pdf
    pdf_bytes = Path(pdf["path"]).read_bytes()
    assert hashlib.sha256(pdf_bytes).hexdigest() == pdf["sha256"] and len(pdf_bytes) == pdf["size"]
    assert [h["state"] for h in detail["history"]] == ["planned", "notice signed", "sent"]
    assert detail["waiting"] is None

    table = dunbot(tmp_path, "message", "show", str(email_id), columns=100)
    assert table.returncode == 0, table.stderr
    assert str(sent["Subject"]) in table.stdout and pdf["name"] in table.stdout
    assert f"dunbot notice verify {pdf['path']}" in table.stdout
    assert body.get_content().splitlines()[0] in table.stdout

    sms_id = _messages(tmp_path)[("overdue_sms", "sms")]
    sms = dunbot(tmp_path, "message", "show", str(sms_id), "--json")
    [[sms_reference]] = _sql(tmp_path, f"SELECT message_id FROM message WHERE id = {sms_id}")
    sent_texts = {
        dropped["key"]: dropped["body"]
        for dropped in (
            json.loads(path.read_text(encoding="utf-8"))
            for path in (tmp_path / "outbox" / "sms").glob("*.json")
        )
    }
    assert json.loads(sms.stdout)["content"]["text"] == sent_texts[sms_reference]
    log = dunbot(tmp_path, "log", "--invoice", "INV-1")
    assert f"message {email_id}: email formal_notice" in log.stdout


def test_message_show_says_why_a_message_waits_and_until_when(tmp_path: Path) -> None:
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    window = "00:00-01:00" if now.hour >= 2 else "12:00-13:00"  # closed now in Shanghai
    _ledger_with_window(tmp_path, window)
    cycle = dunbot(tmp_path, "cycle", "--as-of", PLAN_DAY, "--json")
    assert cycle.returncode == 0, cycle.stderr
    assert json.loads(cycle.stdout)["outcomes"].get("held", 0) >= 2
    email_id = _messages(tmp_path)[("formal_notice", "email")]
    [(held_until,)] = _sql(tmp_path, "SELECT next_attempt_at FROM message WHERE id = ?", email_id)
    held = datetime.fromisoformat(str(held_until)).replace(tzinfo=UTC)

    shown = dunbot(tmp_path, "message", "show", str(email_id), "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["state"] == "planned" and detail["content"] is None
    [wait] = detail["waiting"]["waits"]
    assert wait["reason"] == "contact_window" and f"{window} Asia/Shanghai" in wait["detail"]
    assert (
        datetime.fromisoformat(wait["until"]) == held == datetime.fromisoformat(detail["waiting"]["goes_at"])
    )

    table = dunbot(tmp_path, "message", "show", str(email_id))
    assert table.returncode == 0, table.stderr
    assert "why it waits" in table.stdout and "not rendered yet" in table.stdout
    assert f"contact_window until {held:%Y-%m-%d %H:%M} UTC" in table.stdout
    assert f"it can go from {held:%Y-%m-%d %H:%M} UTC" in table.stdout

    assert dunbot(tmp_path, "opt-out", "C1", "--channel", "email", "--reason", "退订").returncode == 0
    refused = dunbot(tmp_path, "message", "show", str(email_id))
    assert "it will not be sent: the outbox cancels it when it re-checks it" in refused.stdout
    assert "(the customer opted out of email)" in refused.stdout

    unknown = dunbot(tmp_path, "message", "show", "999")
    assert (
        unknown.returncode == 1 and "no message 999" in unknown.stderr and "Traceback" not in unknown.stderr
    )
    not_a_number = dunbot(tmp_path, "message", "show", "M-1")
    assert not_a_number.returncode == 2 and "Traceback" not in not_a_number.stderr


def test_empty_listings_print_one_clean_line(tmp_path: Path) -> None:
    assert dunbot(tmp_path, "init").returncode == 0
    for args, line in (
        (("log",), "no events"),
        (("tasks",), "no open tasks"),
        (("report", "aging", "--as-of", "2026-06-10"), "Aging by tier as of 2026-06-10: none"),
        (("status",), "outbox: empty"),
        (("plan", "--as-of", "2026-06-10"), "nothing to show for 2026-06-10"),
    ):
        result = dunbot(tmp_path, *args, columns=80)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stdout.splitlines()[0] == line, (args, result.stdout)
        assert not any(mark in result.stdout for mark in "┏━┃─"), (args, result.stdout)
