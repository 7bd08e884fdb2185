"""`dunbot cycle`, `tasks`, `task done` and `log` as a collector types them, on the demo ledger."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

AS_OF = "2026-11-24"  # a Tuesday, a working day in China
A_WEEK_LATER = "2026-12-01"


def dunbot(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("collector")
    result = dunbot(folder, "init")
    assert result.returncode == 0, result.stderr
    config = folder / "dunbot.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('window = "08:00-20:00"', 'window = "00:00-23:59"'),
        encoding="utf-8",
    )
    from datetime import date

    from bot.ingest.demo_ledger import generate_demo_ledger

    files = generate_demo_ledger(folder / "ledger", date.fromisoformat(AS_OF))
    for entity in ("contracts", "customers", "invoices", "payments"):
        result = dunbot(folder, "import", entity, str(getattr(files, entity)))
        assert result.returncode == 0, result.stderr
    return folder


def _counts(folder: Path) -> tuple[int, int]:
    emails = (
        sum(1 for _ in (folder / "outbox" / "email").glob("*.eml"))
        if (folder / "outbox" / "email").exists()
        else 0
    )
    sms = (
        sum(1 for _ in (folder / "outbox" / "sms").glob("*.json"))
        if (folder / "outbox" / "sms").exists()
        else 0
    )
    return emails, sms


def test_dry_run_renders_everything_and_writes_nothing(ledger: Path) -> None:
    before = (ledger / "dunbot.db").read_bytes()
    result = dunbot(ledger, "cycle", "--as-of", AS_OF, "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["dry_run"] is True and len(document["messages"]) > 20
    assert document["queued"] == {"due": 0, "held": 0, "next_at": None}  # nothing planned before
    assert {m["channel"] for m in document["messages"]} >= {"email", "sms", "task"}
    assert all(m["subject"] for m in document["messages"] if m["channel"] == "email")
    assert (ledger / "dunbot.db").read_bytes() == before
    assert _counts(ledger) == (0, 0)


def test_a_cycle_sends_then_a_second_sends_nothing_more(ledger: Path) -> None:
    first = dunbot(ledger, "cycle", "--as-of", AS_OF, "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["outcomes"]["sent"] > 20 and summary["planned"]["messages"] > 20
    sent_files = _counts(ledger)
    assert sent_files[0] > 10 and sent_files[1] > 5
    second = dunbot(ledger, "cycle", "--as-of", AS_OF, "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["planned"]["messages"] == 0
    assert _counts(ledger) == sent_files
    table = dunbot(ledger, "cycle", "--as-of", AS_OF)
    assert table.returncode == 0 and "nothing was due" in table.stdout


def test_tasks_task_done_and_the_log(ledger: Path) -> None:
    dunbot(ledger, "cycle", "--as-of", AS_OF, "--json")
    # Legal steps come a week after the first demand went out (issue 16, DESIGN §4 rule 2): the
    # approval tasks are raised by the cycle of the same weekday a week later (before: by the first).
    week_later = dunbot(ledger, "cycle", "--as-of", A_WEEK_LATER, "--json")
    assert week_later.returncode == 0, week_later.stderr
    listed = dunbot(ledger, "tasks", "--json")
    assert listed.returncode == 0, listed.stderr
    tasks = json.loads(listed.stdout)
    call = next(t for t in tasks if t["kind"] == "call")
    approval = next(t for t in tasks if t["kind"] == "approval")
    done = dunbot(ledger, "task", "done", str(call["id"]), "--note", "客户承诺周五付款")
    assert done.returncode == 0, done.stderr
    again = dunbot(ledger, "task", "done", str(call["id"]), "--note", "again")
    assert again.returncode == 1 and "already done" in again.stderr and "Traceback" not in again.stderr
    refused = dunbot(ledger, "task", "done", str(approval["id"]), "--note", "ok")
    assert refused.returncode == 1 and f"dunbot approve {approval['id']}" in refused.stderr
    approved = dunbot(ledger, "approve", str(approval["id"]))
    assert approved.returncode == 0, approved.stderr
    log = dunbot(ledger, "log", "--customer", call["customer"], "--json")
    assert log.returncode == 0, log.stderr
    kinds = [event["kind"] for event in json.loads(log.stdout)]
    assert "task_done" in kinds and "task_created" in kinds
    unknown = dunbot(ledger, "log", "--invoice", "NOPE-1")
    assert unknown.returncode == 1 and "no invoice 'NOPE-1'" in unknown.stderr
    verify = dunbot(ledger, "evidence", "verify", "--db")
    assert verify.returncode == 0, verify.stdout + verify.stderr
