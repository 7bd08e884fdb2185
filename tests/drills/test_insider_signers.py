"""Drills of issue 19, findings 4-6: whom a signature and a timestamp are checked against.

* Finding 4: the database's checkpoints re-signed with a self-made certificate of the company's name
  must fail `evidence verify --db`, against the configured company certificate and against --trust.
* Finding 5: a pack forged end to end with such a certificate is not a plain `ok:` (it says that no
  anchor was checked, and fails with --trust); a pack whose files have different signers fails.
* Finding 6: a timestamp from a self-made "DigiCert" TSA, dated before the signer's certificate
  existed, is reported unverified, never as a verified time; a local TSA's token counts once its
  certificate is given as the TSA anchor.

Each drill drives the command line (`python -m bot`), as an outside expert would, on folders made
by `dunbot init`, `import` and `cycle`; the forger's tools are the ones an insider has: the
database, the cryptography library and, for finding 6, the company's own key.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import sqlite3
import zipfile
from base64 import b64encode
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from asn1crypto import keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.config import Settings, SigningSettings
from bot.evidence.anchors import certificate_name, company_anchor, named
from bot.evidence.checkpoint import create_checkpoint
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.evidence.service import verify_database
from bot.render.signing import NoticeSigner
from bot.render.verification import load_trust_anchors
from tests.acceptance.test_notice_cli import AS_OF, CUSTOMERS, INVOICES, dunbot
from tests.conftest import bypass_triggers, require_cjk_font
from tests.support.tsa_server import TsaServer

COMPANY_PEM = "signing/trial-signing.pem"  # the company's certificate in a folder `dunbot init` made


def _world(folder: Path, *, cycle: bool = True) -> Path:
    """A folder as an operator has it: init (with its TRIAL certificate), customers, invoices, a cycle."""
    require_cjk_font()
    folder.mkdir(parents=True, exist_ok=True)
    assert dunbot(folder, "init").returncode == 0
    config = folder / "dunbot.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('window = "08:00-20:00"', 'window = "00:00-23:59"'),
        encoding="utf-8",
    )
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    for entity in ("customers", "invoices"):
        assert dunbot(folder, "import", entity, f"{entity}.csv").returncode == 0
    if cycle:
        result = dunbot(folder, "cycle", "--as-of", AS_OF, "--json")
        assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The company's folder after a cycle: signed letters, checkpoints, all with its certificate."""
    return _world(tmp_path_factory.mktemp("company"))


@pytest.fixture
def copy(company: Path, tmp_path: Path) -> Path:
    """A copy of the company's folder for a drill to tamper with."""
    return Path(shutil.copytree(company, tmp_path / "copy"))


def _fingerprint(pem_path: Path) -> str:
    certificate = x509.load_pem_x509_certificate(pem_path.read_bytes())
    return certificate.fingerprint(hashes.SHA256()).hex()


