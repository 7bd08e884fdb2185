"""Shared fixtures: real SQLite and, where DUNBOT_TEST_POSTGRES_URL is set, real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.store.engine import make_engine, normalise_url
from bot.store.migrate import upgrade

POSTGRES_URL = os.environ.get("DUNBOT_TEST_POSTGRES_URL")
POSTGRES_REQUIRED = os.environ.get("DUNBOT_REQUIRE_POSTGRES") == "1"
NO_POSTGRES_REASON = (
    "PostgreSQL tests need DUNBOT_TEST_POSTGRES_URL "
    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); CI sets it"
)


def postgres_url_or_skip() -> str:
    """The PostgreSQL URL, or skip with a reason (a failure where CI requires PostgreSQL)."""
    if POSTGRES_URL:
        return normalise_url(POSTGRES_URL)
    if POSTGRES_REQUIRED:
        pytest.fail("DUNBOT_REQUIRE_POSTGRES=1 but DUNBOT_TEST_POSTGRES_URL is not set")
    pytest.skip(NO_POSTGRES_REASON)


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = postgres_url_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    """A SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path}/dunbot.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_schema_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database engine, on SQLite and on PostgreSQL."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def bypass_triggers(connection: sa.Connection) -> None:
    """Let a tamper test change evidence rows and checkpoints, as an attacker with database access could."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET session_replication_role = replica")
    else:
        for table in ("evidence_event", "checkpoint"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_update")
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_delete")


@pytest.fixture
def twilio_server() -> Iterator[object]:
    """A Twilio-compatible REST server on 127.0.0.1 (tests/support/twilio_server.py), stopped afterwards."""
    from tests.support.twilio_server import TwilioServer

    server = TwilioServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[object]:
    """An SMTP server on 127.0.0.1 requiring STARTTLS and AUTH (tests/support/smtp_server.py)."""
    from tests.support.smtp_server import SmtpServer

    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def trial_certificate(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A self-signed trial signing certificate (PKCS#12 without a password), made once per run."""
    from datetime import UTC, datetime

    from bot.render.certificate import create_trial_certificate

    folder = tmp_path_factory.mktemp("signing")
    return create_trial_certificate(folder, "上海星河精密机械有限公司", "CN", datetime.now(UTC))


@pytest.fixture(scope="session")
def notice_signer(trial_certificate: object) -> Iterator[object]:
    """A NoticeSigner on the trial certificate, shared by the tests that only need signatures."""
    from bot.render.signing import NoticeSigner

    signer = NoticeSigner.from_pkcs12(trial_certificate.pkcs12, None)  # type: ignore[attr-defined]
    try:
        yield signer
    finally:
        signer.close()


@pytest.fixture
def tsa_server() -> Iterator[object]:
    """An RFC 3161 timestamp authority on 127.0.0.1 (tests/support/tsa_server.py)."""
    from tests.support.tsa_server import TsaServer

    server = TsaServer().start()
    try:
        yield server
    finally:
        server.stop()


SYSTEM_TOOLS_REQUIRED = os.environ.get("DUNBOT_REQUIRE_SYSTEM_TOOLS") == "1"


def require_tool(name: str) -> str:
    """The path of a system tool (poppler's pdfsig, pdftoppm, pdftotext; openssl), or skip with a reason.

    CI installs them and sets DUNBOT_REQUIRE_SYSTEM_TOOLS=1, which turns a missing tool into a failure.
    """
    import shutil

    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (Debian/Ubuntu: apt install poppler-utils openssl); CI installs it"
    if SYSTEM_TOOLS_REQUIRED:
        pytest.fail(f"DUNBOT_REQUIRE_SYSTEM_TOOLS=1 but {message}")
    pytest.skip(message)


