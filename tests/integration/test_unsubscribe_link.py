"""The one-click unsubscribe link (RFC 8058) of a real e-mail, followed through a real HTTP server.

A cycle sends the e-mail through the aiosmtpd server with an https ``[web] public_url``; the link is
taken from the List-Unsubscribe header as it arrived and requested from the app served by uvicorn
(the public URL is the proxy in front of it). SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.config import (
    ComplianceSettings,
    EmailSettings,
    EvidenceSettings,
    Settings,
    SigningSettings,
    SmsSettings,
    WebSettings,
)
from bot.domain.ledger import Channel
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.verify import verify_log
from bot.outreach.cycle import run_cycle
from bot.outreach.planning import record_plan
from bot.outreach.unsubscribe import ONE_CLICK_ACTOR, unsubscribe_token
from bot.web.app import make_app
from bot.web.server import bind, serve
from tests.integration.test_outbox import AS_OF, NOON_SHANGHAI, RunningClock, _seed, _smtp_settings
from tests.integration.test_outgoing_identity import PUBLIC_URL, SECRET, SECRET_ENV, _raw_header

ONE_CLICK = b"List-Unsubscribe=One-Click"
# Twelve days on, invoice I-3 is 15 days late: its formal notice goes by e-mail (and letter).
LATER = AS_OF + timedelta(days=12)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Message  # looked up without regard to case


class Served:
    """The daemon's app on 127.0.0.1, from a background thread."""

    def __init__(self, engine: Engine, tmp_path: Path, secret: str | None) -> None:
        self.sock = bind("127.0.0.1:0")
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        app = make_app(
            engine,
            auth_token="t",
            public_url=None,
            artifacts=ArtifactStore(tmp_path / "artifacts"),
            clock=RunningClock(NOON_SHANGHAI + timedelta(hours=1)),
            unsubscribe_secret=secret,
        )
        self.thread = threading.Thread(
            target=self.loop.run_until_complete,
            args=(serve(app, self.base.removeprefix("http://"), self.stop, sock=self.sock),),
            daemon=True,
        )
        self.thread.start()

    def request(
        self, link: str, method: str, body: bytes | None = None, content_type: str | None = None
    ) -> Answer:
        """Request ``link`` (the public URL's path and query) as a mail provider or a browser would."""
        parts = urlsplit(link)
        request = urllib.request.Request(f"{self.base}{parts.path}?{parts.query}", data=body, method=method)
        if body is not None:
            request.add_header("Content-Type", content_type or "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Answer(int(response.status), response.read(), response.headers)
        except urllib.error.HTTPError as exc:
            answer = Answer(int(exc.code), exc.read(), exc.headers)
            exc.close()
            return answer

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def settings(tmp_path: Path, trial_certificate: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return Settings(
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        email=EmailSettings(transport="file", drop_dir="outbox/email", from_address="ar@xinghe.com.cn"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        web=WebSettings(public_url=PUBLIC_URL, session_secret_env=SECRET_ENV),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        compliance=ComplianceSettings(window="08:00-20:00"),
        base_dir=tmp_path,
    )


@pytest.fixture
def server(engine: Engine, tmp_path: Path) -> Iterator[Served]:
    served = Served(engine, tmp_path, SECRET)
    yield served
    served.close()


def _cycle(engine: Engine, settings: Settings, smtp_server: Any, as_of: date, start: datetime) -> None:
    quick, senders = _smtp_settings(settings, smtp_server)

    async def cycle() -> None:
        try:
            await run_cycle(engine, quick, as_of, clock=RunningClock(start), exclusive=True, senders=senders)  # type: ignore[arg-type]
        finally:
            await senders[Channel.EMAIL].aclose()  # type: ignore[attr-defined]

    asyncio.run(cycle())


@pytest.fixture
def link(engine: Engine, settings: Settings, smtp_server: Any) -> str:
    """The one-click link of the due statement e-mail the first cycle sent to customer C1."""
    _seed(engine)
    _cycle(engine, settings, smtp_server, AS_OF, NOON_SHANGHAI)
    (received,) = smtp_server.received
    assert _raw_header(received.raw, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    https = _raw_header(received.raw, "List-Unsubscribe").split(",")[0].strip().strip("<>")
    assert https.startswith(f"{PUBLIC_URL}/unsubscribe?")
    return https


def _opted_out(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(sa.text("SELECT opted_out FROM customer WHERE id = 'C1'")).scalar_one())


def _opt_out_events(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT body FROM evidence_event WHERE kind = 'opt_out' ORDER BY seq")
        ).scalars()
        return [json.loads(row) for row in rows]


def _message_id(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                sa.text("SELECT message_id FROM message WHERE channel = 'email' AND state = 'sent'")
            ).scalar_one()
        )


def _with_query(link: str, **changes: str) -> str:
    parts = urlsplit(link)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query.update(changes)
    return f"{parts.path}?{urlencode(query)}"


def test_posting_the_link_of_a_sent_email_opts_the_customer_out_of_email(
    engine: Engine, link: str, server: Served, tmp_path: Path
) -> None:
    answer = server.request(link, "POST", ONE_CLICK)
    assert answer.status == 200, answer
    assert "Unsubscribed" in answer.body.decode() and "已退订" in answer.body.decode()
    assert answer.headers["Cache-Control"] == "no-store"
    assert _opted_out(engine) == "email"
    (event,) = _opt_out_events(engine)
    assert event["actor"] == ONE_CLICK_ACTOR == "recipient (one-click unsubscribe)"
    assert event["customer"] == "C1"
    assert event["data"]["channel"] == "email"
    assert event["data"]["recipient"] == "ap@yuanhang.com.cn"
    assert _message_id(engine) in event["data"]["reason"]
    with engine.connect() as connection:
        assert verify_log(connection, ArtifactStore(tmp_path / "artifacts")).ok


def test_a_second_post_changes_nothing(engine: Engine, link: str, server: Served) -> None:
    assert server.request(link, "POST", ONE_CLICK).status == 200
    # A provider may send RFC 8058's preferred multipart/form-data; the same answer, nothing new.
    boundary = "dunbot-test-boundary"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        f"One-Click\r\n--{boundary}--\r\n"
    ).encode()
    again = server.request(link, "POST", multipart, f"multipart/form-data; boundary={boundary}")
    assert again.status == 200 and "Unsubscribed" in again.body.decode()
    assert _opted_out(engine) == "email"
    assert len(_opt_out_events(engine)) == 1


def test_a_multipart_post_opts_out_too(engine: Engine, link: str, server: Served) -> None:
    boundary = "----formdata-provider-0123"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        f"One-Click\r\n--{boundary}--\r\n"
    ).encode()
    answer = server.request(link, "POST", multipart, f"multipart/form-data; boundary={boundary}")
    assert answer.status == 200
    assert _opted_out(engine) == "email" and len(_opt_out_events(engine)) == 1


def test_a_get_shows_a_self_contained_form_and_changes_nothing(
    engine: Engine, link: str, server: Served
) -> None:
    page = server.request(link, "GET")
    assert page.status == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    text = page.body.decode()
    assert '<form method="post" action="?m=' in text
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in text
    assert "退订" in text and "Unsubscribe" in text
    # Nothing is loaded from anywhere and nothing runs: no script, no external URL.
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert server.request(link, "GET").status == 200  # a link scanner, then the person
    assert _opted_out(engine) == "" and _opt_out_events(engine) == []

    # The form's action is the link itself: submitting it is the one-click POST.
    action = text.split('action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert server.request(f"/unsubscribe{action}", "POST", ONE_CLICK).status == 200
    assert _opted_out(engine) == "email"
    after = server.request(link, "GET")
    assert after.status == 200 and "<form" not in after.body.decode()
    assert "You are unsubscribed" in after.body.decode()


def test_a_forged_or_missing_token_is_refused_and_changes_nothing(
    engine: Engine, link: str, server: Served
) -> None:
    token = parse_qs(urlsplit(link).query)["t"][0]
    forged = [
        _with_query(link, t=token[:-1] + ("A" if token[-1] != "A" else "B")),
        _with_query(link, t=unsubscribe_token("another secret", _message_id(engine))),
        _with_query(link, t="é"),
        _with_query(link, m="dunbot.2.20260610@xinghe.com.cn"),  # this token, another message
        f"{urlsplit(link).path}?m={parse_qs(urlsplit(link).query)['m'][0]}",
        "/unsubscribe",
    ]
    for forgery in forged:
        for method, body in (("POST", ONE_CLICK), ("GET", None)):
            answer = server.request(forgery, method, body)
            assert (answer.status, answer.body) == (403, b"forbidden"), (forgery, method)
    assert _opted_out(engine) == "" and _opt_out_events(engine) == []


def test_a_valid_token_for_an_unknown_message_is_404_and_a_bare_post_400(
    engine: Engine, link: str, server: Served
) -> None:
    unknown = "dunbot.999.20260610@xinghe.com.cn"
    signed = _with_query(link, m=unknown, t=unsubscribe_token(SECRET, f"<{unknown}>"))
    assert server.request(signed, "POST", ONE_CLICK).status == 404
    assert server.request(signed, "GET").status == 404
    assert server.request(link, "POST", b"").status == 400  # not RFC 8058's one-click form
    assert server.request(link, "PUT", ONE_CLICK).status == 405
    assert _opted_out(engine) == "" and _opt_out_events(engine) == []


def test_without_the_secret_the_endpoint_is_not_there(engine: Engine, link: str, tmp_path: Path) -> None:
    served = Served(engine, tmp_path, None)
    try:
        assert served.request(link, "POST", ONE_CLICK).status == 404
        assert served.request(link, "GET").status == 404
    finally:
        served.close()
    assert _opted_out(engine) == ""


def test_after_the_unsubscribe_the_outbox_cancels_a_planned_email(
    engine: Engine, link: str, server: Served, settings: Settings, smtp_server: Any
) -> None:
    later_noon = NOON_SHANGHAI + (LATER - AS_OF)
    record_plan(engine, settings, LATER, later_noon)
    with engine.connect() as connection:
        planned = connection.execute(
            sa.text("SELECT id FROM message WHERE channel = 'email' AND state = 'planned'")
        ).all()
    assert len(planned) == 1  # the formal notice, planned before the customer unsubscribed

    assert server.request(link, "POST", ONE_CLICK).status == 200
    _cycle(engine, settings, smtp_server, LATER, later_noon)
    with engine.connect() as connection:
        state, error = connection.execute(
            sa.text("SELECT state, last_error FROM message WHERE id = :id"), {"id": planned[0].id}
        ).one()
    assert state == "cancelled" and "opted out of email" in error
    assert len(smtp_server.received) == 1  # only the first e-mail, the one with the link
