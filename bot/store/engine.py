"""The engine and sessions: one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.errors import DatabaseNotInitialised, StoreError


def normalise_url(url: str) -> str:
    """Map the URLs people write to the drivers dunbot ships (psycopg 3 for PostgreSQL)."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The stdlib driver's implicit transactions get in the way of BEGIN IMMEDIATE; we issue our own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # Take the write lock at the start of every transaction: a plan or an import reads and then
    # writes, and a deferred transaction could be refused the upgrade halfway through.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _sqlite_begin_deferred(conn: sa.Connection) -> None:
    # A reader never upgrades, so it must not queue for the write lock (see joined_snapshot).
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url`` with dunbot's connection settings.

    ``read_only`` (SQLite): connections refuse writes and their transactions do not take the write
    lock, so several readers can run beside one writer-locked transaction.
    """
    url = normalise_url(url)
    try:
        engine = sa.create_engine(url, **kwargs)
    except (sa.exc.ArgumentError, ModuleNotFoundError) as exc:
        raise StoreError(f"cannot use database URL {url!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        if read_only:
            event.listen(engine, "connect", _sqlite_read_only)
            event.listen(engine, "begin", _sqlite_begin_deferred)
        else:
            event.listen(engine, "begin", _sqlite_begin)
    return engine


def is_postgres(engine: Engine) -> bool:
    """True on PostgreSQL."""
    return engine.dialect.name == "postgresql"


def is_sqlite_in_memory(engine: Engine) -> bool:
    """True for an in-memory SQLite database: each connection (and so each thread) has its own."""
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# The newest migration this dunbot ships (bot/store/migrations/versions), as Alembic names it. A test
# holds it to Alembic's own head; require_schema compares against it without importing Alembic,
# which costs a fifth of a second, once per command, before any work starts.
SCHEMA_REVISION = "0011"


def _current_revision(engine: Engine) -> str | None:
    # What alembic's MigrationContext.get_current_revision reads: the one row of alembic_version.
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        revisions = sorted(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    # dunbot's migrations are one line, so one row; several would be a schema of someone else's.
    return ", ".join(revisions) or None


def require_schema(engine: Engine) -> None:
    """Fail with a clear message unless the schema is at the newest migration."""
    try:
        current = _current_revision(engine)
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot open the database {engine.url!r}: {exc.orig}") from exc
    if current is None:
        raise DatabaseNotInitialised(f"the database {engine.url!r} has no dunbot schema: run `dunbot init`")
    if current != SCHEMA_REVISION:
        raise DatabaseNotInitialised(
            f"the database schema is at {current}, this dunbot needs {SCHEMA_REVISION}: "
            "run `dunbot init` to migrate"
        )


# What pg_export_snapshot() returns, e.g. 00000003-0000001B-1; checked before it is spliced into SQL
# (SET TRANSACTION SNAPSHOT takes no bind parameters).
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")


def shares_snapshots(engine: Engine) -> bool:
    """True when other processes can read what one transaction sees (not an in-memory SQLite)."""
    if is_postgres(engine):
        return True
    database = engine.url.database
    return engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"


@contextmanager
def exported_snapshot(engine: Engine) -> Iterator[tuple[sa.Connection, str | None]]:
    """A read transaction whose view of the database readers in other processes can share.

    Yields the connection and a token for ``joined_snapshot``. PostgreSQL: a REPEATABLE READ
    transaction and its exported snapshot. SQLite: dunbot's usual transaction, which holds the write
    lock (BEGIN IMMEDIATE) until it ends, so nothing can change and every reader sees the same
    committed state; the token is None. Keep it open until every reader has started.
    """
    if is_postgres(engine):
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            token = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            yield connection, str(token)
    else:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")  # begins the transaction, and so takes the lock
            yield connection, None


@contextmanager
def joined_snapshot(url: str, token: str | None) -> Iterator[sa.Connection]:
    """A connection, in its own engine, that sees what the ``exported_snapshot`` of ``token`` sees.

    Meant for bulk readers (the planning workers): on PostgreSQL its sorts get 32 MB of memory.
    """
    engine = make_engine(url, read_only=True, poolclass=sa.pool.NullPool)
    try:
        if token is None:
            with engine.connect() as connection:
                yield connection
            return
        if not _SNAPSHOT_ID.fullmatch(token):
            raise StoreError(f"not a PostgreSQL snapshot id: {token!r}")
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{token}'")
            # A reader sorts big batches (a planning slice: 50,000 invoices, about 6 MB); with the
            # default 4 MB each sort spilled to disk and took half as long again.
            connection.exec_driver_sql("SET LOCAL work_mem = '32MB'")
            yield connection
    finally:
        engine.dispose()
