"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import bot.store.tables  # noqa: F401
from bot.errors import DatabaseNotInitialised
from bot.store.engine import make_engine, require_schema
from bot.store.migrate import current_revision, head_revision, upgrade


def test_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    require_schema(engine)


def test_an_empty_database_says_run_init(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        require_schema(engine)
    except DatabaseNotInitialised as exc:
        assert "run `dunbot init`" in str(exc)
    else:
        raise AssertionError("an empty database must be refused")