def _same_name_certificate(like: Path, folder: Path, *, not_before: datetime | None = None) -> Path:
    """A self-made certificate with the subject of ``like`` (and its issuer name): the forger's.
    Returns the PKCS#12 (no password); its PEM lies beside it."""
    genuine = x509.load_pem_x509_certificate(like.read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(genuine.subject)
        .issuer_name(genuine.issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    p12 = folder / "forged.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(b"forged", key, certificate, None, serialization.NoEncryption())
    )
    (folder / "forged.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return p12


def _resign_checkpoints(folder: Path, p12: Path) -> int:
    """What an insider without the key does: re-sign every checkpoint row with their own certificate
    (dropping whatever append-only triggers guard the table first)."""
    signer = NoticeSigner.from_pkcs12(p12, None)
    try:
        with sqlite3.connect(folder / "dunbot.db") as connection:
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'checkpoint'"
            ).fetchall():
                connection.execute(f'DROP TRIGGER "{name}"')
            rows = connection.execute("SELECT id, statement FROM checkpoint").fetchall()
            for checkpoint_id, statement in rows:
                signature = b64encode(signer.sign_detached(statement.encode("utf-8"))).decode("ascii")
                connection.execute(
                    "UPDATE checkpoint SET signature = ?, certificate = ? WHERE id = ?",
                    (signature, signer.certificate_pem, checkpoint_id),
                )
        return len(rows)
    finally:
        signer.close()


# --- finding 4: checkpoints re-signed in the database ------------------------------------------------


def test_finding_4_checkpoints_resigned_with_a_same_name_certificate_fail_verify_db(
    copy: Path, tmp_path: Path
) -> None:
    forged = _same_name_certificate(copy / COMPANY_PEM, tmp_path / "forger")
    assert _resign_checkpoints(copy, forged) >= 1
    company_sha, forged_sha = _fingerprint(copy / COMPANY_PEM), _fingerprint(forged.with_suffix(".pem"))

    # Without --trust the configured company certificate is the anchor.
    result = dunbot(copy, "evidence", "verify", "--db")
    assert result.returncode == 1, result.stdout + result.stderr
    assert forged_sha in result.stderr and company_sha in result.stderr
    assert "does not chain" in result.stderr and "Traceback" not in result.stderr
    assert "renewed its certificate" in result.stderr  # the way out after a genuine renewal

    # With --trust the certificate given is the anchor: the same verdict, in JSON too.
    trusted = dunbot(copy, "evidence", "verify", "--db", "--trust", COMPANY_PEM, "--json")
    assert trusted.returncode == 1, trusted.stdout
    report = json.loads(trusted.stdout)
    assert report["ok"] is False and report["anchored"] is True
    assert report["anchor"]["source"] == "--trust"
    assert report["anchor"]["certificates"][0]["sha256"] == company_sha
    signer_problems = [p["message"] for p in report["problems"] if p["item"].startswith("checkpoint:")]
    assert signer_problems and all(forged_sha in m and company_sha in m for m in signer_problems)


def test_finding_4_on_sqlite_and_postgresql(
    engine: Engine, tmp_path: Path, trial_certificate: Any, notice_signer: NoticeSigner
) -> None:
    # The same drill below the command line, on both databases: the company's signed checkpoints,
    # re-signed in place by an insider with a self-made certificate of the company's name.
    start = datetime(2026, 6, 10, 1, 0, tzinfo=UTC)
    for minute in range(2):
        with Session(engine) as session:
            event = NewEvent(EventKind.PAYMENT, "import", {"reference": f"P-{minute}"}, customer="C1")
            append_events(session, start + timedelta(minutes=minute), [event])
            session.commit()
        create_checkpoint(engine, notice_signer, "上海星河精密机械有限公司", datetime.now(UTC), "cycle")
    settings = Settings(signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)), base_dir=tmp_path)
    anchor, why = company_anchor(settings)
    assert anchor is not None and why == ""
    assert verify_database(engine, None, trust=anchor).ok

    forged = NoticeSigner.from_pkcs12(
        _same_name_certificate(trial_certificate.certificate_pem, tmp_path), None
    )
    try:
        with engine.begin() as connection:
            bypass_triggers(connection)
            if connection.dialect.name == "sqlite":
                for name in connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'checkpoint'"
                ).scalars():
                    connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
            for checkpoint_id, statement in connection.exec_driver_sql(
                "SELECT id, statement FROM checkpoint"
            ):
                signature = b64encode(forged.sign_detached(statement.encode("utf-8"))).decode("ascii")
                connection.execute(
                    sa.text("UPDATE checkpoint SET signature = :s, certificate = :c WHERE id = :i"),
                    {"s": signature, "c": forged.certificate_pem, "i": checkpoint_id},
                )
        forged_pem = forged.certificate_pem
    finally:
        forged.close()
    for trust in (anchor, load_trust_anchors([trial_certificate.certificate_pem])):
        report = verify_database(engine, None, trust=trust)
        failures = [p.message for p in report.problems if p.item.startswith("checkpoint:")]
        assert not report.ok and len(failures) == 2, failures
        assert all(certificate_name(forged_pem) in m and named(anchor.certificates[0]) in m for m in failures)


def test_verify_db_names_its_anchor_and_says_when_it_has_none(copy: Path) -> None:
    company_sha = _fingerprint(copy / COMPANY_PEM)
    result = dunbot(copy, "evidence", "verify", "--db")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked against the anchor" in result.stdout and company_sha in result.stdout
    assert "configured company certificate" in result.stdout

    # No certificate configured any more: the signatures verify, but nothing says whose they are.
    config = copy / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("pkcs12 =")) + "\n",
        encoding="utf-8",
    )
    unanchored = dunbot(copy, "evidence", "verify", "--db", "--json")
    assert unanchored.returncode == 0, unanchored.stdout + unanchored.stderr
    report = json.loads(unanchored.stdout)
    assert report["anchored"] is False and report["anchor"] is None
    assert "NOT checked against an anchor" in report["signer_note"] and company_sha in report["signer_note"]
    people = dunbot(copy, "evidence", "verify", "--db")
    assert "warning" in people.stdout and "NOT checked against an anchor" in people.stdout


