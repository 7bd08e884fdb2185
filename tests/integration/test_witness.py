"""The witness folder and witness e-mail (DESIGN §6, "Against an insider"): write-once files that check
by hand with openssl, catching up after the folder was away, clashes refused, the checkpoint mailed
through the configured transport, and what `verify --db` says when the witness is missing."""

from __future__ import annotations

import email
import logging
import subprocess
from datetime import UTC, datetime, timedelta
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.config import EmailSettings, EvidenceSettings, Settings, SigningSettings
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.evidence.service import checkpoint_now, verify_database
from bot.evidence.witness import read_witness
from tests.conftest import require_tool
from tests.support.smtp_server import PASSWORD, USERNAME, SmtpServer

NOON = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)


def _settings(folder: Path, certificate: Any, **evidence: Any) -> Settings:
    return Settings(
        email=EmailSettings(transport="file", drop_dir="outbox/email", from_address="ar@xinghe.com.cn"),
        evidence=EvidenceSettings(**evidence),
        signing=SigningSettings(pkcs12=str(certificate.pkcs12)),
        base_dir=folder,
    )


def _grow(engine: Engine, settings: Settings, hour: int) -> Any:
    """Two events, then the hourly checkpoint over them."""
    at = NOON + timedelta(hours=hour)
    with Session(engine) as session:
        append_events(
            session, at, [NewEvent(kind=EventKind.ALERT, actor="test", data={"n": n}) for n in (1, 2)]
        )
        session.commit()
    return checkpoint_now(engine, settings, at, "hourly")


