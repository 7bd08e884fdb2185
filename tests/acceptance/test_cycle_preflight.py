"""`dunbot cycle` checks what it needs before it plans, and refuses to send days ahead (issue 16).

A cycle that cannot finish (a secret missing, a certificate that does not open, a broken template)
must write nothing: no step execution, message, evidence event or cycle_run row. A real cycle more
than one day after today (company time) is refused; a dry run of the same day is not.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

AS_OF = "2026-11-24"  # a Tuesday, a working day in China; the demo ledger has much due on it
TABLES = ("step_execution", "message", "evidence_event", "cycle_run", "task")


def dunbot(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200", **(env or {})},
    )


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("preflight")
    result = dunbot(folder, "init")
    assert result.returncode == 0, result.stderr
    from bot.demo_ledger import generate_demo_ledger

    files = generate_demo_ledger(folder / "ledger", date.fromisoformat(AS_OF))
    for entity in ("contracts", "customers", "invoices", "payments"):
        result = dunbot(folder, "import", entity, str(getattr(files, entity)))
        assert result.returncode == 0, result.stderr
    return folder


def _rows(folder: Path) -> dict[str, int]:
    with sqlite3.connect(folder / "dunbot.db") as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}


def _variant(folder: Path, name: str, old: str, new: str) -> str:
    """A copy of the config beside it (same database, same relative paths) with one change."""
    text = (folder / "dunbot.toml").read_text(encoding="utf-8")
    assert old in text
    (folder / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return name


def _refused_and_nothing_written(
    folder: Path, result: subprocess.CompletedProcess[str], before: dict[str, int]
) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the cycle did not start" in result.stderr and "nothing was planned" in result.stderr
    assert "Traceback" not in result.stderr
    assert _rows(folder) == before
    assert not (folder / "outbox").exists()


def test_a_missing_smtp_password_stops_the_cycle_before_it_plans(ledger: Path) -> None:
    before = _rows(ledger)
    assert before["evidence_event"] > 0 and before["step_execution"] == 0  # the imports, nothing planned
    config = _variant(
        ledger,
        "smtp.toml",
        'transport = "file"                      # "smtp" sends',
        'transport = "smtp"\nusername = "dunbot"\npassword_env = "DUNBOT_TEST_SMTP_PASSWORD"\n#',
    )
    result = dunbot(ledger, "--config", config, "cycle", "--as-of", AS_OF)
    _refused_and_nothing_written(ledger, result, before)
    assert f"{config}:email.password_env: environment variable DUNBOT_TEST_SMTP_PASSWORD is not set" in (
        result.stderr
    )


def test_a_certificate_that_does_not_open_stops_the_cycle(ledger: Path) -> None:
    (ledger / "broken.p12").write_bytes(b"not a PKCS#12 file")
    config = _variant(ledger, "cert.toml", 'pkcs12 = "signing/trial-signing.p12"', 'pkcs12 = "broken.p12"')
    before = _rows(ledger)
    result = dunbot(ledger, "--config", config, "cycle", "--as-of", AS_OF, "--json")
    _refused_and_nothing_written(ledger, result, before)
    assert f"{config}:signing.pkcs12:" in result.stderr
    assert result.stdout == ""


def test_a_template_that_does_not_render_stops_the_cycle(ledger: Path, tmp_path: Path) -> None:
    from bot.render.environment import templates_dir

    templates = tmp_path / "templates"
    shutil.copytree(templates_dir(), templates)
    (templates / "sms" / "en" / "overdue_sms.j2").write_text(
        "{{ company.nickname }} pay now", encoding="utf-8"
    )
    before = _rows(ledger)
    result = dunbot(ledger, "cycle", "--as-of", AS_OF, env={"DUNBOT_TEMPLATES": str(templates)})
    _refused_and_nothing_written(ledger, result, before)
    assert "dunbot.toml:ladder.procedural[2]: template sms/en/overdue_sms.j2" in result.stderr
    assert "nickname" in result.stderr


def test_the_same_ledger_cycles_once_the_problems_are_fixed(ledger: Path) -> None:
    result = dunbot(
        ledger,
        "--config",
        "smtp.toml",
        "cycle",
        "--as-of",
        AS_OF,
        "--dry-run",
        "--json",
        env={"DUNBOT_TEST_SMTP_PASSWORD": "secret"},
    )
    assert result.returncode == 0, result.stderr  # a dry run is never stopped by the preflight
    done = dunbot(ledger, "cycle", "--as-of", AS_OF, "--json")
    assert done.returncode == 0, done.stderr
    after = _rows(ledger)
    assert after["step_execution"] > 0 and after["message"] > 0 and after["cycle_run"] == 1


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    result = dunbot(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    return tmp_path


def _today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the example config's company timezone


def test_a_real_cycle_two_days_ahead_is_refused_and_says_dry_run_works(empty: Path) -> None:
    ahead = (_today() + timedelta(days=2)).isoformat()
    before = _rows(empty)
    refused = dunbot(empty, "cycle", "--as-of", ahead)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert f"--as-of {ahead} is 2 days after today" in message
    assert f"dunbot cycle --as-of {ahead} --dry-run" in message
    assert "Traceback" not in refused.stderr
    assert _rows(empty) == before
    months = dunbot(empty, "cycle", "--as-of", (_today() + timedelta(days=120)).isoformat(), "--json")
    assert months.returncode == 2 and months.stdout == ""
    dry = dunbot(empty, "cycle", "--as-of", ahead, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr


def test_a_real_cycle_for_tomorrow_or_a_past_day_runs(empty: Path) -> None:
    for day in (_today() + timedelta(days=1), _today() - timedelta(days=30)):
        result = dunbot(empty, "cycle", "--as-of", day.isoformat(), "--json")
        assert result.returncode == 0, result.stderr
    assert _rows(empty)["cycle_run"] == 2