# --- finding 5: packs and their signers -------------------------------------------------------------


def test_finding_5_a_pack_forged_end_to_end_is_not_a_plain_ok(company: Path, tmp_path: Path) -> None:
    # The forger's own folder: `dunbot init` makes a self-signed certificate carrying the same
    # company name; everything in the pack it exports is signed with it, consistently.
    forger = _world(tmp_path / "forger", cycle=False)
    pack = tmp_path / "forged.zip"
    exported = dunbot(forger, "evidence", "export", "--customer", "C1", "--out", str(pack))
    assert exported.returncode == 0, exported.stderr
    forged_sha, company_sha = _fingerprint(forger / COMPANY_PEM), _fingerprint(company / COMPANY_PEM)
    assert forged_sha != company_sha

    plain = dunbot(company, "evidence", "verify", str(pack))
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "not checked against an anchor; pass --trust CERT to check it" in plain.stdout
    assert forged_sha in plain.stdout
    report = json.loads(dunbot(company, "evidence", "verify", str(pack), "--json").stdout)
    assert report["anchored"] is False and report["anchor"] is None
    assert set(report["signers"].values()) == {forged_sha}

    checked = dunbot(company, "evidence", "verify", str(pack), "--trust", COMPANY_PEM, "--json")
    assert checked.returncode == 1
    failed = json.loads(checked.stdout)
    assert failed["ok"] is False and failed["anchored"] is True
    assert any(forged_sha in i["detail"] and company_sha in i["detail"] for i in failed["items"])


def test_finding_5_a_pack_whose_pdfs_have_another_signer_than_its_manifest_fails(
    copy: Path, tmp_path: Path
) -> None:
    # The letters of the cycle were signed with the company's certificate; the pack's manifest and
    # checkpoint are signed with a same-name certificate the config was pointed at afterwards.
    forged = _same_name_certificate(copy / COMPANY_PEM, tmp_path / "forger")
    config = copy / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    assert 'pkcs12 = "signing/trial-signing.p12"' in text
    config.write_text(text.replace('pkcs12 = "signing/trial-signing.p12"', f'pkcs12 = "{forged}"'), "utf-8")
    pack = tmp_path / "mixed.zip"
    assert dunbot(copy, "evidence", "export", "--customer", "C1", "--out", str(pack)).returncode == 0
    forged_sha, company_sha = _fingerprint(forged.with_suffix(".pem")), _fingerprint(copy / COMPANY_PEM)

    result = dunbot(copy, "evidence", "verify", str(pack), "--json")
    assert result.returncode == 1, result.stdout
    report = json.loads(result.stdout)
    signers = [i for i in report["items"] if i["item"] == "signers"]
    assert len(signers) == 1 and signers[0]["ok"] is False
    detail = signers[0]["detail"]
    assert forged_sha in detail and company_sha in detail
    assert "manifest.p7s" in detail and ".pdf" in detail
    people = dunbot(copy, "evidence", "verify", str(pack))
    assert people.returncode == 1 and "FAILED" in people.stderr and "Traceback" not in people.stderr
    assert "renewed" in detail  # the way out for a company that did renew its certificate

    # Anchored, each file's signer is checked against the anchor: the company's certificate alone
    # does not cover the manifest signed by the other one ...
    alone = json.loads(dunbot(copy, "evidence", "verify", str(pack), "--trust", COMPANY_PEM, "--json").stdout)
    assert alone["ok"] is False
    # ... while both, as after a renewal (old letters, new manifest), make one record of two signers.
    both = json.loads(
        dunbot(
            copy,
            "evidence",
            "verify",
            str(pack),
            "--trust",
            COMPANY_PEM,
            "--trust",
            str(forged.with_suffix(".pem")),
            "--json",
        ).stdout
    )
    assert both["ok"] is True, both["first_failure"]
    (item,) = [i for i in both["items"] if i["item"] == "signers"]
    assert item["ok"] and "2 certificates" in item["detail"] and forged_sha in item["detail"]


def test_a_genuine_pack_names_its_one_signer_and_the_anchor(copy: Path, tmp_path: Path) -> None:
    pack = tmp_path / "c1.zip"
    assert dunbot(copy, "evidence", "export", "--customer", "C1", "--out", str(pack)).returncode == 0
    company_sha = _fingerprint(copy / COMPANY_PEM)
    report = json.loads(
        dunbot(copy, "evidence", "verify", str(pack), "--trust", COMPANY_PEM, "--json").stdout
    )
    assert report["ok"] is True and report["anchored"] is True
    assert report["anchor"]["certificates"][0]["sha256"] == company_sha
    assert set(report["signers"].values()) == {company_sha}
    assert any(name.endswith(".pdf") for name in report["signers"])
    assert any(name.startswith("checkpoints/") for name in report["signers"])
    people = dunbot(copy, "evidence", "verify", str(pack), "--trust", COMPANY_PEM)
    assert people.returncode == 0 and "checked against the anchor" in people.stdout