def test_each_checkpoint_is_written_once_read_only_and_checks_with_openssl(
    engine: Engine, tmp_path: Path, trial_certificate: Any
) -> None:
    openssl = require_tool("openssl")
    settings = _settings(tmp_path, trial_certificate)  # the default folder: witness/ beside the database
    first, second = _grow(engine, settings, 0), _grow(engine, settings, 1)
    folder = settings.witness_dir
    assert folder.is_dir()
    witnessed = read_witness(folder).checkpoints
    assert [(w.id, w.tree_size, w.root_hash) for w in witnessed] == [
        (c.id, c.tree_size, c.root_hash) for c in (first, second)
    ]
    for path in folder.glob("0000000*"):
        assert path.stat().st_mode & 0o777 == 0o444, path
    stem = folder / f"00000002-{second.tree_size}"
    assert stem.with_suffix(".statement.txt").read_bytes() == second.statement
    result = subprocess.run(
        [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", f"{stem}.p7s",
         "-content", f"{stem}.statement.txt", "-CAfile", f"{stem}.pem", "-purpose", "any", "-out", "/dev/null"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "Verification successful" in result.stderr, result.stderr
    assert "openssl cms -verify" in (folder / "README.txt").read_text(encoding="utf-8")
    report = verify_database(engine, None, witness=folder)
    assert report.ok, report.all_problems
    assert report.insider.witnessed == 2


def test_a_witness_folder_that_was_away_is_caught_up(
    engine: Engine, tmp_path: Path, trial_certificate: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, trial_certificate, witness_dir="mnt/witness")  # a mount, not there
    first = _grow(engine, settings, 0)
    assert first is not None  # the checkpoint is signed all the same
    assert "cannot use the witness folder" in caplog.text and not settings.witness_dir.exists()
    settings.witness_dir.mkdir(parents=True)  # the volume is back
    second = _grow(engine, settings, 1)
    assert [w.id for w in read_witness(settings.witness_dir).checkpoints] == [first.id, second.id]


def test_a_file_already_there_with_other_content_is_never_replaced(
    engine: Engine, tmp_path: Path, trial_certificate: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, trial_certificate)
    first = _grow(engine, settings, 0)
    stem = settings.witness_dir / f"00000001-{first.tree_size}"
    # Someone moved the statement away and put another signature in place: nothing is rewritten.
    stem.with_suffix(".statement.txt").unlink()
    signature = stem.with_suffix(".p7s")
    signature.chmod(0o644)
    signature.write_bytes(b"not the signature")
    with caplog.at_level(logging.ERROR):
        _grow(engine, settings, 1)
    assert signature.read_bytes() == b"not the signature"
    assert not stem.with_suffix(".statement.txt").exists()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("is already in the witness with other content" in r.getMessage() for r in errors)
    # the next checkpoint is published all the same
    assert [w.id for w in read_witness(settings.witness_dir).checkpoints] == [2]


def test_the_checkpoint_is_mailed_through_the_configured_smtp_server(
    engine: Engine,
    tmp_path: Path,
    trial_certificate: Any,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WITNESS_SMTP_PASSWORD", PASSWORD)
    settings = Settings(
        email=EmailSettings(
            transport="smtp",
            host=smtp_server.host,
            port=smtp_server.port,
            username=USERNAME,
            password_env="WITNESS_SMTP_PASSWORD",
            ca_file=str(smtp_server.cert_path),
            from_address="ar@xinghe.com.cn",
        ),
        evidence=EvidenceSettings(witness_email="witness@auditor.example"),
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        base_dir=tmp_path,
    )
    checkpoint = _grow(engine, settings, 0)
    (received,) = smtp_server.received
    assert received.recipients == ["witness@auditor.example"]
    message = received.parsed
    assert message["Message-ID"] == f"<dunbot-checkpoint-1-{checkpoint.tree_size}@xinghe.com.cn>"
    attachments = {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}
    stem = f"00000001-{checkpoint.tree_size}"
    assert attachments == {
        f"{stem}.pem": checkpoint.certificate_pem.encode(),
        f"{stem}.p7s": checkpoint.signature,
        f"{stem}.statement.txt": checkpoint.statement,
    }
    assert checkpoint.statement.decode() in message.get_body(("plain",)).get_content()
    _grow(engine, settings, 0)  # the log grew: the next checkpoint is mailed too
    assert len(smtp_server.received) == 2


def test_with_the_file_transport_the_checkpoint_is_dropped_as_an_eml(
    engine: Engine, tmp_path: Path, trial_certificate: Any
) -> None:
    settings = _settings(tmp_path, trial_certificate, witness_email="witness@auditor.example")
    checkpoint = _grow(engine, settings, 0)
    (dropped,) = settings.path("outbox/email").glob("*.eml")
    message = email.message_from_bytes(dropped.read_bytes(), policy=default)
    assert message["To"] == "witness@auditor.example"
    assert checkpoint.root_hash in message.get_body(("plain",)).get_content()


def test_a_missing_witness_is_named_unless_there_is_nothing_to_witness(
    engine: Engine, tmp_path: Path, trial_certificate: Any
) -> None:
    settings = _settings(tmp_path, trial_certificate)
    folder = settings.witness_dir
    empty = verify_database(engine, None, witness=folder)
    assert empty.ok and "no checkpoint yet" in empty.insider.witness_note
    _grow(engine, settings, 0)
    elsewhere = tmp_path / "elsewhere"
    report = verify_database(engine, None, witness=elsewhere)
    assert not report.ok
    (problem,) = report.all_problems
    assert problem.item == "witness" and str(elsewhere) in problem.message
    assert "does not exist" in problem.message and "[evidence] witness_dir" in problem.message
    elsewhere.mkdir()
    assert "holds no checkpoint" in verify_database(engine, None, witness=elsewhere).all_problems[0].message


def test_a_witnessed_checkpoint_unlike_the_database_s_is_checked_on_its_own(
    engine: Engine, tmp_path: Path, trial_certificate: Any
) -> None:
    settings = _settings(tmp_path, trial_certificate)
    first = _grow(engine, settings, 0)
    signature = settings.witness_dir / f"00000001-{first.tree_size}.p7s"
    signature.chmod(0o644)
    data = bytearray(signature.read_bytes())
    data[-40] ^= 0x01  # inside the signature value
    signature.write_bytes(bytes(data))
    report = verify_database(engine, None, witness=settings.witness_dir)
    (problem,) = report.all_problems
    assert problem.item == "witness:1" and str(signature.with_suffix("")) in problem.message
    assert "signature" in problem.message
