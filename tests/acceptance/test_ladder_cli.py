"""First demand before any legal step, a rejected legal step, and do_not_contact, as a user types it.

Issue 16 (DESIGN §4 rule 2 as amended): a real ledger's first run opens long-overdue invoices with a
signed demand, the legal step follows `[ladder] demand_lead_days` after it went out, a rejected one
leaves the invoice to the collectors, and a customer that must not be contacted is one collector
task, not silence and not a task a day.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CUSTOMERS = """id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact
C1,上海恒通机电设备有限公司,91310000X,cooperative,CN,Asia/Shanghai,zh-CN,finance@hengtong.example.cn,+8613800138000,上海市浦东新区世纪大道1号,,30,,manufacturing,,0,false
C3,杭州远航贸易有限公司,91330000Y,cooperative,CN,Asia/Shanghai,zh-CN,ap@yuanhang.example.cn,+8613800138001,杭州市西湖区文三路1号,,30,,retail,,0,true
"""
INVOICES = """number,customer_id,currency,amount,issue_date,due_date,contract_ref,status
INV-LATE,C1,CNY,80000.00,2026-02-01,2026-03-12,,open
INV-DNC,C3,CNY,50000.00,2026-03-01,2026-05-01,,open
"""
FIRST_DAY = "2026-06-10"  # a Wednesday: INV-LATE is 90 days overdue, first seen
NEXT_DAY = "2026-06-11"
A_WEEK_LATER = "2026-06-17"
THE_DAY_AFTER = "2026-06-18"


def dunbot(cwd: Path, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": str(columns)},
    )


def ok(cwd: Path, *args: str, columns: int = 200) -> str:
    result = dunbot(cwd, *args, columns=columns)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ladder")
    ok(folder, "init")
    config = folder / "dunbot.toml"
    # Send whenever the test runs (the window is not what is tested here).
    config.write_text(
        config.read_text(encoding="utf-8").replace('window = "08:00-20:00"', 'window = "00:00-23:59"'),
        encoding="utf-8",
    )
    for name, text in (("customers.csv", CUSTOMERS), ("invoices.csv", INVOICES)):
        (folder / name).write_text(text, encoding="utf-8")
        ok(folder, "import", name.removesuffix(".csv"), name)
    return folder


def plan(folder: Path, day: str) -> dict[str, list[dict[str, object]]]:
    by_invoice: dict[str, list[dict[str, object]]] = {}
    for decision in json.loads(ok(folder, "plan", "--as-of", day, "--json")):
        by_invoice.setdefault(str(decision["invoice"]), []).append(decision)
    return by_invoice


def live(decisions: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(d["step"], d["status"]) for d in decisions if d["status"] != "superseded"]


def tasks(folder: Path) -> list[dict[str, object]]:
    return list(json.loads(ok(folder, "tasks", "--json")))


def test_first_demand_then_the_legal_step_then_rejected_it_is_manual(ledger: Path) -> None:
    first = plan(ledger, FIRST_DAY)
    # 90 days late on its first run: a signed demand, never a legal step.
    [(step, status)] = live(first["INV-LATE"])
    assert (step, status) == ("credit_hold", "planned")
    [opening] = [d for d in first["INV-LATE"] if d["status"] == "planned"]
    assert str(opening["reason"]).startswith("first demand before litigation_referral: credit_hold")
    assert not any(d["status"] == "awaiting_approval" for d in first["INV-LATE"])
    assert {d["status"] for ds in first.values() for d in ds} <= {
        "planned",
        "superseded",
        "deferred",
        "awaiting_approval",
        "manual",
    }

    ok(ledger, "cycle", "--as-of", FIRST_DAY)
    emails = list((ledger / "outbox" / "email").glob("*.eml"))
    assert emails, "the first demand went out by e-mail"

    # The next day the legal step waits for the lead time, and says until when.
    [(step, status)] = live(plan(ledger, NEXT_DAY)["INV-LATE"])
    assert (step, status) == ("litigation_referral", "deferred")
    [waiting] = [d for d in plan(ledger, NEXT_DAY)["INV-LATE"] if d["status"] == "deferred"]
    assert str(waiting["reason"]).endswith(
        f"went out on {FIRST_DAY}; litigation_referral waits until {A_WEEK_LATER}"
    )
    ok(ledger, "cycle", "--as-of", NEXT_DAY)
    assert not any(t["kind"] == "approval" for t in tasks(ledger))

    # Seven days after the demand went out: the legal step, waiting for a collector.
    ok(ledger, "cycle", "--as-of", A_WEEK_LATER)
    [approval] = [t for t in tasks(ledger) if t["kind"] == "approval"]
    assert (approval["step"], approval["invoices"]) == ("litigation_referral", ["INV-LATE"])

    rejected = dunbot(ledger, "reject", str(approval["id"]), "--reason", "客户已提供还款计划")
    assert rejected.returncode == 0, rejected.stderr
    [manual] = [t for t in tasks(ledger) if t["kind"] == "manual" and t["customer"] == "C1"]
    assert f"task {manual['id']}" in rejected.stdout and "left to the collectors" in rejected.stdout
    assert manual["invoices"] == ["INV-LATE"] and "litigation_referral was rejected" in str(manual["title"])

    # From then on the plan shows it manual, every day, and nothing more is sent.
    for day in (THE_DAY_AFTER, "2026-06-22"):
        [decision] = plan(ledger, day)["INV-LATE"]
        assert (decision["step"], decision["status"], decision["channels"]) == (
            "litigation_referral",
            "manual",
            [],
        )
        assert str(decision["reason"]).startswith("litigation_referral was rejected")
    table = ok(ledger, "plan", "--as-of", THE_DAY_AFTER)
    assert "INV-LATE" in table and "manual" in table


def test_a_do_not_contact_customer_is_one_task_and_the_plan_and_aging_say_why(ledger: Path) -> None:
    for day in (FIRST_DAY, NEXT_DAY, A_WEEK_LATER):
        [decision] = plan(ledger, day)["INV-DNC"]
        assert (decision["status"], decision["channels"]) == ("manual", [])
        assert str(decision["reason"]).startswith("do_not_contact:")
        ok(ledger, "cycle", "--as-of", day)  # again on days already run: still one task
    [task] = [t for t in tasks(ledger) if t["customer"] == "C3"]
    assert (task["kind"], task["invoices"]) == ("manual", ["INV-DNC"])
    assert "do_not_contact" in str(task["title"])
    kinds = [event["kind"] for event in json.loads(ok(ledger, "log", "--customer", "C3", "--json"))]
    assert "task_created" in kinds and "step_planned" not in kinds and "message_sent" not in kinds
    assert not [t for t in tasks(ledger) if t["customer"] == "C3" and t["kind"] != "manual"]

    narrow = ok(ledger, "plan", "--as-of", NEXT_DAY, columns=100)  # the reason column is left out
    [why] = [line for line in narrow.splitlines() if line.strip().startswith("INV-DNC (C3):")]
    assert "do_not_contact" in why
    listed = ok(ledger, "tasks")
    assert "manual" in listed and "C3" in listed
    # Closed by a collector, it is not raised again the next day; the plan still says why.
    ok(ledger, "task", "done", str(task["id"]), "--note", "called the owner; paying by the 30th")
    ok(ledger, "cycle", "--as-of", THE_DAY_AFTER)
    assert [
        (t["status"], t["kind"])
        for t in json.loads(ok(ledger, "tasks", "--all", "--json"))
        if t["customer"] == "C3"
    ] == [("done", "manual")]
    assert plan(ledger, THE_DAY_AFTER)["INV-DNC"][0]["status"] == "manual"

    aging = json.loads(ok(ledger, "report", "aging", "--as-of", FIRST_DAY, "--json"))
    [c3] = [row for row in aging["by_customer"] if row["customer"] == "C3"]
    assert c3["note"].startswith("do_not_contact") and c3["31-60"] == "50000.00"
    assert not any("note" in row for row in aging["by_customer"] if row["customer"] == "C1")
    table = ok(ledger, "report", "aging", "--as-of", FIRST_DAY, columns=120)
    assert "do_not_contact" in table

    # An invoice that falls overdue after the task was closed is news: one new task names it.
    (ledger / "more.csv").write_text(
        "number,customer_id,currency,amount,issue_date,due_date,contract_ref,status\n"
        "INV-DNC2,C3,CNY,7000.00,2026-05-10,2026-06-12,,open\n",
        encoding="utf-8",
    )
    ok(ledger, "import", "invoices", "more.csv")
    for day in (THE_DAY_AFTER, "2026-06-19"):
        ok(ledger, "cycle", "--as-of", day)
    manual_tasks = [
        (t["status"], t["invoices"])
        for t in json.loads(ok(ledger, "tasks", "--all", "--json"))
        if t["customer"] == "C3"
    ]
    assert sorted(manual_tasks) == [("done", ["INV-DNC"]), ("open", ["INV-DNC", "INV-DNC2"])]
