"""`dunbot note` and a call's outcome with `dunbot task done`, as a collector types them."""

from __future__ import annotations

import getpass
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tests.acceptance.test_collector_cli import CREATED, dunbot


def _sql(folder: Path, statement: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(folder / "dunbot.db") as connection:
        return connection.execute(statement, params).fetchall()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """C1 owes INV-1 and INV-2, C2 owes INV-9; a call task about INV-1."""
    result = dunbot(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "dunbot.db") as db:
        for customer in ("C1", "C2"):
            db.execute(
                "INSERT INTO customer (id, name, country, timezone, language, payment_terms_days,"
                " open_lawsuits, do_not_contact, credit_hold, opted_out)"
                " VALUES (?, '杭州远航贸易有限公司', 'CN', 'Asia/Shanghai', 'zh-CN', 30, 0, 0, 0, '')",
                (customer,),
            )
        for number, customer in (("INV-1", "C1"), ("INV-2", "C1"), ("INV-9", "C2")):
            db.execute(
                "INSERT INTO invoice (number, customer_id, currency, amount, issue_date, due_date, status)"
                " VALUES (?, ?, 'CNY', '5000.00', '2026-04-01', '2026-05-26', 'open')",
                (number, customer),
            )
        db.execute(
            "INSERT INTO task (kind, customer_id, invoices, step, assignee, title, body, status, dedupe_key,"
            " created_at) VALUES ('call', 'C1', '[\"INV-1\"]', 'collection_call', 'li', 'call C1', '', 'open',"
            " 'call:C1:collection_call', ?)",
            (CREATED,),
        )
    return tmp_path


def _events(folder: Path, kind: str) -> list[dict[str, object]]:
    rows = _sql(folder, "SELECT body FROM evidence_event WHERE kind = ? ORDER BY seq", kind)
    return [json.loads(str(body)) for (body,) in rows]


def test_note_records_an_event_of_the_user(folder: Path) -> None:
    added = dunbot(
        folder, "note", "C1", "--text", "财务经理下周休假", "--invoice", "INV-1", "--invoice", "INV-2"
    )
    assert added.returncode == 0, added.stderr
    assert "note added to C1 (INV-1, INV-2)" in added.stdout
    (note,) = _events(folder, "note")
    assert note["actor"] == f"user:{getpass.getuser()}" and note["customer"] == "C1"
    assert note["invoices"] == ["INV-1", "INV-2"] and note["data"] == {"text": "财务经理下周休假"}
    log = dunbot(folder, "log", "--customer", "C1", "--json")
    assert log.returncode == 0 and "财务经理下周休假" in log.stdout

    other = dunbot(folder, "note", "C1", "--text", "x", "--invoice", "INV-9")
    assert other.returncode == 1 and "no invoice 'INV-9' of customer C1" in other.stderr
    blank = dunbot(folder, "note", "C1", "--text", "  ")
    assert blank.returncode == 2
    assert len(_events(folder, "note")) == 1


def test_task_done_logs_a_call_and_its_promise(folder: Path) -> None:
    (task,) = [str(row[0]) for row in _sql(folder, "SELECT id FROM task")]
    missing = dunbot(folder, "task", "done", task, "--note", "答应付款", "--outcome", "promised")
    assert missing.returncode == 1 and "needs the promise" in missing.stderr
    no_date = dunbot(folder, "task", "done", task, "--note", "x", "--outcome", "reached", "--amount", "1")
    assert no_date.returncode == 2
    done = dunbot(
        folder,
        "task",
        "done",
        task,
        "--note",
        "王经理承诺付 3000",
        "--outcome",
        "promised",
        "--promise-date",
        "2099-01-15",
        "--amount",
        "3000",
    )
    assert done.returncode == 0, done.stderr
    assert f"task {task} (call: call C1) done: promised" in done.stdout
    assert _sql(folder, "SELECT status, outcome, note FROM task") == [
        ("done", "promised", "王经理承诺付 3000")
    ]
    ((on, amount),) = _sql(folder, "SELECT promise_date, promise_amount FROM invoice WHERE number = 'INV-1'")
    assert on == "2099-01-15" and Decimal(str(amount)) == Decimal("3000")
    (promise,) = _events(folder, "promise")
    assert promise["actor"] == f"user:{getpass.getuser()}"
    (task_done,) = _events(folder, "task_done")
    assert task_done["data"]["outcome"] == "promised"  # type: ignore[index]
