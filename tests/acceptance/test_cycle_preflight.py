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
    from bot.ingest.demo_ledger import generate_demo_ledger

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
    checked = dunbot(ledger, "check-config", env={"DUNBOT_TEMPLATES": str(templates)})
    assert checked.returncode == 2  # check-config finds it too, before anyone runs a cycle
    assert "dunbot.toml:ladder.procedural[2]: template sms/en/overdue_sms.j2:1: undefined" in checked.stderr


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


CUSTOMERS = """id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact
C1,上海恒通机电设备有限公司,91310000X,cooperative,CN,Asia/Shanghai,zh-CN,finance@hengtong.example.cn,+8613800138000,上海市浦东新区世纪大道1号,am@example.com,30,500000.00,manufacturing,50000000,0,false
C2,Bright Harbour Ltd,GB123,cooperative,GB,Europe/London,en,ap@brightharbour.example.com,+447911123456,"1 Dock Road, London",,45,,retail,,0,
"""
INVOICES = """number,customer_id,currency,amount,issue_date,due_date,contract_ref,status
INV-1,C1,CNY,100000.00,2026-04-01,2026-05-26,,open
INV-3,C2,GBP,2500.50,2026-04-01,2026-05-26,,open
"""


def test_a_daemon_tick_that_finds_a_broken_template_logs_it_and_writes_nothing(
    empty: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import socket
    import time

    from bot.render.environment import templates_dir

    (empty / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (empty / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    for entity in ("customers", "invoices"):
        assert dunbot(empty, "import", entity, f"{entity}.csv").returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = empty / "dunbot.toml"
    text = config.read_text(encoding="utf-8").replace('cron = "0 9 * * 1-5"', 'cron = "* * * * *"')
    config.write_text(
        text.replace('listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{port}"'), encoding="utf-8"
    )
    # The templates all exist (the daemon starts), but one no longer renders.
    templates = tmp_path_factory.mktemp("templates") / "templates"
    shutil.copytree(templates_dir(), templates)
    (templates / "email" / "en" / "formal_notice.txt.j2").write_text(
        "{{ company.nickname }}", encoding="utf-8"
    )
    before = _rows(empty)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=empty,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(empty),
            "PYTHONUNBUFFERED": "1",
            "DUNBOT_TEMPLATES": str(templates),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        assert daemon.stderr is not None
        deadline = time.monotonic() + 90  # the tick comes at the next full minute
        while time.monotonic() < deadline:
            line = daemon.stderr.readline()
            if not line and daemon.poll() is not None:
                break
            seen.append(line)
            if "failed:" in line:
                break
    finally:
        daemon.terminate()
        _, rest = daemon.communicate(timeout=30)
    failure = next((line for line in seen if "failed:" in line), "")
    assert "the cycle did not start" in failure, "".join(seen) + rest
    assert (
        "dunbot.toml:ladder.consultative[3]: template email/en/formal_notice.txt.j2:1: undefined" in failure
    )
    assert "Traceback" not in "".join(seen) + rest
    assert _rows(empty) == before
    assert daemon.returncode == 0
