"""The web app as a whole, through a real HTTP server (uvicorn): routing errors, the body limit on
every route, the exact headers of plain answers, and HEAD changing nothing.

The endpoints' own behaviour is in test_twilio_callbacks.py, test_health_metrics.py and
test_unsubscribe_link.py; this file pins what the app shares between them, so that a new route (the
collector console) gets it too.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.evidence.artifacts import ArtifactStore
from bot.outreach.unsubscribe import unsubscribe_token
from bot.store import tables
from bot.web.app import make_app
from bot.web.limits import MAX_BODY
from bot.web.server import bind, serve

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
SECRET = "the link secret"
MESSAGE_KEY = "dunbot.1.20261123@xinghe.com.cn"
LINK = f"/unsubscribe?m={quote(MESSAGE_KEY, safe='')}&t={unsubscribe_token(SECRET, f'<{MESSAGE_KEY}>')}"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TOO_LARGE = b"x" * (MAX_BODY + 1)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class Served:
    """The app on 127.0.0.1, from a background thread, with one extra route as a new page would add."""

    def __init__(self, engine: Engine, tmp_path: Path) -> None:
        self.sock = bind("127.0.0.1:0")
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        app = make_app(
            engine,
            auth_token="t",
            public_url=None,
            artifacts=ArtifactStore(tmp_path / "artifacts"),
            clock=lambda: NOW,
            unsubscribe_secret=SECRET,
        )

        async def echo(request: Request) -> Response:
            return Response(str(len(await request.body())), media_type="text/plain")

        app.router.routes.append(Route("/echo", echo, methods=["POST"]))
        self.thread = threading.Thread(
            target=self.loop.run_until_complete,
            args=(serve(app, f"127.0.0.1:{self.port}", self.stop, sock=self.sock),),
            daemon=True,
        )
        self.thread.start()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        chunked: bool = False,
    ) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            if chunked:
                connection.putrequest(method, path)
                for name, value in (headers or {}).items():
                    connection.putheader(name, value)
                connection.putheader("Transfer-Encoding", "chunked")
                connection.endheaders()
                data = body or b""
                for start in range(0, len(data), 8192):
                    chunk = data[start : start + 8192]
                    connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                connection.send(b"0\r\n\r\n")
            else:
                connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """A customer with one sent SMS (for callbacks) and one sent e-mail (for the unsubscribe link)."""
    with Session(engine) as session:
        session.add(
            tables.Customer(id="C1", name="x", country="CN", timezone="Asia/Shanghai", language="zh-CN")
        )
        session.flush()
        for channel, provider_id, message_id in (
            ("sms", "SM" + "ab" * 16, None),
            ("email", None, f"<{MESSAGE_KEY}>"),
        ):
            session.add(
                tables.Message(
                    customer_id="C1",
                    step=f"overdue_{channel}",
                    channel=channel,
                    business_date=date(2026, 11, 23),
                    recipient="ap@yuanhang.com.cn",
                    state="sent",
                    provider_id=provider_id,
                    provider_status="queued" if provider_id else None,
                    message_id=message_id,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        session.commit()
    return engine


@pytest.fixture
def served(seeded: Engine, tmp_path: Path) -> Iterator[Served]:
    server = Served(seeded, tmp_path)
    yield server
    server.close()


def _unchanged(engine: Engine) -> bool:
    with engine.connect() as connection:
        events = connection.execute(sa.text("SELECT count(*) FROM evidence_event")).scalar_one()
        opted_out = connection.execute(sa.text("SELECT opted_out FROM customer")).scalar_one()
        states = set(connection.execute(sa.text("SELECT state FROM message")).scalars())
    return events == 0 and opted_out == "" and states == {"sent"}


@pytest.mark.parametrize(
    ("path", "method", "allowed"),
    [
        ("/healthz", "POST", "GET, HEAD"),
        ("/readyz", "PUT", "GET, HEAD"),
        ("/metrics", "DELETE", "GET, HEAD"),
        ("/twilio/status", "GET", "POST"),
        ("/unsubscribe", "PUT", "GET, HEAD, POST"),
        (LINK, "DELETE", "GET, HEAD, POST"),
    ],
)
def test_a_known_path_with_another_method_is_405(
    served: Served, seeded: Engine, path: str, method: str, allowed: str
) -> None:
    answer = served.request(method, path, b"List-Unsubscribe=One-Click", FORM)
    assert (answer.status, answer.body) == (405, b"method not allowed")
    assert answer.headers["content-type"] == "text/plain"
    # Starlette names the methods the path does answer (the hand-written dispatch did not).
    assert set(answer.headers["allow"].split(", ")) == set(allowed.split(", "))  # a set: any order
    assert _unchanged(seeded)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/", "GET"),
        ("/nope", "POST"),
        ("/healthz/", "GET"),  # no redirect to the path without the slash
        ("/twilio/status/", "POST"),
        ("/unsubscribe/", "GET"),
        ("/TWILIO/STATUS", "POST"),
    ],
)
def test_an_unknown_path_is_404_with_no_redirect(served: Served, path: str, method: str) -> None:
    answer = served.request(method, path, b"" if method == "POST" else None)
    assert (answer.status, answer.body, answer.headers["content-type"]) == (404, b"not found", "text/plain")


def test_the_body_limit_applies_to_every_route_that_reads_a_body(served: Served, seeded: Engine) -> None:
    for path in ("/twilio/status", LINK, "/echo"):
        answer = served.request("POST", path, TOO_LARGE, FORM)
        assert (answer.status, answer.body, answer.headers["content-type"]) == (
            413,
            b"too large",
            "text/plain",
        ), path
        chunked = served.request("POST", path, TOO_LARGE, FORM, chunked=True)
        assert (chunked.status, chunked.body) == (413, b"too large"), path
    assert served.request("POST", "/echo", b"x" * MAX_BODY).body == str(MAX_BODY).encode()
    # Exactly the limit is read, then refused for its signature, not for its size.
    assert served.request("POST", "/twilio/status", b"x" * MAX_BODY, FORM).status == 403
    assert _unchanged(seeded)


def test_the_limit_is_checked_where_the_body_is_read_not_before(served: Served) -> None:
    # A bad token is refused before the body is read; paths that read no body ignore it.
    assert served.request("POST", LINK.replace("&t=", "&t=x"), TOO_LARGE, FORM).body == b"forbidden"
    assert served.request("POST", "/nope", TOO_LARGE).status == 404
    assert served.request("POST", "/healthz", TOO_LARGE).status == 405
    assert served.request("GET", "/healthz", TOO_LARGE).status == 200


def test_plain_answers_keep_their_exact_headers(served: Served) -> None:
    refused = served.request("POST", "/twilio/status", b"MessageSid=x", {"X-Twilio-Signature": "bad"})
    assert (refused.status, refused.body) == (403, b"bad signature")
    assert refused.headers["content-type"] == "text/plain" and refused.headers["content-length"] == "13"
    health = served.request("GET", "/healthz")
    assert health.body == b'{"status": "ok"}' and health.headers["content-type"] == "application/json"
    assert served.request("GET", "/metrics").headers["content-type"] == (
        "text/plain; version=0.0.4; charset=utf-8"
    )


def test_head_answers_like_get_and_changes_nothing(served: Served, seeded: Engine) -> None:
    head = served.request("HEAD", "/healthz")
    assert (head.status, head.body, head.headers["content-type"]) == (200, b"", "application/json")
    page = served.request("HEAD", LINK)
    assert page.status == 200 and page.body == b"" and page.headers["cache-control"] == "no-store"
    assert served.request("HEAD", LINK.replace("&t=", "&t=x")).status == 403
    assert _unchanged(seeded)


def test_readyz_answers_json_with_its_reasons(served: Served) -> None:
    answer = served.request("GET", "/readyz")
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    assert json.loads(answer.body)["status"] == "ready"