def require_cjk_font() -> None:
    """Skip (or, in CI, fail) when the system has no TrueType CJK font for zh-CN notices."""
    from bot.render.fonts import find_cjk_font

    if find_cjk_font() is not None:
        return
    message = "no TrueType CJK font on this system (apt install fonts-wqy-zenhei); CI installs one"
    if SYSTEM_TOOLS_REQUIRED:
        pytest.fail(f"DUNBOT_REQUIRE_SYSTEM_TOOLS=1 but {message}")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium driven by Playwright, for one test module; skipped with a reason where
    chromium or playwright is missing (a failure in CI, DUNBOT_REQUIRE_SYSTEM_TOOLS=1).

    Not for the whole session: while Playwright's sync API runs it holds an event loop on the main
    thread, and every later test that calls asyncio.run() would fail. Launching takes about a second.
    """
    from tests.support.browser import browser_missing, launched

    missing = browser_missing()
    if missing:
        if SYSTEM_TOOLS_REQUIRED:
            pytest.fail(f"DUNBOT_REQUIRE_SYSTEM_TOOLS=1 but {missing}")
        pytest.skip(missing)
    with launched() as running:
        yield running


@pytest.fixture
def console_server(sqlite_url: str, tmp_path: object) -> Iterator[object]:
    """The app with the console over real HTTP on a migrated SQLite database, with a test clock."""
    from pathlib import Path

    from tests.support.browser import ConsoleServer, start_clock

    engine = make_engine(sqlite_url)
    upgrade(engine)
    server = ConsoleServer(engine, Path(str(tmp_path)) / "artifacts", start_clock())
    server.engine = engine  # type: ignore[attr-defined]
    yield server
    server.close()
    engine.dispose()


# --- every evidence pack the tests make is verified twice ---------------------------------------------
# Once by dunbot (bot.evidence.pack_verify) and once by tests/support/independent_verifier.py, written
# from the pack's README alone: the verdicts must agree, for genuine packs and deliberately tampered
# ones. Packs are found as *.zip under each test's tmp_path when the test ends, and under the whole
# session's basetemp when the session ends (packs of module- or session-scoped fixtures).
_PACKS_COMPARED: set[Path] = set()


def _disagreements(folder: Path) -> list[str]:
    from concurrent.futures import ThreadPoolExecutor

    # In a thread of its own: verify_pack runs asyncio.run(), which a browser test's event loop on the
    # main thread (Playwright's sync API) would refuse.
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(_compare_verdicts, folder).result()


def _compare_verdicts(folder: Path) -> list[str]:
    from bot.evidence.pack_verify import verify_pack
    from tests.support.independent_verifier import verify

    found = []
    for pack in sorted(folder.rglob("*.zip")):
        if pack in _PACKS_COMPARED or pack.is_symlink() or not pack.is_file():
            continue
        _PACKS_COMPARED.add(pack)
        dunbot = verify_pack(pack)
        independent = verify(pack)
        if dunbot.ok != independent.ok:
            said = [f"{i.item}: {i.detail}" for i in dunbot.failures][:3]
            found.append(
                f"{pack}: dunbot says {'ok' if dunbot.ok else 'failed'} {said}, the independent "
                f"verifier {'ok' if independent.ok else 'failed'} {independent.problems[:3]}"
            )
    return found


@pytest.fixture(autouse=True)
def _packs_verify_independently(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    folder = getattr(request.node, "funcargs", {}).get("tmp_path")
    if folder is not None:
        found = _disagreements(Path(folder))
        if found:
            pytest.fail("the two pack verifiers disagree:\n" + "\n".join(found))


@pytest.fixture(scope="session", autouse=True)
def _session_packs_verify_independently(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    found = _disagreements(tmp_path_factory.getbasetemp())
    if found:
        pytest.fail("the two pack verifiers disagree:\n" + "\n".join(found))


@pytest.fixture(scope="session")
def imap_server() -> Iterator[object]:
    """One real Dovecot for the whole test session (tests/support/imap_server.py); each test takes a
    mailbox of its own with ``imap_server.new_user()``. Skipped with a reason where dovecot is missing
    (a failure in CI, DUNBOT_REQUIRE_SYSTEM_TOOLS=1)."""
    from tests.support.imap_server import ImapServer, dovecot_missing

    missing = dovecot_missing()
    if missing:
        if SYSTEM_TOOLS_REQUIRED:
            pytest.fail(f"DUNBOT_REQUIRE_SYSTEM_TOOLS=1 but {missing}")
        pytest.skip(missing)
    server = ImapServer().start()
    try:
        yield server
    finally:
        server.stop()
