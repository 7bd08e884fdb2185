"""The company in each language from the command line (issue 16, deliverable 3).

`check-config` warns (and still passes) while English customers exist and ``[company.en]`` is
missing; with it, a cycle's English e-mail and signed letter show the English name, address and bank
account, and the Chinese customer's keep ``[company]``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from tests.conftest import require_cjk_font, require_tool

CUSTOMERS = """id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact
C1,上海恒通机电设备有限公司,91310000X,cooperative,CN,Asia/Shanghai,zh-CN,finance@hengtong.example.cn,+8613800138000,上海市浦东新区世纪大道1号,am@example.com,30,500000.00,manufacturing,50000000,0,false
C2,Bright Harbour Ltd,GB123,cooperative,GB,Europe/London,en,ap@brightharbour.example.com,+447911123456,"1 Dock Road, London",,45,,retail,,0,
"""
INVOICES = """number,customer_id,currency,amount,issue_date,due_date,contract_ref,status
INV-1,C1,CNY,100000.00,2026-04-01,2026-05-26,,open
INV-3,C2,GBP,2500.50,2026-04-01,2026-05-26,,open
"""
AS_OF = "2026-06-10"  # day 15 for both: the formal notice by e-mail and signed letter
ENGLISH_TABLE = """
[company.en]
name = "Example Trading"
legal_name = "Example Trading Co., Ltd."
address = "100 Century Avenue, Pudong New Area, Shanghai, China"
bank_account = "ICBC Shanghai Branch, A/C 1001 2345 6789 0000, SWIFT ICBKCNBJSHI"
"""


def dunbot(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("company-en")
    assert dunbot(folder, "init").returncode == 0
    config = folder / "dunbot.toml"
    text = config.read_text(encoding="utf-8").replace('window = "08:00-20:00"', 'window = "00:00-23:59"')
    config.write_text(text, encoding="utf-8")
    return folder


def _warning_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [
        line for line in result.stderr.splitlines() if line.startswith("warning:") and "[company.en]" in line
    ]


def test_check_config_warns_once_english_customers_exist_without_company_en(folder: Path) -> None:
    before = dunbot(folder, "check-config")
    assert before.returncode == 0 and _warning_lines(before) == []  # no customers yet: nothing to say
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    for entity in ("customers", "invoices"):
        assert dunbot(folder, "import", entity, f"{entity}.csv").returncode == 0
    warned = dunbot(folder, "check-config")
    assert warned.returncode == 0, warned.stderr  # a warning, not a problem
    assert "dunbot.toml: ok" in warned.stdout
    (line,) = _warning_lines(warned)
    assert line.startswith("warning: dunbot.toml:company: the database has 1 English customer(s)")
    assert "add [company.en] with name, legal_name, address and bank_account" in line
    as_json = dunbot(folder, "check-config", "--json")
    assert any("[company.en]" in warning for warning in json.loads(as_json.stdout)["warnings"])
    config = folder / "dunbot.toml"
    config.write_text(config.read_text(encoding="utf-8") + ENGLISH_TABLE, encoding="utf-8")
    settled = dunbot(folder, "check-config")
    assert settled.returncode == 0 and _warning_lines(settled) == []


def test_a_cycle_writes_each_customer_in_its_company_language(folder: Path) -> None:
    require_cjk_font()
    pdftotext = require_tool("pdftotext")
    assert "[company.en]" in (folder / "dunbot.toml").read_text(encoding="utf-8")  # set by the test above
    result = dunbot(folder, "cycle", "--as-of", AS_OF, "--json")
    assert result.returncode == 0, result.stderr
    emails = {}
    for path in (folder / "outbox" / "email").glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=default)
        emails[str(message["To"])] = message
    english = emails["ap@brightharbour.example.com"]
    (sender,) = english["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Example Trading", "ar@example.com")
    assert "ICBC Shanghai Branch" in english.get_body(("plain",)).get_content()
    # replies and the mailto unsubscribe go to the message's own tagged address (DESIGN §11)
    (reply_to,) = english["Reply-To"].addresses
    assert re.fullmatch(r"ar\+r\d+-[0-9a-f]{10}@example\.com", reply_to.addr_spec), reply_to.addr_spec
    assert f"<mailto:{reply_to.addr_spec}?subject=unsubscribe>" in str(english["List-Unsubscribe"])
    chinese = emails["finance@hengtong.example.cn"]
    assert chinese["From"].addresses[0].display_name == "示例贸易有限公司"
    letters = {}
    for path in (folder / "outbox" / "letters").glob("*.pdf"):
        text = subprocess.run([pdftotext, str(path), "-"], capture_output=True, text=True, check=True).stdout
        letters["en" if "Bright Harbour" in text else "zh"] = " ".join(text.split())
    assert "Example Trading Co., Ltd." in letters["en"]
    assert "100 Century Avenue" in letters["en"] and "ICBC Shanghai Branch" in letters["en"]
    # The signature panel names the certificate's subject as it is (the trial one is in Chinese);
    # nothing else in the English letter is.
    english_text = letters["en"].replace("Signer: 示例贸易有限公司 (TRIAL)", "")
    assert "示例贸易有限公司" not in english_text and "中国工商银行" not in english_text
    assert "示例贸易有限公司" in letters["zh"] and "Example Trading" not in letters["zh"]
