"""A reply to a real dunning e-mail, end to end as evidence (issue 20): the cycle sends the e-mail with
its tagged Reply-To, the customer answers that address (without In-Reply-To), the reply is matched by
the tag and acted on, and the customer's evidence pack carries the raw reply, its attachment and the
reply events, shown in the chronology; `dunbot log` lists them."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from datetime import timedelta
from decimal import Decimal
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.evidence.pack_verify import verify_pack
from bot.outreach.contact_log import contact_log
from bot.replies.handling import handle_pending
from bot.replies.model import Classification, ReplyKind
from tests.conftest import require_tool
from tests.integration.reply_world import Labels, arrive, email_bytes, events
from tests.integration.test_evidence_pack import NOON, _export, _read
from tests.integration.test_evidence_pack import world as world  # the fixture, shared

TEXT = "Paid today, remittance advice attached. We acknowledge the balance and apologise for the delay."
ADVICE = b"%PDF-1.4\n% ICBC remittance advice: CNY 20000.00 to Xinghe, ref I-15\n"


@pytest.fixture
def replied(world: tuple[Engine, Settings]) -> tuple[Engine, Settings, int]:
    engine, settings = world
    sent = [
        message_from_bytes(p.read_bytes(), policy=default)
        for p in settings.path("outbox/email").rglob("*.eml")
    ]
    (dunning,) = [m for m in sent if m["To"] == "ap@yuanhang.com.cn"]
    reply_to = str(dunning["Reply-To"])
    assert "+r" in reply_to  # the e-mail's own reply address
    raw = email_bytes(
        "AP@yuanhang.com.cn",
        TEXT,
        to=reply_to,
        subject=f"Re: {dunning['Subject']}",
        attachments=(("advice.pdf", "application/pdf", ADVICE),),
    )
    inbound = arrive(engine, settings, raw, at=NOON + timedelta(minutes=30))
    classification = Classification(ReplyKind.PAID, Decimal("0.95"), language="en", acknowledges_debt=True)
    summary = handle_pending(
        engine,
        settings,
        NOON + timedelta(hours=1),
        owner="worker-1",
        classifier=Labels({TEXT: classification}),
    )
    assert summary.handled == 1 and summary.kinds == {"paid": 1}
    return engine, settings, inbound


def test_the_pack_carries_the_raw_reply_its_attachment_and_the_reply_events(
    replied: tuple[Engine, Settings, int], tmp_path: Path
) -> None:
    """The reply was matched by its tag to the e-mail it answers; the pack verifies and holds the raw
    reply (.eml) and the remittance (.pdf) named by reply_received, and reply_acted."""
    engine, settings, inbound = replied
    (received,) = events(engine, "reply_received")
    assert received["data"]["inbound"] == inbound
    assert received["data"]["match"]["by"] == "tag" and received["data"]["acknowledges_debt"] is True
    raw_digest = received["data"]["raw_sha256"]
    (advice_digest,) = received["data"]["artifacts"].values()
    pack = tmp_path / "c1.zip"
    _export(engine, settings, pack, customer="C1")
    verification = verify_pack(pack)
    assert verification.ok, [f"{f.item}: {f.detail}" for f in verification.failures]
    manifest = json.loads(_read(pack, "manifest.json"))
    kinds = [e["kind"] for e in manifest["events"]]
    assert {"reply_received", "reply_acted", "pause", "task_created"} <= set(kinds)
    with zipfile.ZipFile(pack) as archive:
        names = set(archive.namelist())
        assert f"artifacts/{raw_digest}.eml" in names and f"artifacts/{advice_digest}.pdf" in names
        assert archive.read(f"artifacts/{advice_digest}.pdf") == ADVICE
        kept = message_from_bytes(archive.read(f"artifacts/{raw_digest}.eml"), policy=default)
    body = kept.get_body(("plain",))
    assert body is not None and body.get_content().strip() == TEXT  # the customer's own words
    listed = {a["sha256"]: a for a in manifest["artifacts"]}
    assert {raw_digest, advice_digest} <= set(listed)


def test_the_chronology_and_the_log_show_the_reply(
    replied: tuple[Engine, Settings, int], tmp_path: Path
) -> None:
    """The pack's chronology (zh-CN for this customer) names the reply and the acknowledgment of the
    debt; `dunbot log --customer C1` lists the reply and what was done."""
    pdftotext = require_tool("pdftotext")
    engine, settings, inbound = replied
    pack = tmp_path / "c1.zip"
    _export(engine, settings, pack, customer="C1")
    shown = subprocess.run(
        [pdftotext, "-layout", "-", "-"], input=_read(pack, "chronology.pdf"), capture_output=True, check=True
    ).stdout.decode()
    (received,) = events(engine, "reply_received")
    digest = received["data"]["raw_sha256"]
    (line,) = [line for line in shown.splitlines() if "收到客户回复" in line]  # its row names the raw e-mail
    assert digest[:32] in line and "称已付款" in line
    # The acknowledgment of the debt, in the summary cell: the cell wraps, and on the next line the
    # other columns' rest (the time, the hash's second half) comes before the cell's rest.
    at = shown.splitlines().index(line)
    rows = " ".join(shown.splitlines()[at : at + 4])
    assert re.search(r"客户承?[\s0-9a-f:]*认?[\s0-9a-f:]*债务", rows) and "客户" in rows, rows
    assert "处理客户回复" in shown and "按称已付款处理" in shown
    lines = [e.summary for e in contact_log(engine, customer="C1") if e.kind.startswith("reply_")]
    assert lines[0].startswith(
        f"reply {inbound}: email from ap@yuanhang.com.cn, paid (0.95), acknowledges the debt"
    )
    assert lines[1].startswith(f"reply {inbound}: ") and "a task to check the remittance" in lines[1]
