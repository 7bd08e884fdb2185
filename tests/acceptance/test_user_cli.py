"""`dunbot user add|list|disable` as an administrator types them, on a fresh SQLite folder."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "s3cret-horse-battery"


def dunbot(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    result = dunbot(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_add_list_disable(folder: Path) -> None:
    added = dunbot(
        folder,
        "user",
        "add",
        "li.na@xinghe.com.cn",
        "--role",
        "collector",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert "added li.na@xinghe.com.cn (collector)" in added.stdout
    assert PASSWORD not in added.stdout + added.stderr
    table = dunbot(folder, "user", "list")
    assert table.returncode == 0, table.stderr
    assert "li.na@xinghe.com.cn" in table.stdout and "collector" in table.stdout and "active" in table.stdout
    assert "$argon2" not in table.stdout
    disabled = dunbot(folder, "user", "disable", "li.na@xinghe.com.cn")
    assert disabled.returncode == 0, disabled.stderr
    listed = json.loads(dunbot(folder, "user", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [
        ("li.na@xinghe.com.cn", "collector", True)
    ]
    assert "password" not in json.dumps(listed)
    with sqlite3.connect(folder / "dunbot.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM web_user").fetchone()
        kinds = [k for (k,) in db.execute("SELECT kind FROM evidence_event ORDER BY seq")]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert kinds == ["user_added", "user_disabled"]


def test_clear_errors_never_a_traceback(folder: Path) -> None:
    unknown = dunbot(folder, "user", "add", "x", "--role", "boss", "--password-stdin", stdin=PASSWORD + "\n")
    assert unknown.returncode == 2
    assert "unknown role 'boss'" in unknown.stderr and "Traceback" not in unknown.stderr
    empty = dunbot(folder, "user", "add", "x", "--role", "legal", "--password-stdin", stdin="\n")
    assert empty.returncode == 1 and "the password is empty" in empty.stderr
    assert (
        dunbot(folder, "user", "add", "x", "--role", "legal", "--password-stdin", stdin="pw\n").returncode
        == 0
    )
    twice = dunbot(folder, "user", "add", "x", "--role", "admin", "--password-stdin", stdin="pw\n")
    assert twice.returncode == 1 and "a user named 'x' already exists" in twice.stderr
    ghost = dunbot(folder, "user", "disable", "ghost")
    assert ghost.returncode == 1 and "no user named 'ghost'" in ghost.stderr
    assert "Traceback" not in twice.stderr + ghost.stderr + empty.stderr


def test_password_from_the_prompt_with_confirmation(folder: Path) -> None:
    """On a terminal the password is asked twice and not echoed."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(folder)
        os.execve(
            sys.executable,
            [sys.executable, "-m", "bot", "user", "add", "boss", "--role", "manager"],
            {"PATH": "/usr/bin:/bin", "HOME": str(folder)},
        )
    transcript = b""

    def read_until(marker: bytes) -> None:
        nonlocal transcript
        while marker not in transcript:
            chunk = os.read(fd, 1024)
            assert chunk, transcript
            transcript += chunk

    read_until(b"Password: ")
    os.write(fd, PASSWORD.encode() + b"\n")
    read_until(b"Repeat for confirmation: ")
    os.write(fd, PASSWORD.encode() + b"\n")
    try:
        while chunk := os.read(fd, 1024):
            transcript += chunk
    except OSError:
        pass
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, transcript
    assert b"added boss (manager)" in transcript
    assert PASSWORD.encode() not in transcript
