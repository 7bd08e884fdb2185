"""`dunbot plan --json` with worker processes, as a user runs it: the same bytes on stdout (issue 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CUSTOMERS_HEADER = "id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact"
AS_OF = "2026-06-10"


def dunbot(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200"},
    )


def _ledger(folder: Path) -> None:
    tiers = ["cooperative", "cautious", "strategic", ""]
    customers = [CUSTOMERS_HEADER]
    invoices = ["number,customer_id,currency,amount,issue_date,due_date,contract_ref,status"]
    for c in range(12):
        customers.append(
            f"K{c:02d},客户{c},,{tiers[c % 4]},CN,Asia/Shanghai,zh-CN,ap{c}@example.cn,+8613800138{c:03d},"
            f"上海市{c}号,,30,,manufacturing,,0,{'true' if c == 5 else 'false'}"
        )
        for i in range(4):
            due = f"2026-{3 + (c + i) % 4:02d}-{10 + i:02d}"
            invoices.append(f"K{c:02d}-{i},K{c:02d},CNY,{1000 * (c + 1) + i}.50,2026-02-01,{due},,open")
    (folder / "customers.csv").write_text("\n".join(customers) + "\n", encoding="utf-8")
    (folder / "invoices.csv").write_text("\n".join(invoices) + "\n", encoding="utf-8")


def _set_planning(folder: Path, workers: int, slice_customers: int) -> None:
    config = folder / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    head, _, rest = text.partition("[planning]")
    rest = rest.split("\n[", 1)[1] if "\n[" in rest else ""
    config.write_text(
        f"{head}[planning]\nworkers = {workers}\nslice_customers = {slice_customers}\n\n[{rest}",
        encoding="utf-8",
    )


def test_workers_print_the_bytes_one_process_prints(tmp_path: Path) -> None:
    assert dunbot(tmp_path, "init").returncode == 0
    _ledger(tmp_path)
    for entity in ("customers", "invoices"):
        result = dunbot(tmp_path, "import", entity, f"{entity}.csv")
        assert result.returncode == 0, result.stderr

    _set_planning(tmp_path, workers=1, slice_customers=5000)
    alone = dunbot(tmp_path, "plan", "--as-of", AS_OF, "--json")
    _set_planning(tmp_path, workers=3, slice_customers=2)
    together = dunbot(tmp_path, "plan", "--as-of", AS_OF, "--json")

    assert alone.returncode == 0 and together.returncode == 0, together.stderr
    assert together.stdout == alone.stdout
    decisions = json.loads(together.stdout)
    assert len({d["customer"] for d in decisions}) >= 8
    assert {d["status"] for d in decisions} >= {"planned", "superseded"}
