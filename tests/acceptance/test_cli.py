"""The command line end to end, as a user types it, in a fresh folder."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cli.demo_run import demo_date

CUSTOMERS = """id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact
C1,上海恒通机电设备有限公司,91310000X,cooperative,CN,Asia/Shanghai,zh-CN,finance@hengtong.example.cn,+8613800138000,上海市浦东新区世纪大道1号,am@example.com,30,500000.00,manufacturing,50000000,0,false
C2,Bright Harbour Ltd,GB123,cautious,GB,Europe/London,en,ap@brightharbour.example.com,+447911123456,"1 Dock Road, London",,45,,retail,,1,
"""
INVOICES = """number,customer_id,currency,amount,issue_date,due_date,contract_ref,status
INV-1,C1,CNY,100000.00,2026-04-01,2026-05-26,,open
INV-2,C1,CNY,5000.00,2026-05-01,2026-06-07,,open
INV-3,C2,GBP,2500.50,2026-04-01,2026-05-11,,open
"""
PAYMENTS = """reference,invoice_number,amount,paid_on
P-1,INV-2,1000.00,2026-06-08
"""
AS_OF = "2026-06-10"


def dunbot(cwd: Path, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": str(columns)},
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    result = dunbot(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    for name, text in (("customers.csv", CUSTOMERS), ("invoices.csv", INVOICES), ("payments.csv", PAYMENTS)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.fixture
def loaded(workdir: Path) -> Path:
    for entity in ("customers", "invoices", "payments"):
        result = dunbot(workdir, "import", entity, f"{entity}.csv")
        assert result.returncode == 0, result.stderr
    return workdir


def _events(folder: Path) -> int:
    with sqlite3.connect(folder / "dunbot.db") as connection:
        return int(connection.execute("SELECT count(*) FROM evidence_event").fetchone()[0])


def test_init_writes_config_and_database(tmp_path: Path) -> None:
    result = dunbot(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dunbot.toml").exists() and (tmp_path / "dunbot.db").exists()
    assert "database ready" in result.stdout
    again = dunbot(tmp_path, "init")
    assert again.returncode == 0 and "wrote" not in again.stdout


def test_check_config_reports_unknown_key_with_exit_2(workdir: Path) -> None:
    assert dunbot(workdir, "check-config").returncode == 0
    config = workdir / "dunbot.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[web.extra]\nport = 1\n", encoding="utf-8")
    result = dunbot(workdir, "check-config")
    assert result.returncode == 2
    assert "dunbot.toml:web.extra: unknown key in [web]" in result.stderr


def test_check_config_prints_paths_and_values_as_written(tmp_path: Path) -> None:
    # Rich would read "[/]" as markup and ":thumbs_up:" as an emoji code
    folder = tmp_path / "w[/]x"  # two folders, "w[" and "]x"
    folder.mkdir(parents=True)
    assert dunbot(folder, "init").returncode == 0
    config = folder / "dunbot.toml"
    result = dunbot(tmp_path, "--config", str(config), "check-config")
    assert result.returncode == 0, result.stderr
    assert f"{config}: ok" in result.stdout
    text = _swap(config.read_text(encoding="utf-8"), 'tolerance = "1.00"', 'tolerance = ":thumbs_up:"')
    config.write_text(text, encoding="utf-8")
    result = dunbot(tmp_path, "--config", str(config), "check-config")
    assert result.returncode == 2
    assert f"{config}:compliance.tolerance: ':thumbs_up:' is not a decimal number" in result.stderr
    assert "Traceback" not in result.stderr


def test_commands_before_init_say_run_init(tmp_path: Path) -> None:
    result = dunbot(tmp_path, "plan")
    assert result.returncode == 2
    assert "dunbot init" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_import_lists_problems_and_writes_nothing(workdir: Path) -> None:
    bad = CUSTOMERS.replace("finance@hengtong.example.cn", "not-an-email").replace(",GB,", ",XX,")
    (workdir / "bad.csv").write_text(bad, encoding="utf-8")
    before = _events(workdir)
    result = dunbot(workdir, "import", "customers", "bad.csv")
    assert result.returncode == 1
    assert "bad.csv:2: email:" in result.stderr
    assert "bad.csv:3: country:" in result.stderr
    assert "Traceback" not in result.stderr
    with sqlite3.connect(workdir / "dunbot.db") as connection:
        assert connection.execute("SELECT count(*) FROM customer").fetchone()[0] == 0
    assert _events(workdir) == before


def _swap(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# The list of bad input, through the command line: (entity, file text, what stderr names).
BAD_INPUT = {
    "missing column": ("invoices", _swap(INVOICES, ",currency,", ","), "currency"),
    "extra column": ("invoices", _swap(INVOICES, ",status\n", ",status,colour\n"), "colour"),
    "misspelt column": ("invoices", _swap(INVOICES, ",amount,", ",ammount,"), "ammount"),
    "impossible date": ("invoices", _swap(INVOICES, "2026-05-26", "2026-02-30"), "bad.csv:2: due_date:"),
    "negative amount": ("invoices", _swap(INVOICES, "100000.00", "-100000.00"), "bad.csv:2: amount:"),
    "non-numeric amount": ("invoices", _swap(INVOICES, "5000.00", "five"), "bad.csv:3: amount:"),
    "unknown customer": ("invoices", _swap(INVOICES, "INV-3,C2", "INV-3,C9"), "bad.csv:4: customer_id:"),
    "duplicate invoice": ("invoices", INVOICES + "INV-1,C1,CNY,1.00,2026-04-01,2026-05-26,,open\n", "INV-1"),
    "payment for unknown invoice": (
        "payments",
        _swap(PAYMENTS, "INV-2", "INV-9"),
        "bad.csv:2: invoice_number:",
    ),
    "invalid phone": ("customers", _swap(CUSTOMERS, "+8613800138000", "12345"), "bad.csv:2: phone:"),
    "invalid e-mail": (
        "customers",
        _swap(CUSTOMERS, "ap@brightharbour.example.com", "ap@"),
        "bad.csv:3: email:",
    ),
    "unknown tier": ("customers", _swap(CUSTOMERS, ",cautious,", ",golden,"), "bad.csv:3: tier:"),
    "unknown timezone": (
        "customers",
        _swap(CUSTOMERS, "Europe/London", "Mars/Olympus"),
        "bad.csv:3: timezone:",
    ),
    "unknown country": ("customers", _swap(CUSTOMERS, ",GB,", ",XX,"), "bad.csv:3: country:"),
    "empty file": ("payments", "", "bad.csv"),
}


def _table_counts(folder: Path) -> dict[str, int]:
    with sqlite3.connect(folder / "dunbot.db") as connection:
        return {
            table: int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("customer", "invoice", "payment", "evidence_event")
        }


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_named_and_nothing_is_written(loaded: Path, case: str) -> None:
    entity, text, named = BAD_INPUT[case]
    (loaded / "bad.csv").write_text(text, encoding="utf-8")
    before = _table_counts(loaded)
    result = dunbot(loaded, "import", entity, "bad.csv")
    assert result.returncode == 1, result.stdout + result.stderr
    assert named in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert _table_counts(loaded) == before


def test_a_gb18030_file_read_as_utf8_says_to_pass_the_encoding(workdir: Path) -> None:
    (workdir / "gbk.csv").write_bytes(CUSTOMERS.encode("gb18030"))
    result = dunbot(workdir, "import", "customers", "gbk.csv")
    assert result.returncode == 1
    assert "--encoding" in result.stderr and "gbk.csv" in result.stderr
    assert _table_counts(workdir)["customer"] == 0
    fixed = dunbot(workdir, "import", "customers", "gbk.csv", "--encoding", "gb18030")
    assert fixed.returncode == 0, fixed.stderr
    assert _table_counts(workdir)["customer"] == 2


def test_check_config_prints_each_problem_on_one_line_at_80_columns(workdir: Path) -> None:
    config = workdir / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        _swap(
            text,
            'name = "overdue_sms"\nday = 3\nchannels = ["sms"]',
            'name = "overdue_sms"\nday = 3\nchannels = ["fax"]',
        )
        + "\n[web.extra]\nport = 1\n",
        encoding="utf-8",
    )
    # by its absolute path, which alone is most of an 80-column line
    result = dunbot(workdir, "--config", str(config), "check-config", columns=80)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert max(len(line) for line in lines) > 80
    # every problem whole on its line, the path first (the terminal may wrap it; grep still finds it)
    assert any(line.startswith(str(config)) and line.endswith("unknown key in [web]") for line in lines), (
        lines
    )
    assert any(
        line.startswith(f"{config}:ladder.procedural[2].channels[0]: Input should be") for line in lines
    )
    assert lines[-1].startswith("2 problem(s) in"), lines


def test_reimport_changes_nothing(loaded: Path) -> None:
    before = _events(loaded)
    result = dunbot(loaded, "import", "invoices", "invoices.csv")
    assert result.returncode == 0, result.stderr
    assert "0 new, 0 updated, 3 unchanged" in result.stdout
    assert _events(loaded) == before


def test_plan_json_has_the_contract_shape(loaded: Path) -> None:
    result = dunbot(loaded, "plan", "--as-of", AS_OF, "--json")
    assert result.returncode == 0, result.stderr
    decisions = json.loads(result.stdout)
    assert decisions, "something is due on the plan date"
    keys = {
        "invoice",
        "customer",
        "tier",
        "tactic",
        "step",
        "days_overdue",
        "channels",
        "late_fee",
        "status",
        "reason",
    }
    for decision in decisions:
        assert set(decision) == keys
        assert decision["status"] in {"planned", "superseded", "deferred", "awaiting_approval"}
        assert isinstance(decision["late_fee"], str)
    by_key = {(d["invoice"], d["step"]): d for d in decisions}
    notice = by_key[("INV-1", "formal_notice")]
    assert (notice["tier"], notice["tactic"], notice["days_overdue"]) == ("cooperative", "procedural", 15)
    assert notice["status"] == "planned" and notice["channels"] == ["email", "letter"]
    assert notice["late_fee"] == "0.00"  # grace is 15 days
    # GB customer, cautious: day 30 is the preservation pack, a legal step; no signed demand has gone
    # out, so its first demand goes in its stead (issue 16, DESIGN §4 rule 2; before: awaiting_approval)
    assert ("INV-3", "preservation_pack") not in by_key
    first_demand = by_key[("INV-3", "credit_hold")]
    assert first_demand["status"] == "planned"
    assert first_demand["reason"].startswith("first demand before preservation_pack: credit_hold (day 7)")


def test_plan_has_no_side_effects(loaded: Path) -> None:
    before = _events(loaded)
    assert dunbot(loaded, "plan", "--as-of", AS_OF).returncode == 0
    assert _events(loaded) == before


def test_plan_table_for_people(loaded: Path) -> None:
    result = dunbot(loaded, "plan", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    assert "formal_notice" in result.stdout and "INV-1" in result.stdout
    assert "planned" in result.stdout and "[/]" not in result.stdout  # styled, not markup as text


@pytest.mark.parametrize("columns", [80, 100, 140])
def test_plan_table_keeps_one_line_per_decision_and_hides_superseded_ones(loaded: Path, columns: int) -> None:
    # Issue 16: at 140 columns each row wrapped over five lines, most of them superseded steps.
    decisions = json.loads(dunbot(loaded, "plan", "--as-of", AS_OF, "--json").stdout)
    superseded = [d for d in decisions if d["status"] == "superseded"]
    assert superseded and len(superseded) < len(decisions)  # --json keeps every decision
    result = dunbot(loaded, "plan", "--as-of", AS_OF, columns=columns)
    assert result.returncode == 0, result.stderr
    table, _, notes = result.stdout.partition("left out at this width:")
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= columns
    for decision in decisions:  # each shown on its own line, none of its reason wrapped under it
        rows = [
            line for line in lines if f" {decision['step']} " in line and line.startswith(decision["invoice"])
        ]
        if decision["status"] == "superseded":
            assert rows == []
        else:
            (row,) = rows
            assert decision["status"] in row and f" {decision['days_overdue']} " in row
    assert "superseded" not in table
    assert decisions[0]["reason"] not in result.stdout
    assert "reason (a wider terminal or --json shows them)" in " ".join(notes.split())
    assert f"{len(superseded)} superseded decision(s) hidden (`dunbot plan --all` shows them)" in " ".join(
        notes.split()
    )


def test_plan_all_shows_the_superseded_decisions_too(loaded: Path) -> None:
    decisions = json.loads(dunbot(loaded, "plan", "--as-of", AS_OF, "--json").stdout)
    everything = dunbot(loaded, "plan", "--as-of", AS_OF, "--all", columns=100)
    assert everything.returncode == 0, everything.stderr
    lines = everything.stdout.splitlines()
    for decision in decisions:
        (row,) = [
            line for line in lines if line.startswith(decision["invoice"]) and f" {decision['step']} " in line
        ]
        assert decision["status"] in row
    assert "hidden" not in everything.stdout
    assert json.loads(dunbot(loaded, "plan", "--as-of", AS_OF, "--all", "--json").stdout) == decisions


def test_a_plan_with_nothing_to_show_says_so(workdir: Path) -> None:
    result = dunbot(workdir, "plan", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"nothing to show for {AS_OF}\n")
    assert "━" not in result.stdout and "─" not in result.stdout


@pytest.mark.parametrize("columns", [80, 64])
def test_plan_table_on_a_narrow_terminal_never_cuts_a_value(workdir: Path, columns: int) -> None:
    long_numbers = INVOICES.replace("INV-", "INV-2026-00012")  # 15 characters, as real ledgers have
    (workdir / "invoices.csv").write_text(long_numbers, encoding="utf-8")
    for entity in ("customers", "invoices"):
        assert dunbot(workdir, "import", entity, f"{entity}.csv").returncode == 0
    decisions = json.loads(dunbot(workdir, "plan", "--as-of", AS_OF, "--json").stdout)
    result = dunbot(workdir, "plan", "--as-of", AS_OF, columns=columns)
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout  # left out if need be, never truncated
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("INV-")]
    shown = [d for d in decisions if d["status"] != "superseded"]
    assert len(rows) == len(shown)  # one line each
    for decision in shown:  # the number, the step and the status whole on the decision's line
        (row,) = [r for r in rows if r[0] == decision["invoice"] and decision["step"] in r]
        assert decision["status"] in row


def test_help_shows_config_sections_as_written(tmp_path: Path) -> None:
    result = dunbot(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert "from the [source] database" in result.stdout
    assert "[schedule] cron" in result.stdout and "[web] listen" in result.stdout
    assert "🔑" not in result.stdout  # ":key:" in a docstring is not an emoji code


def test_bad_date_is_a_usage_error(loaded: Path) -> None:
    result = dunbot(loaded, "plan", "--as-of", "2026-02-30")
    assert result.returncode == 2
    assert "YYYY-MM-DD" in result.stderr


def test_reports_json(loaded: Path) -> None:
    aging = json.loads(dunbot(loaded, "report", "aging", "--as-of", AS_OF, "--json").stdout)
    assert aging["buckets"] == ["current", "1-30", "31-60", "61-90", "90+"]
    cny = next(r for r in aging["by_tier"] if r["currency"] == "CNY")
    assert cny["total"] == "104000.00"  # 100,000 + 5,000 − 1,000 paid
    kpi = json.loads(dunbot(loaded, "report", "kpi", "--as-of", AS_OF, "--json").stdout)
    assert {row["tier"] for row in kpi["tiers"]} == {"cooperative", "cautious"}
    assert kpi["days"] == 90
    # the three measures, per tier and currency
    assert all({"overdue_rate", "dso", "cei"} <= row.keys() for row in kpi["tiers"])
    gbp = next(r for r in kpi["tiers"] if r["currency"] == "GBP")
    assert (gbp["tier"], gbp["overdue"], gbp["overdue_rate"]) == ("cautious", "2500.50", "100.0")


@pytest.mark.parametrize("columns", [80, 200])
def test_reports_for_people_show_every_amount_whole_at_any_width(loaded: Path, columns: int) -> None:
    aging = json.loads(dunbot(loaded, "report", "aging", "--as-of", AS_OF, "--json").stdout)
    people = dunbot(loaded, "report", "aging", "--as-of", AS_OF, columns=columns)
    assert people.returncode == 0, people.stderr
    assert max(len(line) for line in people.stdout.splitlines()) <= columns
    words = people.stdout.split()
    for row in aging["by_tier"] + aging["by_customer"]:
        for amount in (*(row[bucket] for bucket in aging["buckets"]), row["total"]):
            assert f"{Decimal(amount):,}" in words
    kpi = json.loads(dunbot(loaded, "report", "kpi", "--as-of", AS_OF, "--json").stdout)
    people = dunbot(loaded, "report", "kpi", "--as-of", AS_OF, columns=columns)
    assert people.returncode == 0, people.stderr
    assert all(f"{Decimal(row['receivables']):,}" in people.stdout.split() for row in kpi["tiers"])


def test_promise_and_dispute_pause_dunning(loaded: Path) -> None:
    # a promise is for today or later (issue 16); any date after AS_OF pauses the plan of AS_OF
    soon = str(date.today() + timedelta(days=10))
    assert dunbot(loaded, "promise", "INV-1", "--date", soon, "--amount", "50000").returncode == 0
    assert dunbot(loaded, "dispute", "open", "INV-3", "--reason", "goods damaged").returncode == 0
    decisions = json.loads(dunbot(loaded, "plan", "--as-of", AS_OF, "--json").stdout)
    assert not any(d["invoice"] in ("INV-1", "INV-3") for d in decisions)
    unknown = dunbot(loaded, "promise", "NOPE", "--date", "2026-06-20")
    assert unknown.returncode == 1 and "no invoice 'NOPE'" in unknown.stderr


def test_evidence_verify_db_detects_tampering(loaded: Path) -> None:
    ok = dunbot(loaded, "evidence", "verify", "--db")
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout
    with sqlite3.connect(loaded / "dunbot.db") as connection:
        connection.execute("DROP TRIGGER evidence_event_no_update")
        connection.execute(
            "UPDATE evidence_event SET body = replace(body, '1000.00', '9000.00') WHERE kind = 'payment'"
        )
    bad = dunbot(loaded, "evidence", "verify", "--db")
    assert bad.returncode == 1
    assert "event" in bad.stderr and "FAIL" in bad.stderr


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = dunbot(tmp_path, "demo", "--dir", "demo", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    # nothing on stderr: a library's deprecation warning (cryptography 51 on pyHanko's DSA import)
    # would otherwise greet every operator who signs a notice
    assert result.stderr == ""
    assert "dunbot demo" in result.stdout
    assert "Decisions per tier and step" in result.stdout
    assert "verified" in result.stdout
    assert (tmp_path / "demo" / "ledger" / "invoices.csv").exists()
    # it ends with an evidence pack, verified offline, that the CLI verifies too
    assert "verified offline" in result.stdout
    (pack,) = (tmp_path / "demo").glob("evidence-*.zip")
    checked = dunbot(tmp_path / "demo", "evidence", "verify", pack.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stderr == ""
    # it acts out its plan day: the log's times never go backwards, the export comes last
    with sqlite3.connect(tmp_path / "demo" / "dunbot.db") as connection:
        events = connection.execute("SELECT at, kind FROM evidence_event ORDER BY seq").fetchall()
    assert [at for at, _ in events] == sorted(at for at, _ in events)
    assert events[0][0].startswith(f"{AS_OF} 01:00") and events[-1][1] == "export"  # 09:00 in Shanghai
    # customers answered the e-mails: each reply read once, matched and acted on, and the ladder reacted
    assert "5 customers replied" in result.stdout and "the ladder reacts" in result.stdout
    with sqlite3.connect(tmp_path / "demo" / "dunbot.db") as connection:
        replies = connection.execute(
            "SELECT kind, state, matched_by FROM inbound_message ORDER BY id"
        ).fetchall()
        promised = connection.execute(
            "SELECT count(*) FROM invoice WHERE promise_date IS NOT NULL"
        ).fetchone()
    assert sorted(kind for kind, _, _ in replies) == ["auto-reply", "dispute", "opt-out", "paid", "promise"]
    assert {(state, by) for _, state, by in replies} == {("handled", "tag")}  # by the Reply-To tag
    assert sorted(kind for _, kind in events).count("reply_received") == 5 and promised[0] >= 1
    assert not list((tmp_path / "demo" / "inbox").glob("*.eml"))  # all read, moved to processed/
    # the demo's folder is a working dunbot folder
    again = dunbot(tmp_path / "demo", "inbound", "poll", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["handled"]["acted_on"] == 0
    plan = dunbot(tmp_path / "demo", "plan", "--as-of", AS_OF, "--json")
    assert plan.returncode == 0 and json.loads(plan.stdout)


def test_a_demo_ahead_of_the_clock_reads_well_on_an_80_column_terminal(tmp_path: Path) -> None:
    """A newcomer's terminal: nothing folded mid-phrase, no count cut, no "-41.7 h ago"."""
    # The demo acts out a business day to come (on a day off in China nothing would be due).
    future = demo_date(date.today() + timedelta(days=60), "CN").isoformat()
    result = dunbot(tmp_path, "demo", "--dir", "demo", "--as-of", future, columns=80)
    assert result.returncode == 0, result.stderr
    step_one = result.stdout.split("\n2. ")[0].splitlines()[1:]
    assert len(step_one) == 3 and all(len(line) <= 80 for line in step_one), step_one
    assert step_one[2].strip() == "(for the demo only, never for production)"
    status = dunbot(tmp_path / "demo", "status", columns=80)
    assert status.returncode == 0, status.stderr
    assert "…" not in status.stdout and "deliv." in status.stdout and "cancel." in status.stdout
    assert all(len(line) <= 80 for line in status.stdout.splitlines()), status.stdout
    counts = json.loads(dunbot(tmp_path / "demo", "status", "--json").stdout)["messages"]
    email_sent = next(m["count"] for m in counts if (m["channel"], m["state"]) == ("email", "sent"))
    assert re.search(rf"^email +\d+ +0 +0 +{email_sent} ", status.stdout, re.MULTILINE), status.stdout
    # the cycle's real duration, not the 0.0 s of a clock that stood still
    took = re.search(r"last cycle: .*?, (\d+\.\d) s,", status.stdout)
    assert took is not None and float(took.group(1)) > 0, status.stdout
    # its checkpoint was signed on the demo's (future) day: said as a time, not a negative age
    assert "h ago" not in status.stdout and f"signed at {future}" in status.stdout
    assert re.search(r"^evidence: \d+ event\(s\), 0 not yet in a checkpoint$", status.stdout, re.MULTILINE)


def test_a_demo_of_a_day_years_ago_signs_with_a_certificate_valid_now(tmp_path: Path) -> None:
    result = dunbot(tmp_path, "demo", "--dir", "demo", "--as-of", "2023-06-14")
    assert result.returncode == 0, result.stderr
    letter = sorted((tmp_path / "demo" / "outbox" / "letters").glob("*.pdf"))[0]
    checked = dunbot(
        tmp_path / "demo", "notice", "verify", str(letter), "--trust", "signing/trial-signing.pem"
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr  # signed today, trusted today


def test_messages_naming_a_config_section_keep_it(workdir: Path) -> None:
    """Rich would read "[signing]" as markup and drop it: every message must show it as written."""
    config = workdir / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('pkcs12 = "signing/trial-signing.p12"', '# pkcs12 = "x.p12"'), encoding="utf-8"
    )
    assert dunbot(workdir, "import", "customers", "customers.csv").returncode == 0
    result = dunbot(workdir, "evidence", "export", "--customer", "C1", "--out", "c1.zip")
    assert result.returncode == 2
    assert "set [signing] pkcs12 (and password_env)" in result.stderr
