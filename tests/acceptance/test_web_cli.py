"""`dunbot web` as an operator starts it: refused without the session secret, then serving the
console's login form and the probes on [web] listen until stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dunbot_web_needs_the_secret_then_serves_the_console(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"}
    run = [sys.executable, "-m", "bot"]
    assert (
        subprocess.run([*run, "init"], cwd=tmp_path, env=env, capture_output=True, timeout=120).returncode
        == 0
    )
    port = _free_port()
    config = tmp_path / "dunbot.toml"
    config.write_text(config.read_text().replace('listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{port}"'))
    refused = subprocess.run(
        [*run, "web"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 2
    assert "web.session_secret_env is not set" in refused.stderr and "Traceback" not in refused.stderr
    config.write_text(
        config.read_text().replace(
            '# session_secret_env = "DUNBOT_SESSION_SECRET"', 'session_secret_env = "DUNBOT_SESSION_SECRET"'
        )
    )
    served = subprocess.Popen(
        [*run, "web"],
        cwd=tmp_path,
        env={**env, "DUNBOT_SESSION_SECRET": "a long random test secret"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:
                    page = response.read().decode()
                    headers = response.headers
                break
            except OSError:
                assert served.poll() is None, served.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert 'name="username"' in page and 'name="password"' in page and 'name="csrf_token"' in page
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        os.kill(served.pid, signal.SIGTERM)
        _, stderr = served.communicate(timeout=30)
    assert served.returncode == 0, stderr
    assert f"the console is on http://127.0.0.1:{port}/login" in stderr
