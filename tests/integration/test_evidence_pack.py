"""Evidence packs end to end: a real cycle's events and artifacts, exported, verified offline, and
the tamper drills of issue 5 — each must fail verification naming what failed."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.channels.file import FileSender
from bot.channels.letter import LetterQueueSender
from bot.config import (
    ComplianceSettings,
    EmailSettings,
    EvidenceSettings,
    Settings,
    SigningSettings,
    SmsSettings,
)
from bot.domain.ledger import Channel
from bot.errors import EvidenceError, InputError
from bot.evidence.canonical import canonical_bytes, chain_hash
from bot.evidence.pack import export_pack
from bot.evidence.pack_verify import PackReport, verify_pack
from bot.evidence.service import verify_database
from bot.outreach.cycle import run_cycle
from bot.render.verification import load_trust_anchors
from bot.store import tables
from tests.conftest import bypass_triggers, require_cjk_font, require_tool

AS_OF = date(2026, 6, 10)  # a Wednesday, a working day in China
NOON = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)
OTHER = {  # the second customer: nothing of theirs may appear in C1's pack
    "name": "Bright Harbour Holdings Ltd",
    "email": "ap@brightharbour.example.com",
    "phone": "+447911123456",
    "address": "7 Dock Road, London E16 1AA",
}


def _settings(folder: Path, certificate: Any, **signing: Any) -> Settings:
    return Settings(
        email=EmailSettings(transport="file", drop_dir="outbox/email", from_address="ar@xinghe.com.cn"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        compliance=ComplianceSettings(window="00:00-23:59"),
        signing=SigningSettings(pkcs12=str(certificate.pkcs12), **signing),
        base_dir=folder,
    )


def _seed(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(
            tables.Customer(
                id="C1",
                name="杭州远航贸易有限公司",
                tier_override="cooperative",
                country="CN",
                timezone="Asia/Shanghai",
                language="zh-CN",
                email="ap@yuanhang.com.cn",
                phone="+8613800138000",
                address="杭州市西湖区文三路 1 号",
            )
        )
        session.add(
            tables.Customer(
                id="C2",
                tier_override="cautious",
                country="GB",
                timezone="Europe/London",
                language="en",
                **OTHER,
            )
        )
        session.flush()
        for number, customer, due in (
            ("I-15", "C1", AS_OF - timedelta(days=15)),  # formal notice: e-mail + letter, signed
            ("I-3", "C1", AS_OF - timedelta(days=3)),  # overdue SMS
            ("J-3", "C2", AS_OF - timedelta(days=3)),  # C2's formal notice: e-mail, SMS, letter
        ):
            session.add(
                tables.Invoice(
                    number=number,
                    customer_id=customer,
                    currency="CNY" if customer == "C1" else "GBP",
                    amount=Decimal("20000.00"),
                    issue_date=date(2026, 4, 1),
                    due_date=due,
                )
            )
        session.commit()


def _cycle(engine: Engine, settings: Settings, now: datetime = NOON) -> None:
    senders: dict[Channel, Any] = {
        Channel.EMAIL: FileSender(
            Channel.EMAIL, settings.path("outbox/email"), from_address="ar@xinghe.com.cn"
        ),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
        Channel.LETTER: LetterQueueSender(settings.path("outbox/letters")),
    }
    asyncio.run(run_cycle(engine, settings, AS_OF, clock=lambda: now, exclusive=True, senders=senders))


def _export(engine: Engine, settings: Settings, out: Path, **case: Any) -> Any:
    case.setdefault("customer", None)
    case.setdefault("invoice", None)
    return export_pack(engine, settings, out=out, actor="user:legal", now=NOON + timedelta(hours=2), **case)


@pytest.fixture
def world(engine: Engine, tmp_path: Path, trial_certificate: Any) -> tuple[Engine, Settings]:
    require_cjk_font()
    settings = _settings(tmp_path, trial_certificate)
    _seed(engine)
    _cycle(engine, settings)
    return engine, settings


def _failed(report: PackReport) -> list[str]:
    return [f"{item.item}: {item.detail}" for item in report.failures]


def _rewrite(pack: Path, out: Path, change: Any) -> Path:
    """A copy of ``pack`` with ``change(files)`` applied to its {name: bytes}."""
    with zipfile.ZipFile(pack) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    change(files)
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


# --- a pack that verifies -------------------------------------------------------------------------


def test_a_pack_verifies_offline_and_holds_the_case(world: tuple[Engine, Settings], tmp_path: Path) -> None:
    engine, settings = world
    report = _export(engine, settings, tmp_path / "c1.zip", customer="C1")
    verification = verify_pack(tmp_path / "c1.zip")
    assert verification.ok, _failed(verification)
    assert verification.events == report.events and verification.pdfs >= 2  # chronology + the notice
    with zipfile.ZipFile(tmp_path / "c1.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = set(archive.namelist())
    kinds = [e["kind"] for e in manifest["events"]]
    assert {"message_sent", "notice_rendered", "step_planned", "export"} <= set(kinds)
    assert kinds[-1] == "export" and manifest["events"][-1]["seq"] == report.export_seq
    assert {
        "manifest.json",
        "manifest.p7s",
        "README.txt",
        "chronology.pdf",
        "checkpoint/statement.txt",
    } <= names
    assert manifest["checkpoint"]["tree_size"] == report.checkpoint.tree_size >= report.export_seq
    sent = [e for e in manifest["events"] if e["kind"] == "message_sent"]
    assert {a["sha256"] for a in manifest["artifacts"]} >= {
        digest
        for e in sent
        for digest in json.loads(_read(tmp_path / "c1.zip", e["file"]))["data"]["artifacts"].values()
    }
    # The export is itself evidence: who exported what, and when.
    export = json.loads(_read(tmp_path / "c1.zip", manifest["events"][-1]["file"]))
    assert export["actor"] == "user:legal" and export["data"]["case"] == "customer C1"


def _read(pack: Path, name: str) -> bytes:
    with zipfile.ZipFile(pack) as archive:
        return archive.read(name)


def test_the_chronology_shows_every_contact(world: tuple[Engine, Settings], tmp_path: Path) -> None:
    pdftotext = require_tool("pdftotext")
    engine, settings = world
    _export(engine, settings, tmp_path / "c1.zip", customer="C1")
    manifest = json.loads(_read(tmp_path / "c1.zip", "manifest.json"))
    shown = subprocess.run(
        [pdftotext, "-layout", "-", "-"], input=_read(tmp_path / "c1.zip", "chronology.pdf"),
        capture_output=True, check=True,
    ).stdout.decode("utf-8")  # fmt: skip
    sent = [json.loads(_read(tmp_path / "c1.zip", e["file"])) for e in manifest["events"]]
    sent = [b for b in sent if b["kind"] == "message_sent"]
    assert sent and "ap@yuanhang.com.cn" in shown and "+8613800138000" in shown
    # C1 writes Chinese: the table speaks it, in words, with nothing cut (issue 16)
    for words in (
        "联络与事实时序表",
        "案件：客户 C1（杭州远航贸易有限公司）",
        "记录内容",
        "发出",
        "电子邮件",
        "正式催款函",
    ):
        assert words in shown, words
    assert "message_sent" not in shown and "formal_notice" not in shown and "=" not in shown
    assert "…" not in shown
    for body in sent:
        assert f"{body['seq']} " in shown and body["at"][:10] in shown
        digest = next(iter(body["data"]["artifacts"].values()))
        assert digest[:32] in shown and digest[32:] in shown  # the hash, on two lines


def test_the_signatures_check_by_hand_with_openssl(world: tuple[Engine, Settings], tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    engine, settings = world
    _export(engine, settings, tmp_path / "c1.zip", customer="C1")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(tmp_path / "c1.zip") as archive:
        archive.extractall(folder)
    for content, signature in (
        ("manifest.json", "manifest.p7s"),
        ("checkpoint/statement.txt", "checkpoint/signature.p7s"),
    ):
        result = subprocess.run(
            [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", signature, "-content", content,
             "-CAfile", "checkpoint/signer.pem", "-purpose", "any", "-out", "/dev/null"],
            cwd=folder, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0 and "Verification successful" in result.stderr, result.stderr
    manifest = json.loads((folder / "manifest.json").read_bytes())
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    assert "openssl cms -verify" in readme and "pdfsig" in readme and "sha256sum" in readme
    assert manifest["checkpoint"]["root_hash"] in readme  # the worked example ends at the root


def test_a_second_export_proves_the_log_only_grew(world: tuple[Engine, Settings], tmp_path: Path) -> None:
    engine, settings = world
    _export(engine, settings, tmp_path / "first.zip", customer="C1")
    _cycle(engine, settings, NOON + timedelta(days=1))  # more happens; nothing new is due the same day
    _export(engine, settings, tmp_path / "second.zip", customer="C1")
    second = verify_pack(tmp_path / "second.zip", prior=tmp_path / "first.zip")
    assert second.ok, _failed(second)
    assert any(i.item.startswith("consistency from checkpoint") and i.ok for i in second.items)
    assert any(i.item == "prior first.zip" and i.ok for i in second.items)


def test_an_invoice_pack_holds_only_that_invoice(world: tuple[Engine, Settings], tmp_path: Path) -> None:
    engine, settings = world
    _export(engine, settings, tmp_path / "i3.zip", invoice="I-3")
    assert verify_pack(tmp_path / "i3.zip").ok
    manifest = json.loads(_read(tmp_path / "i3.zip", "manifest.json"))
    for event in manifest["events"]:
        body = json.loads(_read(tmp_path / "i3.zip", event["file"]))
        assert body["customer"] == "C1" and "I-3" in body["invoices"]
    bodies = [json.loads(_read(tmp_path / "i3.zip", e["file"])) for e in manifest["events"]]
    # Events about I-15 alone (its formal notice, e-mail and letter) stay out; an event about both
    # (a step superseded for both at once) belongs to I-3's case too.
    assert not [b for b in bodies if b["invoices"] == ["I-15"]]
    assert {b["data"].get("step") for b in bodies if b["kind"] == "message_sent"} == {"overdue_sms"}


def test_another_customers_data_never_appears(world: tuple[Engine, Settings], tmp_path: Path) -> None:
    engine, settings = world
    _export(engine, settings, tmp_path / "c1.zip", customer="C1")
    pdftotext = require_tool("pdftotext")
    with zipfile.ZipFile(tmp_path / "c1.zip") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    # Text files as they are, PDFs as the text they show; binary signatures carry no personal data.
    texts = [data for name, data in files.items() if name.endswith((".json", ".txt", ".pem"))]
    texts += [
        data
        for name, data in files.items()
        if name.startswith("artifacts/") and not data.startswith(b"%PDF-")
    ]
    for data in files.values():
        if data.startswith(b"%PDF-"):
            result = subprocess.run([pdftotext, "-", "-"], input=data, capture_output=True, check=True)
            texts.append(result.stdout)
    assert len(texts) > 10
    for value in (*OTHER.values(), '"C2"', "J-3"):
        needle = value.encode("utf-8")
        assert not any(needle in text for text in texts), f"{value!r} of customer C2 is in C1's pack"
    assert any("杭州远航贸易有限公司".encode() in text for text in texts)  # the check can see names at all


def test_an_unknown_case_or_an_existing_file_is_refused(
    world: tuple[Engine, Settings], tmp_path: Path
) -> None:
    engine, settings = world
    with pytest.raises(InputError, match="no customer 'C9'"):
        _export(engine, settings, tmp_path / "x.zip", customer="C9")
    with pytest.raises(InputError, match="no invoice 'NOPE'"):
        _export(engine, settings, tmp_path / "x.zip", invoice="NOPE")
    (tmp_path / "taken.zip").write_bytes(b"keep me")
    with pytest.raises(InputError, match="never overwritten"):
        _export(engine, settings, tmp_path / "taken.zip", customer="C1")
    assert (tmp_path / "taken.zip").read_bytes() == b"keep me"


def test_a_dangling_symlink_is_refused_before_anything_is_recorded(
    world: tuple[Engine, Settings], tmp_path: Path
) -> None:
    """Issue 19, finding 8: exporting to a symbolic link that points nowhere ended in a
    FileExistsError traceback, after the export event and a checkpoint had been recorded."""
    engine, settings = world
    (tmp_path / "dangling.zip").symlink_to(tmp_path / "nowhere" / "x.zip")

    def counts() -> tuple[int, int]:
        with engine.connect() as connection:
            events = connection.execute(sa.text("SELECT count(*) FROM evidence_event")).scalar_one()
            checkpoints = connection.execute(sa.text("SELECT count(*) FROM checkpoint")).scalar_one()
        return events, checkpoints

    before = counts()
    with pytest.raises(InputError, match="already exists"):
        _export(engine, settings, tmp_path / "dangling.zip", customer="C1")
    assert counts() == before
    assert (tmp_path / "dangling.zip").is_symlink() and not (tmp_path / "nowhere").exists()


def test_with_a_tsa_the_checkpoint_is_timestamped(
    engine: Engine, tmp_path: Path, trial_certificate: Any, tsa_server: Any
) -> None:
    require_cjk_font()
    settings = _settings(tmp_path, trial_certificate, tsa_url=tsa_server.url)
    _seed(engine)
    _cycle(engine, settings)
    _export(engine, settings, tmp_path / "c1.zip", customer="C1")
    # Without a TSA anchor the token is whole and over the statement, but its time does not count.
    report = verify_pack(tmp_path / "c1.zip")
    assert report.ok, _failed(report)
    assert report.timestamp is not None and not report.timestamp.verified
    assert "no TSA anchor" in report.timestamp.why
    assert any(i.item == "checkpoint" and "timestamp UNVERIFIED" in i.detail for i in report.items)
    tsa_anchor = load_trust_anchors([tsa_server.write_certificate(tmp_path / "tsa-anchor.pem")])
    anchored = verify_pack(tmp_path / "c1.zip", tsa_trust=tsa_anchor)
    assert anchored.ok and anchored.timestamp is not None and anchored.timestamp.verified
    assert any(i.item == "checkpoint" and "(verified)" in i.detail for i in anchored.items)
    openssl = require_tool("openssl")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(tmp_path / "c1.zip") as archive:
        archive.extractall(folder)
    tsa = tsa_server.write_certificate(tmp_path / "tsa.pem")
    result = subprocess.run(
        [openssl, "ts", "-verify", "-data", "checkpoint/statement.txt", "-in", "checkpoint/timestamp.tst",
         "-token_in", "-CAfile", str(tsa)],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stdout + result.stderr


# --- tamper drills: in the database ----------------------------------------------------------------


def _problems(engine: Engine, settings: Settings) -> list[tuple[int | None, str]]:
    report = verify_database(engine, settings.path("artifacts"))
    return [(p.seq, p.item) for p in report.all_problems]


def _checkpoint_failures(problems: list[tuple[int | None, str]]) -> list[str]:
    return [item for seq, item in problems if item.startswith("checkpoint:")]


def test_a_flipped_byte_in_an_event_row_is_named(world: tuple[Engine, Settings], tmp_path: Path) -> None:
    engine, settings = world
    assert _problems(engine, settings) == []
    with engine.begin() as connection:
        bypass_triggers(connection)
        body = connection.execute(sa.text("SELECT body FROM evidence_event WHERE seq = 3")).scalar_one()
        changed = body.replace('"', "'", 1) if '"' in body else body + " "
        connection.execute(sa.text("UPDATE evidence_event SET body = :b WHERE seq = 3"), {"b": changed})
    problems = _problems(engine, settings)
    assert (3, "content_hash") in problems and _checkpoint_failures(problems)
    with pytest.raises(EvidenceError, match="altered"):
        _export(engine, settings, tmp_path / "after.zip", customer="C1")
    assert not (tmp_path / "after.zip").exists()


def test_a_wrong_stored_merkle_node_is_named_and_does_not_spoil_a_pack(
    world: tuple[Engine, Settings], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.evidence.log import EventKind, NewEvent, append_events

    engine, settings = world
    _export(engine, settings, tmp_path / "first.zip", customer="C1")  # a checkpoint of the small log
    with Session(engine) as session:  # the log grows past 256 events: nodes of height 6, 7 and 8
        noise = [
            NewEvent(kind=EventKind.TASK_CREATED, actor="test", data={"n": i}, customer="C2")
            for i in range(300)
        ]
        append_events(session, NOON, noise)
        session.commit()
    _export(engine, settings, tmp_path / "second.zip", customer="C1")
    with engine.begin() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM merkle_node")).scalar_one() >= 7
        connection.execute(
            sa.text("UPDATE merkle_node SET hash = :h WHERE height = 7 AND ordinal = 1"), {"h": "ab" * 32}
        )
    assert (None, "merkle_node:7/1") in _problems(engine, settings)
    _export(engine, settings, tmp_path / "third.zip", customer="C1")
    third = verify_pack(tmp_path / "third.zip", prior=tmp_path / "first.zip")
    assert third.ok, _failed(third)
    assert "computing the tree from every leaf" in caplog.text


def test_a_flipped_byte_in_an_artifact_file_is_named(world: tuple[Engine, Settings], tmp_path: Path) -> None:
    engine, settings = world
    with engine.connect() as connection:
        digest = connection.execute(sa.text("SELECT sha256 FROM notice LIMIT 1")).scalar_one()
    path = settings.path("artifacts") / digest[:2] / digest[2:4] / digest
    path.chmod(0o644)
    path.write_bytes(_flip(path.read_bytes(), 500))
    assert any(item == f"artifact:{digest}" for _, item in _problems(engine, settings))
    with pytest.raises(EvidenceError, match=digest):
        _export(engine, settings, tmp_path / "after.zip", customer="C1")


def test_a_deleted_event_is_named(world: tuple[Engine, Settings]) -> None:
    engine, settings = world
    with engine.begin() as connection:
        bypass_triggers(connection)
        connection.execute(sa.text("DELETE FROM evidence_event WHERE seq = 4"))
    problems = _problems(engine, settings)
    assert (5, "seq") in problems  # "event(s) 4 missing before event 5"
    assert _checkpoint_failures(problems)


def test_two_reordered_events_are_named(world: tuple[Engine, Settings]) -> None:
    engine, settings = world
    with engine.begin() as connection:
        bypass_triggers(connection)
        rows = connection.execute(
            sa.text("SELECT seq, body, content_hash, leaf_hash FROM evidence_event WHERE seq IN (5, 6)")
        ).all()
        first, second = sorted(rows)
        for target, source in ((first, second), (second, first)):
            connection.execute(
                sa.text(
                    "UPDATE evidence_event SET body = :b, content_hash = :c, leaf_hash = :l WHERE seq = :s"
                ),
                {"b": source.body, "c": source.content_hash, "l": source.leaf_hash, "s": target.seq},
            )
    problems = _problems(engine, settings)
    assert (5, "chain_hash") in problems and (5, "column:seq") in problems
    assert _checkpoint_failures(problems)


def test_a_rewritten_history_does_not_extend_an_older_checkpoint(
    world: tuple[Engine, Settings], tmp_path: Path
) -> None:
    """An attacker with the database (and the key) rewrites event 1 consistently — new hashes, a new
    chain — and deletes the checkpoints, the cycles and the witness folder too. The database alone
    cannot know; the checkpoint an earlier pack showed can. (With the witness in place the export is
    refused: tests/drills/test_insider_witness.py.)"""
    engine, settings = world
    _export(engine, settings, tmp_path / "genuine.zip", customer="C1")
    with engine.begin() as connection:
        bypass_triggers(connection)
        rows = connection.execute(sa.text("SELECT seq, body FROM evidence_event ORDER BY seq")).all()
        previous = bytes(32)
        for seq, body in rows:
            document = json.loads(body)
            if seq == 1:
                document["actor"] = "user:somebody-else"
            new_body = canonical_bytes(document)
            content = hashlib.sha256(new_body).digest()
            previous = chain_hash(previous, content)
            connection.execute(
                sa.text(
                    "UPDATE evidence_event SET body = :b, actor = :a, content_hash = :c, chain_hash = :h, "
                    "leaf_hash = :l WHERE seq = :s"
                ),
                {
                    "b": new_body.decode(),
                    "a": document["actor"],
                    "c": content.hex(),
                    "h": previous.hex(),
                    "l": hashlib.sha256(b"\x00" + new_body).hexdigest(),
                    "s": seq,
                },
            )
        stale = connection.execute(sa.text("SELECT id FROM checkpoint")).scalars().all()
    problems = _problems(engine, settings)
    assert [item for _, item in problems] == [f"checkpoint:{c}" for c in stale]  # only the checkpoints know
    with engine.begin() as connection:
        bypass_triggers(connection)
        connection.execute(sa.text("DELETE FROM checkpoint"))
        connection.execute(sa.text("DELETE FROM cycle_run"))
    shutil.rmtree(settings.witness_dir)
    assert _problems(engine, settings) == []  # a perfectly consistent forgery, on its own
    _export(engine, settings, tmp_path / "forged.zip", customer="C1")
    assert verify_pack(tmp_path / "forged.zip").ok
    against = verify_pack(tmp_path / "forged.zip", prior=tmp_path / "genuine.zip")
    assert not against.ok
    assert against.failures[0].item == "prior genuine.zip"
    assert "not one this log grew from" in against.failures[0].detail


def test_an_altered_checkpoint_row_is_named(world: tuple[Engine, Settings]) -> None:
    engine, settings = world
    with engine.begin() as connection:
        checkpoint = connection.execute(sa.text("SELECT id, statement FROM checkpoint LIMIT 1")).one()
        forged = checkpoint.statement.replace("tree_size: ", "tree_size: 1")
    change = sa.text("UPDATE checkpoint SET statement = :s WHERE id = :id")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(change, {"s": forged, "id": checkpoint.id})
    with engine.begin() as connection:
        bypass_triggers(connection)
        connection.execute(change, {"s": forged, "id": checkpoint.id})
    problems = _problems(engine, settings)
    assert (None, f"checkpoint:{checkpoint.id}") in problems


# --- tamper drills: in the pack --------------------------------------------------------------------


@pytest.fixture
def pack(world: tuple[Engine, Settings], tmp_path: Path) -> Path:
    engine, settings = world
    _export(engine, settings, tmp_path / "pack.zip", customer="C1")
    return tmp_path / "pack.zip"


def _first_failure(report: PackReport) -> str:
    assert not report.ok, "the tampered pack verified"
    return report.failures[0].item


def test_a_flipped_byte_in_the_manifest_is_named(pack: Path, tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["manifest.json"] = files["manifest.json"].replace(
            b'"exported_by": "user:legal"', b'"exported_by": "user:legam"'
        )

    report = verify_pack(_rewrite(pack, tmp_path / "t.zip", change))
    assert _first_failure(report) == "manifest.p7s"


def test_a_flipped_byte_in_a_proof_is_named(pack: Path, tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        manifest = json.loads(files["manifest.json"])
        proof = manifest["events"][0]["inclusion_proof"]
        proof[0] = ("0" if proof[0][0] != "0" else "1") + proof[0][1:]
        files["manifest.json"] = json.dumps(manifest).encode()

    report = verify_pack(_rewrite(pack, tmp_path / "t.zip", change))
    failed = {item.item: item.detail for item in report.failures}
    assert "manifest.p7s" in failed
    seq = json.loads(_read(pack, "manifest.json"))["events"][0]["seq"]
    assert "inclusion proof does not lead" in failed[f"event {seq}"]


def test_a_flipped_byte_in_an_event_file_is_named(pack: Path, tmp_path: Path) -> None:
    name = json.loads(_read(pack, "manifest.json"))["events"][2]["file"]

    def change(files: dict[str, bytes]) -> None:
        files[name] = _flip(files[name], 10)

    report = verify_pack(_rewrite(pack, tmp_path / "t.zip", change))
    failed = {item.item for item in report.failures}
    assert name in failed and any(f.startswith("event ") for f in failed)


def test_a_float_in_an_event_file_is_named_not_a_crash(pack: Path, tmp_path: Path) -> None:
    entry = json.loads(_read(pack, "manifest.json"))["events"][1]
    seq = entry["seq"]

    def change(files: dict[str, bytes]) -> None:
        files[entry["file"]] = files[entry["file"]].replace(
            f'"seq":{seq}'.encode(), f'"seq":{seq}.5'.encode()
        )

    report = verify_pack(_rewrite(pack, tmp_path / "t.zip", change))
    failed = {item.item: item.detail for item in report.failures}
    assert "has a fraction or an exponent" in failed[f"event {seq}"] and entry["file"] in failed


def test_a_flipped_byte_in_an_artifact_is_named(pack: Path, tmp_path: Path) -> None:
    entry = json.loads(_read(pack, "manifest.json"))["artifacts"][0]

    def change(files: dict[str, bytes]) -> None:
        files[entry["file"]] = _flip(files[entry["file"]], len(files[entry["file"]]) // 2)

    report = verify_pack(_rewrite(pack, tmp_path / "t.zip", change))
    failed = {item.item for item in report.failures}
    assert entry["file"] in failed and f"artifact {entry['sha256']}" in failed


def test_a_flipped_byte_in_the_checkpoint_signature_is_named(pack: Path, tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        signature = files["checkpoint/signature.p7s"]
        files["checkpoint/signature.p7s"] = _flip(signature, len(signature) - 20)  # inside the RSA signature

    report = verify_pack(_rewrite(pack, tmp_path / "t.zip", change))
    failed = {item.item: item.detail for item in report.failures}
    assert "checkpoint" in failed and "checkpoint/signature.p7s" in failed


def test_a_flipped_byte_in_a_pdf_in_the_pack_is_named(pack: Path, tmp_path: Path) -> None:
    manifest = json.loads(_read(pack, "manifest.json"))
    (notice,) = [a for a in manifest["artifacts"] if _read(pack, a["file"]).startswith(b"%PDF-")][:1]

    def change(files: dict[str, bytes]) -> None:
        pdf = files[notice["file"]]
        position = pdf.index(b"stream", pdf.index(b"/FontFile2")) + 80
        files[notice["file"]] = _flip(pdf, position)
        chronology = files["chronology.pdf"]
        files["chronology.pdf"] = _flip(chronology, chronology.index(b"stream", 200) + 40)

    report = verify_pack(_rewrite(pack, tmp_path / "t.zip", change))
    failed = {item.item: item.detail for item in report.failures}
    assert "changed after signing" in failed[f"signed PDF {notice['file']}"]
    assert "changed after signing" in failed["chronology.pdf"]


def test_a_deleted_or_added_file_in_the_pack_is_named(pack: Path, tmp_path: Path) -> None:
    name = json.loads(_read(pack, "manifest.json"))["events"][1]["file"]
    report = verify_pack(_rewrite(pack, tmp_path / "gone.zip", lambda files: files.pop(name)))
    assert {i.item for i in report.failures} >= {name, f"event {int(name[7:15])}"}
    report = verify_pack(
        _rewrite(pack, tmp_path / "extra.zip", lambda files: files.update({"notes.txt": b"x"}))
    )
    assert [i.item for i in report.failures] == ["notes.txt"]


def test_an_older_genuine_checkpoint_in_place_of_the_pack_s_is_named(
    world: tuple[Engine, Settings], pack: Path, tmp_path: Path
) -> None:
    """Swap in an earlier, genuinely signed checkpoint: the proofs no longer lead to its root."""
    engine, _ = world
    with engine.connect() as connection:
        older = connection.execute(
            sa.text("SELECT statement, signature FROM checkpoint ORDER BY tree_size LIMIT 1")
        ).one()

    def change(files: dict[str, bytes]) -> None:
        import base64

        files["checkpoint/statement.txt"] = older.statement.encode()
        files["checkpoint/signature.p7s"] = base64.b64decode(older.signature)

    report = verify_pack(_rewrite(pack, tmp_path / "t.zip", change))
    failed = {item.item for item in report.failures}
    assert {"checkpoint/statement.txt", "checkpoint"} <= failed


def test_a_file_that_is_not_a_pack(tmp_path: Path) -> None:
    (tmp_path / "x.zip").write_bytes(b"PK not really")
    assert _first_failure(verify_pack(tmp_path / "x.zip")) == "pack"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    (tmp_path / "y.zip").write_bytes(buffer.getvalue())
    assert _first_failure(verify_pack(tmp_path / "y.zip")) == "manifest"


def test_every_cycle_ends_with_a_checkpoint_when_the_log_grew(world: tuple[Engine, Settings]) -> None:
    engine, settings = world
    with engine.connect() as connection:
        first = connection.execute(sa.text("SELECT tree_size, reason FROM checkpoint")).all()
        events = connection.execute(sa.text("SELECT max(seq) FROM evidence_event")).scalar_one()
    assert [tuple(row) for row in first] == [(events, "cycle")]
    _cycle(engine, settings, NOON + timedelta(minutes=30))  # nothing new to record
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM checkpoint")).scalar_one() == 1


def test_the_daemon_s_hourly_job_signs_a_checkpoint_unless_a_cycle_runs(
    world: tuple[Engine, Settings],
) -> None:
    from bot.evidence.log import EventKind, NewEvent, append_events
    from bot.scheduler import checkpoint_tick

    engine, settings = world
    later = NOON + timedelta(hours=1)
    with Session(engine) as session:
        append_events(session, later, [NewEvent(kind=EventKind.ALERT, actor="test", data={"n": 1})])
        session.commit()

    async def ticks() -> tuple[Any, Any]:
        busy = asyncio.Lock()
        async with busy:
            skipped = await checkpoint_tick(engine, settings, lambda: later, busy)
        return skipped, await checkpoint_tick(engine, settings, lambda: later, busy)

    skipped, made = asyncio.run(ticks())
    assert skipped is None and made is not None and made.reason == "hourly"
    with engine.connect() as connection:
        size = connection.execute(sa.text("SELECT max(seq) FROM evidence_event")).scalar_one()
    assert made.tree_size == size
    assert verify_database(engine, settings.path("artifacts")).ok
