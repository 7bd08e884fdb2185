"""The benches' generated data does not drift: each bench's ledger, at a small size, hashes to what
its own generator produced before the benches shared ``bench/ledgers.py`` (issue 17), so the figures
in bench/README.md stay comparable. A deliberate change of a bench's data changes its hash here."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import pytest

from bench import evidence_log, notices, plan, send, soak
from bench.ledgers import Ledger, LedgerSpec, customer_csv, generate, invoice_csv


def _digest(ledger: Ledger) -> str:
    rows = [[list(row) for row in part] for part in (ledger.customers, ledger.invoices, ledger.payments)]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


SPECS: dict[str, LedgerSpec] = {
    "plan": plan.ledger_spec(300, 10),
    "send email": send.ledger_spec(250, "email"),
    "send sms": send.ledger_spec(250, "sms"),
    "soak": soak.batch_spec(7, 50, 5, date(2026, 6, 10)),
    "notices zh-CN": notices.ledger_spec(300, "zh-CN"),
    "notices en": notices.ledger_spec(300, "en"),
    "evidence case": evidence_log.case_customer(),
    "evidence background": evidence_log.background_customers(20),
}
EXPECTED = {
    "evidence background": "20a6420281afb8b9893892d58a4c761c7af23f7b6274f6f9dccb430d58240061",
    "evidence case": "dd36b0db6368fe11a2cd450f17710d1ebc5776fd8c9d0a55f500a505b12214dd",
    "notices en": "49741e120da2b7c7af6f03cac110070f0924e8e7ad736e4b4cef54e1983c21d1",
    "notices zh-CN": "437819f082683c63a14eb7e2b119e8aed5bc98e861168b3a038782d5e10c0dcb",
    "plan": "958611412b840b5b8d4120571da188ba7d35a6804a5cc571c8a80c81e078038b",
    "send email": "97a92dabe39914f15582430f09eea0c4f38af1d64f8627a315581d28cd23a406",
    "send sms": "00f0e395ceb83988cb6f17f39e9274cf90dcf65a6c1659990010973b07da3aff",
    "soak": "bf14003119f2b6cdca84a500ab6a278f4acbfd14994a5d50c1514e0e6c343bc4",
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_bench_generates_the_ledger_it_always_had(name: str) -> None:
    assert _digest(generate(SPECS[name])) == EXPECTED[name]


def test_the_generator_is_deterministic_and_the_soak_csv_is_what_dunbot_import_reads() -> None:
    spec = soak.batch_spec(3, 2, 1, date(2026, 6, 10))
    assert _digest(generate(spec)) == _digest(generate(spec))
    ledger = generate(spec)
    assert customer_csv(ledger.customers).splitlines()[1:] == [
        "B003C0000,客户0030000贸易有限公司,,cautious,CN,Asia/Shanghai,zh-CN,ap0@b003.soak.example.cn,"
        "+8613030000000,上海市浦东新区世纪大道1号,,30,,,,0,false",
        "B003C0001,客户0030001贸易有限公司,,cautious,CN,Asia/Shanghai,zh-CN,ap1@b003.soak.example.cn,"
        "+8613030000001,上海市浦东新区世纪大道1号,,30,,,,0,false",
        "B003C0002,客户0030002贸易有限公司,,cooperative,CN,Asia/Shanghai,zh-CN,ap2@b003.soak.example.cn,"
        "+8613030000002,上海市浦东新区世纪大道1号,,30,,,,0,false",
    ]
    assert invoice_csv(ledger.invoices).splitlines()[1:] == [
        "B003I0000,B003C0000,CNY,1000.00,2026-05-18,2026-06-17,,open",
        "B003I0001,B003C0001,CNY,1001.00,2026-05-18,2026-06-17,,open",
        "B003I0002,B003C0002,CNY,1002.00,2026-04-26,2026-05-26,,open",
    ]
