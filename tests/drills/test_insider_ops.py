"""Issue 19, finding 9, as an insider would use it: a name in the ledger carrying terminal escapes.

The CLI's consoles already show control characters written out (tests/unit/test_terminal_safety.py);
this drill is about the ledger itself. A customer file whose name holds `ESC [2J` (clear the screen),
an OSC 8 hyperlink and a bidi override is imported through `dunbot import`, as an operator would:
the ledger must hold the name without them — every later reader (a PDF notice, an e-mail, the
console, a CSV export, another program reading the database) gets clean text — while the evidence
keeps what was imported, so that what the source said can still be shown.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

CLEAR = "\x1b[2J"
LINK = "\x1b]8;;https://evil.example/pay\x1b\\点此付款\x1b]8;;\x1b\\"
RTL = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: the rest of the name reads backwards
NAME = f"杭州远航{CLEAR}贸易{LINK}有限公司{RTL}DCBA"
CLEAN = "杭州远航[2J贸易]8;;https://evil.example/pay\\点此付款]8;;\\有限公司DCBA"
HEADER = (
    "id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,"
    "payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact"
)


def dunbot(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "250"},
    )


def test_finding_9_an_imported_name_is_stored_without_its_escapes_and_kept_in_the_evidence(
    tmp_path: Path,
) -> None:
    assert dunbot(tmp_path, "init").returncode == 0
    customers = tmp_path / "customers.csv"
    customers.write_bytes(
        f'{HEADER}\nC1,"{NAME}",,cooperative,CN,,zh-CN,ap@yuanhang.example.cn,+8613800138000,'
        f'"杭州市\x07西湖区",,30,,,,0,false\n'.encode()
    )
    (tmp_path / "invoices.csv").write_text(
        "number,customer_id,currency,amount,issue_date,due_date,contract_ref,status\n"
        "INV-1,C1,CNY,100000.00,2026-04-01,2026-05-26,,open\n",
        encoding="utf-8",
    )
    imported = dunbot(tmp_path, "import", "customers", "customers.csv")
    assert imported.returncode == 0, imported.stderr.decode()
    assert dunbot(tmp_path, "import", "invoices", "invoices.csv").returncode == 0

    with sqlite3.connect(tmp_path / "dunbot.db") as db:
        name, address = db.execute("SELECT name, address FROM customer WHERE id = 'C1'").fetchone()
        bodies = [
            json.loads(b) for (b,) in db.execute("SELECT body FROM evidence_event WHERE kind = 'import'")
        ]
    assert (name, address) == (CLEAN, "杭州市西湖区")
    warning = imported.stderr.decode()
    assert "2 value(s) held control characters" in warning
    assert "customers.csv:2: name" in warning and "customers.csv:2: address" in warning

    # The evidence keeps the cells as imported, and the hash of the file's own bytes.
    event = next(b["data"] for b in bodies if b["data"]["entity"] == "customers")
    assert event["sha256"] == hashlib.sha256(customers.read_bytes()).hexdigest()
    assert {(c["line"], c["column"]): c["value"] for c in event["as_imported"]} == {
        (2, "name"): NAME,
        (2, "address"): "杭州市\x07西湖区",
    }

    aging = dunbot(tmp_path, "report", "aging")
    assert aging.returncode == 0, aging.stderr.decode()
    assert CLEAN.encode() in aging.stdout  # the clean name, not one written out as \x1b...
    assert b"\x1b" not in aging.stdout and b"\\x1b" not in aging.stdout
    for args in (("log",), ("log", "--json")):
        shown = dunbot(tmp_path, *args)
        assert shown.returncode == 0, shown.stderr.decode()
        assert b"\x1b" not in shown.stdout + shown.stderr
