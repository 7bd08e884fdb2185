"""`dunbot sync`: pull the ledger from a SQL database through the same validation as a CSV file.

Each configured query must return the entity's CSV columns (DESIGN §2) under the same names. All
entities are imported in one transaction, in reference order (contracts, customers, invoices,
payments): if any row of any entity is bad, nothing is written. Problems name the query and the row
number (``source.invoices:12: amount: ...``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.errors import ConfigError, ImportValidationError
from bot.ingest.csvfile import header_problems
from bot.ingest.schema import ENTITIES, IMPORT_ORDER, ImportDefaults
from bot.ingest.service import ImportReport, import_in_session
from bot.store.engine import require_schema

SYNC_ACTOR = "sync"


def sync_source(
    engine: Engine,
    url: str,
    queries: Mapping[str, str],
    defaults: ImportDefaults,
    now: datetime,
    *,
    dry_run: bool = False,
) -> list[ImportReport]:
    """Run each configured query against ``url`` and import the rows, all in one transaction."""
    if not queries:
        raise ConfigError(
            "[source] names no query: set at least one of customers, invoices, payments, contracts"
        )
    require_schema(engine)
    fetched = {name: _fetch(url, name, queries[name]) for name in IMPORT_ORDER if name in queries}
    reports: list[ImportReport] = []
    with Session(engine, expire_on_commit=False) as session:
        try:
            for name, (rows, digest) in fetched.items():
                reports.append(
                    import_in_session(
                        session,
                        name,
                        f"source.{name}",
                        rows,
                        defaults=defaults,
                        now=now,
                        digest=digest,
                        actor=SYNC_ACTOR,
                    )
                )
        except BaseException:
            session.rollback()
            raise
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return reports


def _fetch(url: str, entity: str, query: str) -> tuple[list[tuple[int, dict[str, str]]], str]:
    source = f"source.{entity}"
    try:
        remote = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ConfigError(f"source.url: cannot use {url!r}: {exc}") from None
    digest = hashlib.sha256()
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        with remote.connect() as connection:
            result = connection.execution_options(stream_results=True).execute(sa.text(query))
            columns = [str(name) for name in result.keys()]  # noqa: SIM118 (a result, not a dict)
            problems = header_problems(columns, ENTITIES[entity].header)
            if problems:
                raise ImportValidationError(source, [f"{source}: columns: {p}" for p in problems])
            for number, row in enumerate(result, start=1):
                cells = {name: _cell(value) for name, value in zip(columns, row, strict=True)}
                digest.update(repr(sorted(cells.items())).encode("utf-8"))
                rows.append((number, cells))
    except sa.exc.DBAPIError as exc:
        raise ImportValidationError(source, [f"{source}: the query failed: {exc.orig}"]) from None
    except sa.exc.SQLAlchemyError as exc:
        raise ImportValidationError(source, [f"{source}: cannot read the source: {exc}"]) from None
    finally:
        remote.dispose()
    return rows, digest.hexdigest()


def _cell(value: Any) -> str:
    """A source value as the text a CSV cell would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # SQLite hands back NUMERIC as float: the shortest repr is the decimal that was stored, and
        # anything with more decimals than the currency allows is then rejected by validation.
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)
