"""Signed notices from the command line: init's trial certificate, a cycle's PDFs, `dunbot notice verify`."""

from __future__ import annotations

import json
import subprocess
import sys
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
AS_OF = "2026-06-10"  # day 15 for both: the procedural ladder's formal notice (e-mail and letter)


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
def cycled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_cjk_font()
    folder = tmp_path_factory.mktemp("notices")
    init = dunbot(folder, "init")
    assert init.returncode == 0, init.stderr
    assert "TRIAL" in init.stdout and (folder / "signing" / "trial-signing.p12").exists()
    config = (folder / "dunbot.toml").read_text(encoding="utf-8")
    config = config.replace('window = "08:00-20:00"', 'window = "00:00-23:59"')
    (folder / "dunbot.toml").write_text(config, encoding="utf-8")
    check = dunbot(folder, "check-config")
    assert check.returncode == 0, check.stderr
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    for entity in ("customers", "invoices"):
        assert dunbot(folder, "import", entity, f"{entity}.csv").returncode == 0
    result = dunbot(folder, "cycle", "--as-of", AS_OF, "--json")
    assert result.returncode == 0, result.stderr
    return folder


def _letters(folder: Path) -> list[Path]:
    return sorted((folder / "outbox" / "letters").glob("*.pdf"))


def test_a_cycle_queues_signed_letters_in_both_languages(cycled: Path) -> None:
    letters = _letters(cycled)
    assert len(letters) == 2
    manifest = [
        json.loads(line) for line in (cycled / "outbox/letters/manifest.jsonl").read_text().splitlines()
    ]
    assert {m["customer"] for m in manifest} == {"C1", "C2"} and all(m["signed"] for m in manifest)


def test_notice_verify_accepts_a_signed_notice(cycled: Path) -> None:
    for letter in _letters(cycled):
        result = dunbot(cycled, "notice", "verify", str(letter))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "entire file" in result.stdout and "TRIAL" in result.stdout
        assert "Traceback" not in result.stderr
    trusted = dunbot(
        cycled, "notice", "verify", str(_letters(cycled)[0]), "--trust", "signing/trial-signing.pem", "--json"
    )
    assert trusted.returncode == 0, trusted.stderr
    report = json.loads(trusted.stdout)
    assert report["ok"] and report["trusted"] is True and report["covers_whole_file"] is True
    assert report["signing_time"] and report["signer"].endswith("(TRIAL)")


