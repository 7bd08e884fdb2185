"""Reading rows fast: straight from the DBAPI cursor (``driver_rows``), streamed through SQLAlchemy
(``stream_rows``), and rows ordered by customer handed out one customer's at a time (``ByCustomer``).

What the million-row reads of planning and of the evidence verifier are built on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from itertools import count, groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_STREAM_ROWS = 5000


def stream_rows(connection: Connection, statement: sa.Select[Any]) -> Iterator[sa.Row[Any]]:
    # Options on the statement, not the connection: Connection.execution_options() changes the
    # connection in place, and every later statement (UPDATEs too) would go through a cursor.
    yield from connection.execute(statement.execution_options(stream_results=True, yield_per=_STREAM_ROWS))


def _unchanged(value: Any) -> Any:
    return value


class DriverRows:
    """Rows of a Core statement straight from the DBAPI cursor, fetched in batches.

    For the million-row reads of planning: SQLAlchemy compiles the statement, but no Row objects
    are made and no result types run (about a third of the cost of reading). What the driver leaves
    as stored is converted by ``money`` and ``day``: on SQLite money is canonical text (see
    ``types.Money``) and dates ISO text; psycopg already returns Decimal and date. Other drivers
    go through SQLAlchemy's rows, converted as usual.
    """

    _names = count()

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        driver = connection.dialect.driver
        self._sqlite = driver == "pysqlite"
        self._direct = self._sqlite or driver == "psycopg"
        self.money: Callable[[Any], Decimal] = Decimal if self._sqlite else _unchanged
        self.day: Callable[[Any], date] = date.fromisoformat if self._sqlite else _unchanged

    def _bind(self, value: Any) -> Any:
        # What SQLAlchemy's Date type binds on SQLite; psycopg adapts dates itself.
        return value.isoformat() if self._sqlite and isinstance(value, date) else value

    def rows(self, statement: sa.Select[Any]) -> Iterator[Sequence[Any]]:
        """Every row of ``statement`` as a tuple, in the statement's order."""
        connection = self._connection
        if not self._direct:
            yield from stream_rows(connection, statement)
            return
        compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
        values = compiled.construct_params()
        params: Any
        if compiled.positiontup is not None:
            params = tuple(self._bind(values[name]) for name in compiled.positiontup)
        else:
            params = {name: self._bind(value) for name, value in values.items()}
        if not connection.in_transaction():
            connection.begin()  # the same transaction (and snapshot) as the Core queries beside it
        raw = connection.connection.driver_connection
        assert raw is not None
        # psycopg: a server-side cursor, so the rows stream instead of arriving all at once.
        cursor = raw.cursor() if self._sqlite else raw.cursor(name=f"dunbot_rows_{next(self._names)}")
        try:
            cursor.execute(compiled.string, params)
            if self._sqlite:  # row by row: sqlite3's fetchmany is 8-10 % slower than its iterator
                yield from cursor
            else:
                while batch := cursor.fetchmany(_STREAM_ROWS):
                    yield from batch
        finally:
            cursor.close()


def driver_rows(connection: Connection, statement: sa.Select[Any]) -> Iterator[Sequence[Any]]:
    """Every row of ``statement`` as the driver returns it (see ``DriverRows``): a tuple in the
    statement's column order, values as stored (on SQLite an instant is ISO text without a zone)."""
    return DriverRows(connection).rows(statement)


class ByCustomer:
    """Rows ordered by customer id (their first column), handed out one customer's at a time."""

    __slots__ = ("_customer", "_groups", "_rows")

    def __init__(self, rows: Iterator[Any]) -> None:
        self._groups = groupby(rows, itemgetter(0))
        self._customer: Any = None
        self._rows: Any = None
        self._advance()

    def _advance(self) -> None:
        self._customer, self._rows = next(self._groups, (None, None))

    def take(self, customer_id: str) -> list[Any]:
        """The rows of ``customer_id`` when they come next (the caller asks in id order)."""
        if self._rows is None or self._customer != customer_id:
            return []
        rows = list(self._rows)
        self._advance()
        return rows
