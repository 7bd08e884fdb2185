"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import bot.store.tables  # noqa: F401
from bot.errors import DatabaseNotInitialised
from bot.store.engine import SCHEMA_REVISION, make_engine, require_schema
from bot.store.migrate import alembic_config, current_revision, head_revision, upgrade
from bot.store.tables import EXPRESSION_INDEXES


def _described(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Everything but the expression indexes only the migrations make (EXPRESSION_INDEXES)."""
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


# SQLite's reflection skips expression indexes with this warning: they are compared below by name.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": _described}
        )
        differences = compare_metadata(context, SQLModel.metadata)
        present = {index["name"] for index in sa.inspect(connection).get_indexes("customer")}
    assert differences == []
    if engine.dialect.name == "postgresql":  # SQLite's reflection leaves them out (the warning above)
        assert present >= EXPRESSION_INDEXES
    else:
        with engine.connect() as connection:
            names = set(
                connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars()
            )
        assert names >= EXPRESSION_INDEXES


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


def test_the_revision_require_schema_wants_is_alembics_head() -> None:
    # require_schema reads alembic_version itself: a new migration must move SCHEMA_REVISION too.
    assert head_revision() == SCHEMA_REVISION


def test_a_database_of_an_older_migration_says_run_init_to_migrate(db_url: str) -> None:
    previous = ScriptDirectory.from_config(alembic_config()).get_revision(SCHEMA_REVISION).down_revision
    assert isinstance(previous, str)
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), previous)
    expected = f"schema is at {previous}, this dunbot needs {SCHEMA_REVISION}: run `dunbot init` to migrate"
    with pytest.raises(DatabaseNotInitialised, match=re.escape(expected)):
        require_schema(engine)
    upgrade(engine)
    require_schema(engine)
    engine.dispose()


def test_upgrading_to_0003_fills_in_the_leaves_and_keeps_the_log_append_only(db_url: str) -> None:
    """A database from before checkpoints: its events get their Merkle leaves, and stay untouchable."""
    import hashlib
    from datetime import UTC, datetime

    import pytest
    import sqlalchemy as sa
    from alembic import command

    from bot.evidence.canonical import ZERO_HASH, canonical_bytes, chain_hash
    from bot.evidence.log import EventKind, NewEvent, event_body
    from bot.evidence.service import verify_database
    from bot.store.migrate import alembic_config

    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0002")
    previous = ZERO_HASH
    at = datetime(2026, 6, 1, tzinfo=UTC)
    with engine.begin() as connection:
        for seq in (1, 2, 3):
            event = NewEvent(kind=EventKind.ALERT, actor="planner", data={"n": seq}, customer="C1")
            body = canonical_bytes(event_body(seq, at, event))
            content = hashlib.sha256(body).digest()
            previous = chain_hash(previous, content)
            connection.execute(
                sa.text(
                    "INSERT INTO evidence_event (seq, at, kind, actor, customer, invoices, body, content_hash, "
                    "chain_hash) VALUES (:seq, :at, 'alert', 'planner', 'C1', '[]', :body, :content, :chain)"
                ),
                {
                    "seq": seq,
                    "at": at,
                    "body": body.decode(),
                    "content": content.hex(),
                    "chain": previous.hex(),
                },
            )
    upgrade(engine)
    with engine.connect() as connection:
        leaves = connection.execute(sa.text("SELECT body, leaf_hash FROM evidence_event ORDER BY seq")).all()
    assert all(leaf == hashlib.sha256(b"\x00" + body.encode()).hexdigest() for body, leaf in leaves)
    report = verify_database(engine, None)
    assert report.ok, report.all_problems
    for statement in ("UPDATE evidence_event SET actor = 'x'", "DELETE FROM evidence_event"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(sa.text(statement))
    engine.dispose()


def test_instances_that_start_together_on_postgresql_take_turns_migrating(postgres_schema_url: str) -> None:
    """Two `dunbot init` at once (a compose file with two instances): both succeed, one migrates."""
    import threading

    engines = [make_engine(postgres_schema_url) for _ in range(3)]
    errors: list[BaseException] = []

    def migrate(engine: object) -> None:
        try:
            upgrade(engine)  # type: ignore[arg-type]
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(engine,), daemon=True) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert all(current_revision(engine) == head_revision() for engine in engines)
    for engine in engines:
        engine.dispose()


def test_upgrading_to_0007_keeps_disputes_people_recorded_through_the_next_import(
    db_url: str, tmp_path: object
) -> None:
    """A database from before the import baseline: a dispute opened in dunbot is not closed, nor
    one closed in dunbot reopened, by importing the ledger that was imported before."""
    from datetime import UTC, datetime
    from pathlib import Path

    import sqlalchemy as sa

    from bot.ingest.service import ImportDefaults, import_file

    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0006")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO customer (id, name, country, timezone, language, payment_terms_days, "
                "open_lawsuits, do_not_contact, credit_hold, opted_out) VALUES "
                "('C1', 'Acme', 'CN', 'Asia/Shanghai', 'zh-CN', 30, 0, false, false, '')"
            )
        )
        for number, status in (("OPENED", "disputed"), ("CLOSED", "open"), ("AT-SOURCE", "disputed")):
            connection.execute(
                sa.text(
                    "INSERT INTO invoice (number, customer_id, currency, amount, issue_date, due_date, status) "
                    "VALUES (:n, 'C1', 'CNY', '100.00', '2026-04-01', '2026-05-01', :s)"
                ),
                {"n": number, "s": status},
            )
        for seq, number in ((1, "OPENED"), (2, "CLOSED"), (3, "CLOSED")):  # opened, then opened and closed
            connection.execute(
                sa.text(
                    "INSERT INTO evidence_event (seq, at, kind, actor, customer, invoices, body, "
                    "content_hash, chain_hash) VALUES (:seq, :at, 'dispute', 'ops', 'C1', :inv, '{}', "
                    ":h, :h)"
                ),
                {"seq": seq, "at": datetime(2026, 6, 1, tzinfo=UTC), "inv": f'["{number}"]', "h": "0" * 64},
            )
    upgrade(engine)
    with engine.connect() as connection:
        baseline = dict(connection.execute(sa.text("SELECT number, source_status FROM invoice")).all())
    assert baseline == {"OPENED": "open", "CLOSED": "disputed", "AT-SOURCE": "disputed"}
    ledger = Path(str(tmp_path)) / "invoices.csv"
    ledger.write_text(
        "number,customer_id,currency,amount,issue_date,due_date,contract_ref,status\n"
        "OPENED,C1,CNY,100.00,2026-04-01,2026-05-01,,open\n"
        "CLOSED,C1,CNY,100.00,2026-04-01,2026-05-01,,disputed\n"
        "AT-SOURCE,C1,CNY,100.00,2026-04-01,2026-05-01,,disputed\n",
        encoding="utf-8",
    )
    defaults = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")
    report = import_file(engine, "invoices", ledger, defaults=defaults, now=datetime(2026, 6, 10, tzinfo=UTC))
    assert (report.updated, report.unchanged) == (0, 3)
    assert sorted(c.invoice for c in report.conflicts) == ["CLOSED", "OPENED"]
    with engine.connect() as connection:
        status = dict(connection.execute(sa.text("SELECT number, status FROM invoice")).all())
    assert status == {"OPENED": "disputed", "CLOSED": "open", "AT-SOURCE": "disputed"}
    engine.dispose()


def test_upgrading_to_0010_keeps_the_checkpoints_and_makes_them_append_only(
    db_url: str, notice_signer: object
) -> None:
    """A database with checkpoints from before 0010: they stay, refuse change, and the ids go on gapless."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa
    from sqlmodel import Session

    from bot.evidence.checkpoint import create_checkpoint
    from bot.evidence.log import EventKind, NewEvent, append_events
    from bot.evidence.service import verify_database

    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0009")
    at = datetime(2026, 6, 1, tzinfo=UTC)

    def grow_and_sign(hour: int) -> object:
        with Session(engine) as session:
            append_events(session, at, [NewEvent(kind=EventKind.ALERT, actor="test", data={"h": hour})])
            session.commit()
        return create_checkpoint(engine, notice_signer, "Xinghe", at + timedelta(hours=hour), "hourly")  # type: ignore[arg-type]

    grow_and_sign(1)
    grow_and_sign(2)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE checkpoint SET reason = 'cycle' WHERE id = 1"))  # allowed before
    upgrade(engine)
    for statement in ("UPDATE checkpoint SET reason = 'x'", "DELETE FROM checkpoint WHERE id = 2"):
        with (
            pytest.raises(sa.exc.DBAPIError, match="checkpoint is append-only"),
            engine.begin() as connection,
        ):
            connection.execute(sa.text(statement))
    if engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(sa.text("TRUNCATE checkpoint"))
    grow_and_sign(3)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, tree_size, reason FROM checkpoint ORDER BY id")).all()
    assert [tuple(row) for row in rows] == [(1, 1, "cycle"), (2, 2, "hourly"), (3, 3, "hourly")]
    assert verify_database(engine, None).ok
    command.downgrade(alembic_config(engine), "0009")  # and back: the triggers go with it
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE checkpoint SET reason = 'export' WHERE id = 3"))
    engine.dispose()