def test_notice_verify_rejects_a_tampered_file(cycled: Path, tmp_path: Path) -> None:
    pdf = bytearray(_letters(cycled)[0].read_bytes())
    position = pdf.index(b"stream", pdf.index(b"/FontFile2")) + 64
    pdf[position] ^= 0xFF
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(pdf))
    result = dunbot(cycled, "notice", "verify", str(tampered))
    assert result.returncode == 1
    assert "changed after signing" in result.stderr
    assert "[/]" not in result.stdout + result.stderr  # styled, not markup as text
    appended = tmp_path / "appended.pdf"
    appended.write_bytes(_letters(cycled)[0].read_bytes() + b"1 0 obj\n(x)\nendobj\n")
    result = dunbot(cycled, "notice", "verify", str(appended), "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["covers_whole_file"] is False


def test_notice_verify_on_a_file_that_is_not_a_pdf(cycled: Path) -> None:
    (cycled / "note.pdf").write_text("not a pdf", encoding="utf-8")
    result = dunbot(cycled, "notice", "verify", "note.pdf")
    assert result.returncode == 1 and "not a readable PDF" in result.stderr
    missing = dunbot(cycled, "notice", "verify", "nope.pdf")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_pdfsig_accepts_the_queued_letters(cycled: Path) -> None:
    tool = require_tool("pdfsig")
    for letter in _letters(cycled):
        text = subprocess.run([tool, str(letter)], capture_output=True, text=True, check=False).stdout
        assert "Signature Validation: Signature is Valid." in text, text
        assert "Total document signed" in text


def test_init_self_signed_never_replaces_a_configured_certificate(cycled: Path) -> None:
    result = dunbot(cycled, "init", "--self-signed")
    assert result.returncode == 2
    assert "signing.pkcs12 is already set" in result.stderr


def test_check_config_names_a_missing_certificate(tmp_path: Path) -> None:
    assert dunbot(tmp_path, "init").returncode == 0
    config = tmp_path / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace('pkcs12 = "signing/trial-signing.p12"', 'pkcs12 = "signing/missing.p12"')
    config.write_text(text, encoding="utf-8")
    result = dunbot(tmp_path, "check-config")
    assert result.returncode == 2
    assert "dunbot.toml:signing.pkcs12:" in result.stderr and "missing.p12 does not exist" in result.stderr
    config.write_text(text.replace('pkcs12 = "signing/missing.p12"', '# pkcs12 = "x.p12"'), encoding="utf-8")
    unset = dunbot(tmp_path, "check-config")
    assert unset.returncode == 2 and "dunbot init --self-signed" in unset.stderr
    fixed = dunbot(tmp_path, "init", "--self-signed")
    assert fixed.returncode == 0, fixed.stderr
    assert dunbot(tmp_path, "check-config").returncode == 0


def test_check_config_warns_of_a_certificate_about_to_expire_and_fails_an_expired_one(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.render.certificate import create_trial_certificate

    assert dunbot(tmp_path, "init").returncode == 0
    config = tmp_path / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    now = datetime.now(UTC)
    create_trial_certificate(tmp_path / "signing", "Xinghe", "CN", now, valid_days=10, stem="short")
    create_trial_certificate(
        tmp_path / "signing", "Xinghe", "CN", now - timedelta(days=40), valid_days=10, stem="old"
    )

    config.write_text(text.replace("signing/trial-signing.p12", "signing/short.p12"), encoding="utf-8")
    people = dunbot(tmp_path, "check-config")
    assert people.returncode == 0, people.stderr
    assert f"{config.name}: ok" in people.stdout
    assert (
        "warning: " in people.stderr
        and "dunbot.toml:signing.pkcs12: the signing certificate expires on" in people.stderr
    )
    machine = dunbot(tmp_path, "check-config", "--json")
    assert machine.returncode == 0, machine.stderr
    report = json.loads(machine.stdout)
    # The other warnings (issue 16) are the example's placeholder company data and the TRIAL certificate.
    expiry = [w for w in report["warnings"] if "the signing certificate expires on" in w]
    assert report["ok"] is True and len(expiry) == 1 and "in 9 day(s)" in expiry[0]

    config.write_text(text.replace("signing/trial-signing.p12", "signing/old.p12"), encoding="utf-8")
    expired = dunbot(tmp_path, "check-config")
    assert expired.returncode == 2
    assert "dunbot.toml:signing.pkcs12: the signing certificate is valid from" in expired.stderr
    assert "not now: renew it and point signing.pkcs12 at it" in expired.stderr


def _ca_issued_pkcs12(path: Path, organisation: str) -> None:
    """A company certificate issued by a (test) certification authority: not self-signed, not TRIAL."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key, key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Certification Authority")])
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, organisation),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(None, key, certificate, None, serialization.NoEncryption())
    )


def test_check_config_warns_of_placeholder_company_data_and_a_trial_certificate(tmp_path: Path) -> None:
    assert dunbot(tmp_path, "init").returncode == 0
    config = tmp_path / "dunbot.toml"

    people = dunbot(tmp_path, "check-config")
    assert people.returncode == 0, people.stderr  # warnings only: trying dunbot out stays possible
    for key in ("name", "legal_name", "address", "bank_account", "phone", "email"):
        assert f"warning: {config.name}:company.{key}: " in people.stderr, people.stderr
    assert "is the placeholder from config.example.toml" in people.stderr
    assert "'中国工商银行上海分行 1001 2345 6789 0000' is the placeholder" in people.stderr
    assert f"{config.name}:signing.pkcs12: " in people.stderr
    assert "is dunbot's self-signed TRIAL certificate, not for production" in people.stderr
    for unset in ("country", "timezone", "language", "contact_person"):  # settings, not placeholders
        assert f"company.{unset}:" not in people.stderr

    strict = dunbot(tmp_path, "check-config", "--strict")
    assert strict.returncode == 1
    assert ": ok" not in strict.stdout
    assert "7 warning(s) in" in strict.stderr and "--strict makes them fail" in strict.stderr
    assert "Traceback" not in strict.stderr
    machine = dunbot(tmp_path, "check-config", "--strict", "--json")
    assert machine.returncode == 1
    report = json.loads(machine.stdout)
    assert report["ok"] is False and len(report["warnings"]) == 7
    assert sum("TRIAL" in w for w in report["warnings"]) == 1
    lenient = json.loads(dunbot(tmp_path, "check-config", "--json").stdout)
    assert lenient["ok"] is True and lenient["warnings"] == report["warnings"]

    # The company's own data and a certificate a CA issued: nothing to warn about, --strict passes.
    _ca_issued_pkcs12(tmp_path / "company.p12", "Xinghe Precision Machinery Co., Ltd.")
    text = config.read_text(encoding="utf-8")
    for placeholder, real in (
        ('name = "示例贸易有限公司"', 'name = "星河精密"'),
        ('legal_name = "示例贸易有限公司"', 'legal_name = "上海星河精密机械有限公司"'),
        ('address = "上海市浦东新区世纪大道100号"', 'address = "上海市浦东新区张江路 88 号"'),
        ('phone = "+86 21 5555 0100"', 'phone = "+86 21 5080 1234"'),
        ('email = "ar@example.com"', 'email = "ar@xinghe.example"'),
        ("中国工商银行上海分行 1001 2345 6789 0000", "工商银行张江支行 1001 2345 6789 0123"),
        ("signing/trial-signing.p12", "company.p12"),
    ):
        assert placeholder in text, placeholder
        text = text.replace(placeholder, real, 1)
    config.write_text(text, encoding="utf-8")
    clean = dunbot(tmp_path, "check-config", "--strict", "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["warnings"] == []


def test_evidence_export_and_verify_from_the_command_line(cycled: Path, tmp_path: Path) -> None:
    pack = tmp_path / "c1.zip"
    exported = dunbot(cycled, "evidence", "export", "--customer", "C1", "--out", str(pack), "--json")
    assert exported.returncode == 0, exported.stderr
    summary = json.loads(exported.stdout)
    assert summary["case"] == "customer C1" and summary["events"] > 3 and summary["artifacts"] >= 2
    verified = dunbot(cycled, "evidence", "verify", str(pack))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "ok:" in verified.stdout and "Traceback" not in verified.stderr
    again = dunbot(cycled, "evidence", "export", "--customer", "C1", "--out", str(pack))
    assert again.returncode == 1 and "never overwritten" in again.stderr
    by_invoice = dunbot(
        cycled, "evidence", "export", "--invoice", "INV-3", "--out", str(tmp_path / "inv3.zip")
    )
    assert by_invoice.returncode == 0, by_invoice.stderr
    later = dunbot(cycled, "evidence", "verify", str(tmp_path / "inv3.zip"), "--prior", str(pack), "--json")
    assert later.returncode == 0, later.stdout
    assert json.loads(later.stdout)["ok"] is True
    database = dunbot(cycled, "evidence", "verify", "--db", "--json")
    assert database.returncode == 0 and json.loads(database.stdout)["checkpoints_checked"] >= 3


def test_evidence_commands_refuse_what_makes_no_sense(cycled: Path, tmp_path: Path) -> None:
    both = dunbot(cycled, "evidence", "export", "--customer", "C1", "--invoice", "INV-1", "--out", "x.zip")
    assert both.returncode == 2 and "exactly one case" in both.stderr
    unknown = dunbot(cycled, "evidence", "export", "--customer", "NOPE", "--out", str(tmp_path / "n.zip"))
    assert unknown.returncode == 1 and "no customer 'NOPE'" in unknown.stderr
    neither = dunbot(cycled, "evidence", "verify")
    assert neither.returncode == 2 and "--db" in neither.stderr
    assert "Invalid value for pack" in neither.stderr  # the argument's name in the usage line
    missing = dunbot(cycled, "evidence", "verify", str(tmp_path / "nope.zip"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_evidence_verify_names_the_first_failure_of_a_tampered_pack(cycled: Path, tmp_path: Path) -> None:
    import zipfile

    pack = tmp_path / "c2.zip"
    assert dunbot(cycled, "evidence", "export", "--customer", "C2", "--out", str(pack)).returncode == 0
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(tampered, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name.startswith("events/") and name.endswith("1.json"):
                data = data.replace(b'"kind":"', b'"kind":"x', 1)
            target.writestr(name, data)
    result = dunbot(cycled, "evidence", "verify", str(tampered), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["first_failure"]["item"].startswith("events/")
    people = dunbot(cycled, "evidence", "verify", str(tampered))
    assert "FAILED first failure: events/" in people.stderr
