"""Twilio status callbacks through a real HTTP server (uvicorn) into a real database."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session
from twilio.request_validator import RequestValidator

from bot.evidence.artifacts import ArtifactStore
from bot.evidence.verify import verify_log
from bot.store import tables
from bot.web.app import make_app
from bot.web.server import bind, serve

TOKEN = "test-auth-token-0123456789abcdef"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
SID = "SM" + "ab" * 16


class Running:
    """The app served on 127.0.0.1 from a background thread."""

    def __init__(self, engine: Engine, artifacts: ArtifactStore, public_url: str | None) -> None:
        self.sock = bind("127.0.0.1:0")
        self.port = self.sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.public_url = public_url
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        app = make_app(
            engine, auth_token=TOKEN, public_url=public_url, artifacts=artifacts, clock=lambda: NOW
        )
        self.thread = threading.Thread(
            target=self.loop.run_until_complete,
            args=(serve(app, f"127.0.0.1:{self.port}", self.stop, sock=self.sock),),
            daemon=True,
        )
        self.thread.start()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=10)
        self.loop.close()

    def post(self, form: dict[str, str], *, signature: str | None = "sign", query: str = "") -> int:
        url = f"{self.base}/twilio/status" + (f"?{query}" if query else "")
        signed_url = (self.public_url or f"{self.base}/twilio/status") + (f"?{query}" if query else "")
        body = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if signature == "sign":
            signature = RequestValidator(TOKEN).compute_signature(signed_url, form)
        if signature is not None:
            request.add_header("X-Twilio-Signature", signature)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return int(exc.code)


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def sent(engine: Engine) -> Engine:
    with Session(engine) as session:
        session.add(
            tables.Customer(id="C1", name="x", country="CN", timezone="Asia/Shanghai", language="zh-CN")
        )
        session.flush()
        session.add(
            tables.Invoice(
                number="I-1",
                customer_id="C1",
                currency="CNY",
                amount=Decimal("1000.00"),
                issue_date=date(2026, 10, 1),
                due_date=date(2026, 11, 1),
            )
        )
        session.flush()
        message = tables.Message(
            customer_id="C1",
            step="overdue_sms",
            channel="sms",
            business_date=date(2026, 11, 23),
            recipient="+8613800138000",
            state="sent",
            provider_id=SID,
            provider_status="queued",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(message)
        session.flush()
        session.add(tables.MessageInvoice(message_id=message.id, invoice_number="I-1"))  # type: ignore[arg-type]
        session.commit()
    return engine


@pytest.fixture
def server(sent: Engine, artifacts: ArtifactStore) -> Iterator[Running]:
    running = Running(sent, artifacts, public_url=None)
    yield running
    running.close()


def _state(engine: Engine) -> tuple[str, str]:
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT state, provider_status FROM message")).one()
    return row.state, row.provider_status


def _events(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        bodies = connection.execute(sa.text("SELECT body FROM evidence_event ORDER BY seq")).scalars()
        return [json.loads(b) for b in bodies]


def _form(status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": SID,
        "MessageStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": "+8613800138000",
        **extra,
    }


def test_a_delivery_report_moves_the_message_and_is_evidence(
    server: Running, sent: Engine, artifacts: ArtifactStore
) -> None:
    assert server.post(_form("sent")) == 204
    assert _state(sent) == ("sent", "sent")
    assert server.post(_form("delivered")) == 204
    assert _state(sent) == ("delivered", "delivered")
    events = _events(sent)
    assert [e["data"]["status"] for e in events] == ["sent", "delivered"]  # type: ignore[index]
    digest = events[-1]["data"]["callback_sha256"]  # type: ignore[index]
    assert b"MessageStatus=delivered" in artifacts.get(digest)  # type: ignore[arg-type]
    with sent.connect() as connection:
        assert verify_log(connection, artifacts).ok


def test_duplicates_and_late_statuses_change_nothing(server: Running, sent: Engine) -> None:
    assert server.post(_form("delivered")) == 204
    assert server.post(_form("delivered")) == 204  # Twilio retried
    assert server.post(_form("sent")) == 204  # arrived late, out of order
    assert _state(sent) == ("delivered", "delivered")
    assert len(_events(sent)) == 1


def test_undelivered_records_the_error(server: Running, sent: Engine) -> None:
    assert (
        server.post(_form("undelivered", ErrorCode="30003", ErrorMessage="Unreachable destination handset"))
        == 204
    )
    assert _state(sent) == ("undelivered", "undelivered")
    with sent.connect() as connection:
        assert "30003" in connection.execute(sa.text("SELECT last_error FROM message")).scalar_one()
    assert _events(sent)[0]["data"]["error_code"] == "30003"  # type: ignore[index]


@pytest.mark.parametrize("signature", [None, "not-a-signature", "wrong-token"])
def test_a_bad_signature_is_refused_and_changes_nothing(
    server: Running, sent: Engine, signature: str | None
) -> None:
    if signature == "wrong-token":
        signature = RequestValidator("another-token").compute_signature(
            f"{server.base}/twilio/status", _form("delivered")
        )
    assert server.post(_form("delivered"), signature=signature) == 403
    assert _state(sent) == ("sent", "queued") and _events(sent) == []


def test_a_signature_for_other_parameters_is_refused(server: Running, sent: Engine) -> None:
    forged = RequestValidator(TOKEN).compute_signature(f"{server.base}/twilio/status", _form("failed"))
    assert server.post(_form("delivered"), signature=forged) == 403
    assert _events(sent) == []


def test_an_unknown_sid_is_accepted_and_ignored(server: Running, sent: Engine) -> None:
    assert server.post({"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}) == 204
    assert _events(sent) == [] and _state(sent) == ("sent", "queued")


def test_behind_a_proxy_the_public_url_and_query_are_what_is_signed(
    sent: Engine, artifacts: ArtifactStore
) -> None:
    running = Running(sent, artifacts, public_url="https://dunbot.xinghe.com.cn/twilio/status")
    try:
        assert running.post(_form("delivered"), query="key=dunbot-1-20261123") == 204
    finally:
        running.close()
    assert _state(sent) == ("delivered", "delivered")


def test_a_delivered_report_resolves_an_unknown_message(server: Running, sent: Engine) -> None:
    with sent.begin() as connection:
        connection.execute(sa.text("UPDATE message SET state = 'unknown'"))
    assert server.post(_form("delivered")) == 204
    assert _state(sent) == ("delivered", "delivered")
    assert _events(sent)[0]["data"]["resolved_unknown"] is True  # type: ignore[index]


def test_healthz_and_unknown_paths(server: Running) -> None:
    with urllib.request.urlopen(f"{server.base}/healthz", timeout=10) as response:
        assert response.status == 200 and json.loads(response.read()) == {"status": "ok"}
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server.base}/nope", timeout=10)
    caught.value.close()
    assert caught.value.code == 404


@pytest.mark.parametrize(
    ("code", "blocked"), [("30003", False), ("30005", True), ("30006", True), ("30007", None)]
)
def test_a_carrier_error_about_the_number_asks_for_a_new_one(
    server: Running, sent: Engine, code: str, blocked: bool | None
) -> None:
    """30005 (no such handset) and 30006 (landline) block the number and raise a task to fix it;
    30003 (handset off or out of reach, usually temporary) raises the task but blocks nothing;
    30007 (carrier filtering) says nothing about the number: no task, nothing blocked."""
    assert server.post(_form("undelivered", ErrorCode=code, ErrorMessage="carrier said no")) == 204
    assert _state(sent) == ("undelivered", "undelivered")
    with sent.connect() as connection:
        rows = connection.execute(sa.text("SELECT channel, address FROM undeliverable_contact")).all()
        tasks = connection.execute(
            sa.text("SELECT assignee FROM task WHERE dedupe_key = 'contact:sms:+8613800138000'")
        ).all()
    assert [tuple(r) for r in rows] == ([("sms", "+8613800138000")] if blocked else [])
    assert len(tasks) == (0 if blocked is None else 1)
    kinds = [e["kind"] for e in _events(sent)]
    assert kinds.count("message_undeliverable") == (0 if blocked is None else 1)
