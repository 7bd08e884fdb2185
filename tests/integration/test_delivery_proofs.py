"""Delivery proofs in evidence packs (issue 19, deliverable 3), end to end: an e-mail through a real
SMTP server (aiosmtpd), an SMS whose Twilio status callback arrives, a letter posted with its
tracking number. Each proof is an artifact named by its event, carried by the pack with a file
extension, and listed beside its contact in the chronology."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.channels.file import FileSender
from bot.channels.letter import LetterQueueSender
from bot.channels.smtp import SmtpSender
from bot.domain.ledger import Channel
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.chronology import chronology_rows
from bot.evidence.pack_verify import verify_pack
from bot.outreach.cycle import run_cycle
from bot.outreach.tasks import finish_task, list_tasks
from bot.web.delivery_reports import record_callback
from tests.conftest import require_cjk_font, require_tool
from tests.integration.test_evidence_pack import AS_OF, NOON, _export, _seed, _settings
from tests.support.independent_verifier import verify
from tests.support.smtp_server import PASSWORD, USERNAME, SmtpServer

TRACKING = "RR123456789CN"


@pytest.fixture
def pack(engine: Engine, tmp_path: Path, trial_certificate: Any, smtp_server: SmtpServer) -> Path:
    require_cjk_font()
    settings = _settings(tmp_path, trial_certificate)
    _seed(engine)
    senders: dict[Channel, Any] = {
        Channel.EMAIL: SmtpSender(
            host=smtp_server.host,
            port=smtp_server.port,
            starttls=True,
            username=USERNAME,
            password=PASSWORD,
            from_address="ar@xinghe.com.cn",
            timeout=5.0,
            tls_context=smtp_server.client_context(),
        ),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
        Channel.LETTER: LetterQueueSender(settings.path("outbox/letters")),
    }

    async def cycle() -> None:
        try:
            await run_cycle(engine, settings, AS_OF, clock=lambda: NOON, exclusive=True, senders=senders)
        finally:
            await senders[Channel.EMAIL].aclose()

    asyncio.run(cycle())
    store = ArtifactStore(settings.path("artifacts"))
    with engine.connect() as connection:
        sms = connection.execute(
            sa.text("SELECT provider_id FROM message WHERE channel = 'sms' AND customer_id = 'C1'")
        ).scalar_one()
    callback = {"MessageSid": sms, "MessageStatus": "delivered", "AccountSid": "AC0"}
    assert record_callback(engine, callback, urlencode(callback).encode(), store, NOON) == "recorded"
    (letter,) = [t for t in list_tasks(engine) if t.kind == "letter" and t.customer == "C1"]
    finish_task(engine, letter.id, "posted", "user:mailroom", NOON, tracking=TRACKING, artifacts=store)
    _export(engine, settings, tmp_path / "c1.zip", customer="C1")
    return tmp_path / "c1.zip"


def _proofs(pack: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, bytes]]:
    with zipfile.ZipFile(pack) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    bodies = {e["seq"]: json.loads(files[e["file"]]) for e in manifest["events"]}
    return manifest, bodies, files


def test_each_contact_carries_its_delivery_proof(pack: Path) -> None:
    manifest, bodies, files = _proofs(pack)
    by_name = {name: a for a in manifest["artifacts"] for name in a["names"]}

    reply = by_name["smtp_reply.json"]
    assert reply["file"] == f"artifacts/{reply['sha256']}.json"
    said = json.loads(files[reply["file"]])
    assert said["code"] == 250 and re.fullmatch(r"2\.0\.0 OK queued as [0-9A-F]{4}", said["text"])
    (sent,) = [bodies[s] for s in reply["named_by"]]
    assert sent["kind"] == "message_sent" and sent["data"]["channel"] == "email"
    assert (
        sent["data"]["detail"]["reply"] == f"250 {said['text']}" and said["message_id"] == sent["data"]["key"]
    )

    callback = by_name["callback"]
    assert callback["file"].endswith(".txt") and b"MessageStatus=delivered" in files[callback["file"]]
    (delivered,) = [bodies[s] for s in callback["named_by"]]
    assert delivered["kind"] == "message_delivered" and delivered["data"]["status"] == "delivered"

    tracking = by_name["tracking"]
    record = json.loads(files[tracking["file"]])
    assert tracking["file"].endswith(".json") and record["tracking"] == TRACKING
    (done,) = [bodies[s] for s in tracking["named_by"]]
    assert done["kind"] == "task_done" and done["data"]["tracking"] == TRACKING
    assert record["recorded_by"] == "user:mailroom" and record["task"] == done["data"]["task"]

    assert verify_pack(pack).ok and verify(pack).ok
    readme = files["README.txt"].decode("utf-8")
    for artifact in (reply, callback, tracking):
        assert artifact["file"] in readme  # listed under "delivery proofs"


def test_the_chronology_lists_each_proof_beside_its_contact(pack: Path) -> None:
    manifest, bodies, files = _proofs(pack)
    by_name = {name: a for a in manifest["artifacts"] for name in a["names"]}
    located = {a["sha256"]: a["file"] for a in manifest["artifacts"]}
    rows = {row.seq: row for row in chronology_rows(list(bodies.values()), "zh-CN", located)}
    sent = {b["data"]["channel"]: seq for seq, b in bodies.items() if b["kind"] == "message_sent"}
    said = json.loads(files[by_name["smtp_reply.json"]["file"]])["text"]
    assert (
        f"邮件服务器答复“250 {said}”（{by_name['smtp_reply.json']['file']}）" in rows[sent["email"]].outcome
    )
    assert "送达回执：已送达（" in rows[sent["sms"]].outcome
    assert by_name["callback"]["file"] in rows[sent["sms"]].outcome
    assert f"挂号信单号 {TRACKING}（" in rows[sent["letter"]].outcome
    assert by_name["tracking"]["file"] in rows[sent["letter"]].outcome
    english = {row.seq: row for row in chronology_rows(list(bodies.values()), "en", located)}
    assert f'mail server replied "250 {said}"' in english[sent["email"]].outcome
    assert f"registered mail no. {TRACKING} (recorded" in english[sent["letter"]].outcome
    # ...and the signed PDF in the pack shows them
    pdftotext = require_tool("pdftotext")
    shown = subprocess.run(
        [pdftotext, "-", "-"], input=files["chronology.pdf"], capture_output=True, check=True
    ).stdout.decode("utf-8")
    compact = re.sub(r"\s+", "", shown)
    for needle in (
        "邮件服务器答复",
        f"250{said.replace(' ', '')}",
        f"挂号信单号{TRACKING}",
        "送达回执：已送达",
    ):
        assert needle in compact, needle
    for name in ("smtp_reply.json", "callback", "tracking"):
        assert by_name[name]["file"] in compact, name
