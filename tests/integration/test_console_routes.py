"""Every route of the app needs a login except the machine endpoints and the login form: this walks
the app's own route table, so that a page added later cannot forget it. Over real HTTP (uvicorn)."""

from __future__ import annotations

import http.client
import re
from typing import Any

from starlette.routing import Mount, Route

from bot.web.console.settings import is_public

# What may answer without a session, and nothing else (DESIGN §10).
EXPECTED_PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/twilio/status",
    "/twilio/inbound",  # Twilio's signature is its check, not a session (DESIGN §11)
    "/unsubscribe",
    "/login",
    "/static",
}


def _request(port: int, method: str, path: str) -> tuple[int, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if method == "POST" else {}
        connection.request(method, path, body=b"" if method == "POST" else None, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def test_every_route_but_the_endpoints_redirects_to_login(console_server: Any) -> None:
    walked: list[tuple[str, str]] = []
    for route in console_server.app.routes:
        if isinstance(route, Mount):
            walked.append(("GET", route.path + "/console.css"))
            continue
        assert isinstance(route, Route), route
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            walked.append((method, path))
    public = {path for _, path in walked if is_public(path)}
    assert {p.removesuffix("/console.css") for p in public} == EXPECTED_PUBLIC
    assert len(walked) > len(public)  # the console's pages are in the table
    for method, path in walked:
        status, headers = _request(console_server.port, method, path)
        if is_public(path):
            assert status != 303 or headers.get("location") != "/login", (method, path)
        else:
            assert (status, headers.get("location")) == (303, "/login"), (method, path)
    # and a path nobody routed: no hint that it does not exist
    assert _request(console_server.port, "GET", "/no-such-page")[0] == 303


def test_cookies_are_secure_behind_https(tmp_path: Any, sqlite_url: str) -> None:
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade
    from tests.support.browser import ConsoleServer, start_clock

    engine = make_engine(sqlite_url)
    upgrade(engine)
    server = ConsoleServer(engine, tmp_path / "artifacts", start_clock(), secure=True)
    try:
        status, headers = _request(server.port, "GET", "/login")
    finally:
        server.close()
        engine.dispose()
    assert status == 200
    cookie = headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
