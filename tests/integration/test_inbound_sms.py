"""Inbound SMS: Twilio's messaging webhook, signed with real Twilio signatures, through a real HTTP
server (uvicorn) into real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from bot.config import Settings
from bot.config.sections import SmsSettings, WebSettings
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.canonical import canonical_bytes
from bot.store import tables
from bot.web.app import make_app
from bot.web.server import bind, serve
from bot.web.twilio import inbound_webhook_url

TOKEN = "test-auth-token-0123456789abcdef"
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
SID = "SM" + "cd" * 16
inbound_t = tables.InboundMessage.__table__  # type: ignore[attr-defined]


class Running:
    """The app served on 127.0.0.1 from a background thread."""

    def __init__(self, engine: Engine, artifacts: ArtifactStore, inbound_url: str | None = None) -> None:
        self.sock = bind("127.0.0.1:0")
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.inbound_url = inbound_url
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        app = make_app(
            engine,
            auth_token=TOKEN,
            public_url=None,
            artifacts=artifacts,
            clock=lambda: NOW,
            inbound_url=inbound_url,
        )
        self.thread = threading.Thread(
            target=self.loop.run_until_complete,
            args=(serve(app, self.base.removeprefix("http://"), self.stop, sock=self.sock),),
            daemon=True,
        )
        self.thread.start()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=10)
        self.loop.close()

    def post(self, form: dict[str, str], *, signature: str | None = "sign") -> tuple[int, bytes, str]:
        url = f"{self.base}/twilio/inbound"
        request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if signature == "sign":  # what Twilio computes: HMAC-SHA1 over the URL it called and the form
            signature = RequestValidator(TOKEN).compute_signature(self.inbound_url or url, form)
        if signature is not None:
            request.add_header("X-Twilio-Signature", signature)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status), response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            body = exc.read()
            exc.close()
            return int(exc.code), body, ""


def sms(body: str = "我们下周五付款", **extra: str) -> dict[str, str]:
    return {
        "MessageSid": SID,
        "SmsSid": SID,
        "AccountSid": "AC" + "00" * 16,
        "MessagingServiceSid": "",
        "From": "+8613800138000",
        "To": "+8613900139000",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
        **extra,
    }


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(inbound_t).order_by(inbound_t.c.id)))


def test_a_signed_sms_is_recorded_once_and_answered_with_empty_twiml(
    engine: Engine, artifacts: ArtifactStore
) -> None:
    """A correctly signed inbound SMS gets 200 and an empty TwiML <Response/> (no automatic answer);
    its row has channel "sms", source_key "sms:<MessageSid>", the sender in E.164 and state "received";
    the form is stored as canonical JSON; Twilio's retry of the same MessageSid adds nothing."""
    server = Running(engine, artifacts)
    try:
        form = sms()
        status, body, content_type = server.post(form)
        retried = server.post(form)
    finally:
        server.close()

    assert (status, body) == (200, b'<?xml version="1.0" encoding="UTF-8"?><Response/>')
    assert content_type.startswith("text/xml")
    assert retried[0] == 200
    [row] = rows(engine)
    assert (row.channel, row.source_key, row.sender, row.state) == (
        "sms",
        f"sms:{SID}",
        "+8613800138000",
        "received",
    )
    assert row.received_at == NOW
    stored = artifacts.get(row.raw_sha256)
    assert stored == canonical_bytes(form)
    assert json.loads(stored)["Body"] == "我们下周五付款"


def test_a_bad_or_missing_signature_is_refused_and_records_nothing(
    engine: Engine, artifacts: ArtifactStore
) -> None:
    """403 for a forged signature, for none, and for a real signature over other content (the body
    changed on the way); nothing is written."""
    server = Running(engine, artifacts)
    try:
        forged = server.post(sms(), signature="bm90IGEgc2lnbmF0dXJl")
        missing = server.post(sms(), signature=None)
        signed_other = RequestValidator(TOKEN).compute_signature(f"{server.base}/twilio/inbound", sms("STOP"))
        tampered = server.post(sms("我们已付款"), signature=signed_other)
    finally:
        server.close()

    assert [forged[0], missing[0], tampered[0]] == [403, 403, 403]
    assert rows(engine) == []
    assert not (artifacts.root).exists() or not any(artifacts.root.rglob("*"))


def test_behind_a_proxy_the_signature_covers_the_public_url(engine: Engine, artifacts: ArtifactStore) -> None:
    """With [web] public_url the webhook URL Twilio signs is public_url + /twilio/inbound: a signature
    over that URL is accepted, one over the URL uvicorn sees is not."""
    settings = Settings(web=WebSettings(public_url="https://dunbot.example.com/"))
    url = inbound_webhook_url(settings.web.public_url, settings.sms.status_callback_url)
    assert url == "https://dunbot.example.com/twilio/inbound"
    server = Running(engine, artifacts, inbound_url=url)
    try:
        local = RequestValidator(TOKEN).compute_signature(f"{server.base}/twilio/inbound", sms())
        refused = server.post(sms(), signature=local)
        accepted = server.post(sms())
    finally:
        server.close()
    assert (refused[0], accepted[0]) == (403, 200)
    assert len(rows(engine)) == 1


def test_the_webhook_url_follows_the_status_callback_url_without_a_public_url() -> None:
    """Without public_url the inbound URL sits beside [sms] status_callback_url (same host and prefix);
    without either it is the URL as requested (None)."""
    sms_settings = SmsSettings(status_callback_url="https://hooks.example.com/dunbot/twilio/status?x=1")
    assert inbound_webhook_url(None, sms_settings.status_callback_url) == (
        "https://hooks.example.com/dunbot/twilio/inbound"
    )
    assert inbound_webhook_url(None, None) is None


def test_a_number_that_is_not_international_is_kept_as_sent(engine: Engine, artifacts: ArtifactStore) -> None:
    """A short code or alphanumeric sender is recorded as sent (never dropped); each MessageSid is one row."""
    server = Running(engine, artifacts)
    try:
        assert server.post(sms(From="10690000"))[0] == 200
        assert server.post(sms(From="+1 (415) 555-0100", MessageSid="SM" + "ef" * 16))[0] == 200
    finally:
        server.close()
    assert [row.sender for row in rows(engine)] == ["10690000", "+14155550100"]