# --- finding 6: timestamps and their authority -----------------------------------------------------


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _fake_digicert(folder: Path) -> tuple[DummyTimeStamper, Path]:
    """A self-made "DigiCert" root and a TSA certificate it issued (valid since 2019): the stamper and
    the root's PEM."""
    start = datetime(2019, 1, 1, tzinfo=UTC)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = _name("DigiCert Assured ID Root CA", "DigiCert Inc")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=9000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(root_key, hashes.SHA256())
    )
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa = (
        x509.CertificateBuilder()
        .subject_name(_name("DigiCert Timestamp 2019", "DigiCert Inc"))
        .issuer_name(root_name)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=9000))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .sign(root_key, hashes.SHA256())
    )
    root_pem = folder / "digicert-root.pem"
    root_pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    tsa_certificate = asn1_x509.Certificate.load(tsa.public_bytes(serialization.Encoding.DER))
    stamper = DummyTimeStamper(
        tsa_cert=tsa_certificate,
        tsa_key=keys.PrivateKeyInfo.load(
            tsa_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        certs_to_embed=[
            tsa_certificate,
            asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER)),
        ],
        fixed_dt=datetime(2020, 3, 1, 9, 0, tzinfo=UTC),  # years before the company's certificate
    )
    return stamper, root_pem


def _with_token(pack: Path, out: Path, token: bytes, company_p12: Path) -> Path:
    """The pack with ``token`` as its checkpoint's timestamp, the manifest re-signed with the company's
    key: what an insider holding the key makes."""
    with zipfile.ZipFile(pack) as source:
        files = {name: source.read(name) for name in source.namelist()}
    manifest = json.loads(files["manifest.json"])
    name = "checkpoint/timestamp.tst"
    files[name] = token
    manifest["checkpoint"]["timestamp"] = name
    manifest["files"][name] = hashlib.sha256(token).hexdigest()
    # The insider brings SHA256SUMS (for `sha256sum -c`) in line with the manifest as well.
    listed = {n: d for n, d in manifest["files"].items() if n != "SHA256SUMS"}
    files["SHA256SUMS"] = "".join(f"{d}  {n}\n" for n, d in sorted(listed.items())).encode("utf-8")
    manifest["files"]["SHA256SUMS"] = hashlib.sha256(files["SHA256SUMS"]).hexdigest()
    files["manifest.json"] = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
    signer = NoticeSigner.from_pkcs12(company_p12, None)
    try:
        files["manifest.p7s"] = signer.sign_detached(files["manifest.json"])
    finally:
        signer.close()
    with zipfile.ZipFile(out, "w") as target:
        for member, data in files.items():
            target.writestr(member, data)
    return out


def test_finding_6_a_backdated_token_from_a_self_made_digicert_is_never_a_verified_time(
    copy: Path, tmp_path: Path, tsa_server: TsaServer
) -> None:
    pack = tmp_path / "c1.zip"
    assert dunbot(copy, "evidence", "export", "--customer", "C1", "--out", str(pack)).returncode == 0
    with zipfile.ZipFile(pack) as archive:
        statement = archive.read("checkpoint/statement.txt")
    stamper, digicert_root = _fake_digicert(tmp_path)
    token = asyncio.run(stamper.async_timestamp(hashlib.sha256(statement).digest(), "sha256")).dump()
    forged = _with_token(pack, tmp_path / "backdated.zip", token, copy / "signing" / "trial-signing.p12")
    other_ca = tsa_server.write_certificate(tmp_path / "other-tsa-ca.pem")

    for anchors in ((), ("--tsa-trust", str(other_ca)), ("--tsa-trust", str(digicert_root))):
        args = ("evidence", "verify", str(forged), "--trust", COMPANY_PEM, *anchors)
        people = dunbot(copy, *args)
        assert people.returncode == 0, people.stdout + people.stderr  # the signature still holds
        assert "timestamped 2020" not in people.stdout and "UNVERIFIED" in people.stdout
        stamp = json.loads(dunbot(copy, *args, "--json").stdout)["checkpoint"]["timestamp"]
        assert stamp["verified"] is False and stamp["time"].startswith("2020-03-01")
        assert "DigiCert Timestamp 2019" in stamp["authority"]
        if anchors and anchors[1] == str(other_ca):
            assert "does not chain to the TSA anchor" in stamp["why"]
        if anchors and anchors[1] == str(digicert_root):
            # It chains to the anchor given, and still does not count: it predates the signer.
            assert "does not chain" not in stamp["why"]
        assert "outside the signer's certificate validity" in stamp["why"]
        assert "dated before the statement" in stamp["why"]

    # The same token put in the database's newest checkpoint row: `verify --db` does not count it.
    with sqlite3.connect(copy / "dunbot.db") as connection:
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'checkpoint'"
        ).fetchall():
            connection.execute(f'DROP TRIGGER "{name}"')
        connection.execute(
            "UPDATE checkpoint SET timestamp = ? WHERE statement = ?",
            (b64encode(token).decode("ascii"), statement.decode("utf-8")),
        )
    args = ("evidence", "verify", "--db", "--tsa-trust", str(digicert_root))
    database = json.loads(dunbot(copy, *args, "--json").stdout)
    assert database["ok"] is True and database["timestamps"]["verified"] == 0
    assert database["timestamps"]["latest"]["verified"] is False
    people = dunbot(copy, *args)
    assert "timestamped 2020" not in people.stdout and "0 of 1 verified" in people.stdout


