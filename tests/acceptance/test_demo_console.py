"""`make demo`, then the console as the demo's closing lines say: `export DUNBOT_SESSION_SECRET=...`
from the demo folder's file and `dunbot web`; each printed demo login logs in over real HTTP and lands
on its role's home."""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlencode

from bot.cli.demo_run import DEMO_SECRET_ENV, DEMO_SECRET_FILE, DEMO_USERS
from bot.web.console.cookies import LOGIN_COOKIE, SESSION_COOKIE

HOME = {"collector": "/worklist", "manager": "/worklist", "legal": "/worklist", "admin": "/users"}


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(
    port: int, method: str, path: str, *, cookie: str = "", body: bytes | None = None
) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        headers = {"Cookie": cookie} if cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in response.getheaders() if k.lower() != "set-cookie"}
        headers["set-cookie"] = "; ".join(response.headers.get_all("set-cookie") or [])
        return response.status, headers, text
    finally:
        connection.close()


def _cookie(headers: dict[str, str], name: str) -> str:
    found = re.search(rf"{name}=([^;]+)", headers.get("set-cookie", ""))
    assert found, headers
    return f"{name}={found.group(1)}"


def test_the_printed_demo_logins_open_the_console(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"}
    demo = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--dir", "demo", "--as-of", "2026-06-10"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    folder = tmp_path / "demo"
    assert f'export {DEMO_SECRET_ENV}="$(cat {DEMO_SECRET_FILE})"' in demo.stdout
    for name, role, password, _ in DEMO_USERS:  # every login is printed
        assert re.search(rf"^\s+{role}\s+{re.escape(name)}\s+{re.escape(password)}\s", demo.stdout, re.M)
    port = _free_port()
    config = folder / "dunbot.toml"
    config.write_text(
        re.sub(r'(?m)^listen = "[^"]*"', f'listen = "127.0.0.1:{port}"', config.read_text("utf-8")),
        encoding="utf-8",
    )
    secret = (folder / DEMO_SECRET_FILE).read_text(encoding="utf-8").strip()
    log = tmp_path / "web.log"
    log_file = log.open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "web"],
        cwd=folder,
        env={**env, DEMO_SECRET_ENV: secret},
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _request(port, "GET", "/healthz")[0] in (200, 503):
                    break
            except OSError:
                assert server.poll() is None, log.read_text("utf-8")
                assert time.monotonic() < deadline, "dunbot web did not start"
                time.sleep(0.2)
        for name, role, password, _ in DEMO_USERS:
            status, headers, form = _request(port, "GET", "/login")
            assert status == 200
            nonce = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert nonce
            body = urlencode({"username": name, "password": password, "csrf_token": nonce.group(1)})
            status, headers, _ = _request(
                port, "POST", "/login", cookie=_cookie(headers, LOGIN_COOKIE), body=body.encode()
            )
            assert (status, headers.get("location")) == (303, HOME[role]), (name, status)
            status, _, page = _request(port, "GET", HOME[role], cookie=_cookie(headers, SESSION_COOKIE))
            assert status == 200 and name in page, name
    finally:
        server.terminate()
        server.wait(timeout=10)
        log_file.close()
