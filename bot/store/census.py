"""Facts about the ledger that `dunbot check-config` weighs the config against.

The database may not exist yet (check-config runs before `dunbot init`) or may not be reachable: then
there is nothing to say, and nothing is created (a SQLite file is opened only when it exists).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bot.errors import StoreError
from bot.store import tables
from bot.store.engine import make_engine

_CONNECT_TIMEOUT_SECONDS = 5  # an unreachable server must not hold check-config up


def customers_by_language(url: str) -> dict[str, int]:
    """How many customers the database at ``url`` holds per language; empty when it cannot tell."""
    arguments: dict[str, object] = {}
    if url.startswith(("postgresql", "postgres")):
        arguments["connect_args"] = {"connect_timeout": _CONNECT_TIMEOUT_SECONDS}
    try:
        engine = make_engine(url, read_only=True, poolclass=sa.pool.NullPool, **arguments)
    except StoreError:
        return {}
    try:
        if engine.dialect.name == "sqlite" and not Path(engine.url.database or "").is_file():
            return {}
        customer = tables.Customer.__table__  # type: ignore[attr-defined]
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(customer.name):
                return {}
            rows = connection.execute(
                sa.select(customer.c.language, sa.func.count()).group_by(customer.c.language)
            )
            return {str(language): int(count) for language, count in rows}
    except sa.exc.SQLAlchemyError:
        return {}
    finally:
        engine.dispose()
