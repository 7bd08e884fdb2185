"""The engine and sessions: one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

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


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with dunbot's connection settings."""
    url = normalise_url(url)
    try:
        engine = sa.create_engine(url, **kwargs)
    except (sa.exc.ArgumentError, ModuleNotFoundError) as exc:
        raise StoreError(f"cannot use database URL {url!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def is_postgres(engine: Engine) -> bool:
    """True on PostgreSQL."""
    return engine.dialect.name == "postgresql"


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


def require_schema(engine: Engine) -> None:
    """Fail with a clear message unless the schema is at the newest migration."""
    from bot.store.migrate import current_revision, head_revision

    try:
        current = current_revision(engine)
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot open the database {engine.url!r}: {exc.orig}") from exc
    if current is None:
        raise DatabaseNotInitialised(f"the database {engine.url!r} has no dunbot schema: run `dunbot init`")
    if current != head_revision():
        raise DatabaseNotInitialised(
            f"the database schema is at {current}, this dunbot needs {head_revision()}: "
            "run `dunbot init` to migrate"
        )