def test_finding_6_a_token_over_another_statement_fails_the_pack(copy: Path, tmp_path: Path) -> None:
    pack = tmp_path / "c1.zip"
    assert dunbot(copy, "evidence", "export", "--customer", "C1", "--out", str(pack)).returncode == 0
    stamper, _ = _fake_digicert(tmp_path)
    token = asyncio.run(
        stamper.async_timestamp(hashlib.sha256(b"another statement").digest(), "sha256")
    ).dump()
    forged = _with_token(pack, tmp_path / "elsewhere.zip", token, copy / "signing" / "trial-signing.p12")
    result = dunbot(copy, "evidence", "verify", str(forged), "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["first_failure"]["item"] == "checkpoint"


def _set_signing(config: Path, line: str) -> None:
    text = config.read_text(encoding="utf-8")
    header = re.search(r"^\[signing\][^\n]*\n", text, re.MULTILINE)
    assert header is not None
    config.write_text(text[: header.end()] + line + "\n" + text[header.end() :], encoding="utf-8")


def test_finding_6_a_local_tsa_token_counts_with_its_anchor(
    copy: Path, tmp_path: Path, tsa_server: TsaServer
) -> None:
    config = copy / "dunbot.toml"
    _set_signing(config, f'tsa_url = "{tsa_server.url}"')
    pack = tmp_path / "stamped.zip"
    exported = dunbot(copy, "evidence", "export", "--customer", "C1", "--out", str(pack))
    assert exported.returncode == 0, exported.stderr
    tsa_pem = tsa_server.write_certificate(copy / "tsa-ca.pem")

    unanchored = json.loads(dunbot(copy, "evidence", "verify", str(pack), "--json").stdout)
    assert unanchored["ok"] is True and unanchored["checkpoint"]["timestamp"]["verified"] is False
    assert "no TSA anchor" in unanchored["checkpoint"]["timestamp"]["why"]

    args = ("evidence", "verify", str(pack), "--trust", COMPANY_PEM, "--tsa-trust", str(tsa_pem))
    anchored = json.loads(dunbot(copy, *args, "--json").stdout)
    stamp = anchored["checkpoint"]["timestamp"]
    assert anchored["ok"] is True and stamp["verified"] is True and stamp["why"] is None
    assert "dunbot test timestamp authority" in stamp["authority"]
    people = dunbot(copy, *args)
    assert "(verified)" in people.stdout and "UNVERIFIED" not in people.stdout
    database = json.loads(
        dunbot(copy, "evidence", "verify", "--db", "--tsa-trust", str(tsa_pem), "--json").stdout
    )
    assert database["ok"] is True and database["timestamps"]["latest"]["verified"] is True

    # [signing] tsa_trust in the config is the default TSA anchor.
    _set_signing(config, 'tsa_trust = "tsa-ca.pem"')
    configured = json.loads(dunbot(copy, "evidence", "verify", str(pack), "--json").stdout)
    assert configured["checkpoint"]["timestamp"]["verified"] is True
    missing = dunbot(copy, "evidence", "verify", str(pack), "--tsa-trust", "nope.pem")
    assert missing.returncode == 1 and "--tsa-trust nope.pem" in missing.stderr
    assert "Traceback" not in missing.stderr
