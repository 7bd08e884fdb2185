"""The evidence page's upload through the guard and the body limit, over real HTTP: the CSRF token is
read from a multipart body (before or after the file), a multipart POST without it is 403, an upload
past 50 MiB is 413 with a text naming the limit, and every other POST keeps the 64 KiB limit."""

from __future__ import annotations

import http.client
import secrets
import zipfile
from typing import Any

import pytest

from bot.access.sessions import start_session
from bot.access.users import add_user
from bot.web.console.cookies import SESSION_COOKIE, Signer
from bot.web.console.guard import multipart_fields
from bot.web.limits import MAX_BODY, MAX_UPLOAD, body_limit
from tests.support.browser import SECRET

PASSWORD = "s3cret-horse-battery"


def _multipart(parts: list[tuple[str, bytes, str | None]]) -> tuple[bytes, str]:
    """A multipart/form-data body of (name, value, filename or None) and its content type."""
    boundary = "----dunbot" + secrets.token_hex(8)
    body = bytearray()
    for name, value, filename in parts:
        body += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"Content-Disposition: {disposition}\r\n".encode()
        if filename:
            body += b"Content-Type: application/zip\r\n"
        body += b"\r\n" + value + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={boundary}"


def _session(server: Any, name: str, role: str) -> tuple[str, str]:
    """A logged-in user's cookie header and CSRF token."""
    now = server.clock()
    user = add_user(server.engine, name, role, PASSWORD, actor="user:ops", now=now, language="en")
    started = start_session(server.engine, user.id, now=now)
    return f"{SESSION_COOKIE}={Signer(SECRET, 'session').sign(started.token)}", started.csrf_token


def _post(server: Any, path: str, body: bytes, content_type: str, cookie: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type, "Cookie": cookie})
        response = connection.getresponse()
        return response.status, response.read()
    except (BrokenPipeError, ConnectionResetError):  # refused before the whole upload was sent
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_token_is_found_before_or_after_the_file_and_nowhere_else() -> None:
    for parts in (
        [("csrf_token", b"tok", None), ("pack", b"PK\x03\x04" + b"x" * 5000, "p.zip")],
        [("pack", b"PK\x03\x04" + b"x" * 5000, "p.zip"), ("csrf_token", b"tok", None)],
    ):
        body, content_type = _multipart(parts)
        assert multipart_fields(body, content_type, "csrf_token") == ["tok"]
    # a file that calls itself csrf_token is not the field
    body, content_type = _multipart([("csrf_token", b"tok", "csrf.txt")])
    assert multipart_fields(body, content_type, "csrf_token") == []
    body, content_type = _multipart([("csrf_token", b"a", None), ("csrf_token", b"b", None)])
    assert multipart_fields(body, content_type, "csrf_token") == ["a", "b"]
    assert multipart_fields(b"garbage", "multipart/form-data; boundary=zz", "csrf_token") == []
    assert multipart_fields(b"", "multipart/form-data", "csrf_token") == []


def test_only_the_upload_route_takes_more_than_64_kib() -> None:
    assert body_limit({"method": "POST", "path": "/evidence/verify"}) == MAX_UPLOAD == 50 * 1024 * 1024
    for method, path in (("POST", "/evidence/export"), ("GET", "/evidence/verify"), ("POST", "/login")):
        assert body_limit({"method": method, "path": path}) == MAX_BODY == 64 * 1024


@pytest.mark.parametrize("token_first", [True, False])
def test_a_multipart_post_needs_the_csrf_token(console_server: Any, token_first: bool) -> None:
    cookie, csrf = _session(console_server, "lawyer@xinghe.com.cn", "legal")
    pack = ("pack", b"not a zip at all", "pack.zip")
    for parts in ([pack], [pack, ("csrf_token", b"guessed", None)]):
        body, content_type = _multipart(parts)
        status, text = _post(console_server, "/evidence/verify", body, content_type, cookie)
        assert (status, text) == (403, b"forbidden: missing or invalid CSRF token")
    token = ("csrf_token", csrf.encode(), None)
    body, content_type = _multipart([token, pack] if token_first else [pack, token])
    status, page = _post(console_server, "/evidence/verify", body, content_type, cookie)
    assert status == 200  # the verifier ran, and said what it thinks of it
    assert b"not a readable evidence pack" in page and b"Failed" in page


def test_an_upload_past_the_limit_is_413_and_small_posts_keep_64_kib(console_server: Any) -> None:
    cookie, csrf = _session(console_server, "lawyer@xinghe.com.cn", "legal")
    big, content_type = _multipart(
        [("csrf_token", csrf.encode(), None), ("pack", b"x" * MAX_UPLOAD, "p.zip")]
    )
    status, text = _post(console_server, "/evidence/verify", big, content_type, cookie)
    assert status == 413
    assert text == b"too large: an upload here may be at most 50 MiB"
    # 100 KiB is nothing for the upload, too much for any other form
    small, content_type = _multipart([("csrf_token", csrf.encode(), None), ("pack", b"x" * 100_000, "p.zip")])
    assert _post(console_server, "/evidence/verify", small, content_type, cookie)[0] == 200
    assert _post(console_server, "/evidence/export", small, content_type, cookie) == (413, b"too large")


@pytest.mark.parametrize("role", ["collector", "manager", "admin"])
def test_only_legal_exports_or_verifies(console_server: Any, role: str) -> None:
    cookie, csrf = _session(console_server, f"{role}@xinghe.com.cn", role)
    body, content_type = _multipart([("csrf_token", csrf.encode(), None), ("pack", b"x", "p.zip")])
    assert _post(console_server, "/evidence/verify", body, content_type, cookie)[0] == 403
    form = f"csrf_token={csrf}&customer=C1".encode()
    assert (
        _post(console_server, "/evidence/export", form, "application/x-www-form-urlencoded", cookie)[0] == 403
    )


def test_a_pack_that_would_unpack_too_large_is_not_verified(console_server: Any, tmp_path: Any) -> None:
    from bot.web.console.evidence_page import MAX_UNPACKED

    # A zip whose member declares more than the limit (as a zip bomb's does; zipfile never inflates
    # past the declared size): the central directory's uncompressed size, patched.
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("events/1.json", bytes(4096))
    data = bytearray(bomb.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (MAX_UNPACKED + 1).to_bytes(4, "little")
    bomb.write_bytes(bytes(data))
    with zipfile.ZipFile(bomb) as archive:
        assert archive.infolist()[0].file_size == MAX_UNPACKED + 1
    assert bomb.stat().st_size < MAX_UPLOAD  # small enough to upload
    cookie, csrf = _session(console_server, "lawyer@xinghe.com.cn", "legal")
    body, content_type = _multipart(
        [("csrf_token", csrf.encode(), None), ("pack", bomb.read_bytes(), "bomb.zip")]
    )
    status, page = _post(console_server, "/evidence/verify", body, content_type, cookie)
    assert status == 400
    assert b"would unpack to more than 500 MiB" in page
