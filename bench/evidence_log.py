"""The evidence bench's loader: writes a whole evidence log that passes ``verify --db`` — the
customers (from ``bench/ledgers.py``), then cycle by cycle the case's and the background's events
interleaved, with canonical bodies, gapless seq, content, chain and leaf hashes exactly as
``append_events`` computes them, bulk-inserted with the driver (``executemany`` on SQLite, ``COPY`` on
PostgreSQL), and a signed checkpoint after each cycle — and brings it to a running system's state
(migrations, statistics) before it is measured.

Not a script: ``bench/evidence.py`` runs it (``.venv/bin/python bench/evidence.py --events 50000`` is a
quick run; see its docstring and bench/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import libpq, use_schema
from bench.evidence_background import Background
from bench.evidence_case import case_rounds
from bench.evidence_render import (
    CASE,
    CASE_ADDRESS,
    CASE_EMAIL,
    CASE_NAME,
    CASE_PHONE,
    CYCLE_HOUR_UTC,
    FIRST_DAY,
    ORIGIN,
    Blobs,
    Renderer,
    business_days,
)
from bench.ledgers import LedgerSpec, Segment, customer_models
from bench.ledgers import generate as generate_ledger
from bot.evidence.log import NewEvent

DAY_SPAN_US = 10 * 3600 * 1_000_000  # a day's events spread over ten hours after the cycle starts
EVENT_COLUMNS = (
    "seq",
    "at",
    "kind",
    "actor",
    "customer",
    "invoices",
    "body",
    "content_hash",
    "chain_hash",
    "leaf_hash",
    "dedupe_key",
)


def bench_settings(url: str, folder: Path, pkcs12: Path) -> Any:
    from bot.config import CompanySettings, DatabaseSettings, EvidenceSettings, Settings, SigningSettings

    # One witness folder per log (the large and the small one share the folder of artifacts).
    witness = folder / f"witness-{url.rsplit('/', 1)[-1].removesuffix('.db')}"
    return Settings(
        company=CompanySettings(name="星河精密", legal_name=ORIGIN),
        database=DatabaseSettings(url=url),
        evidence=EvidenceSettings(artifact_dir=str(folder / "artifacts"), witness_dir=str(witness)),
        signing=SigningSettings(pkcs12=str(pkcs12)),
        base_dir=folder,
    )


# --- writing the log ----------------------------------------------------------------------------------


class LogWriter:
    """Bulk inserts of evidence rows with the driver: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, url: str, schema: str | None) -> None:
        self.postgres = schema is not None
        self.sql = f"INSERT INTO evidence_event ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
        if self.postgres:
            import psycopg

            self.connection: Any = psycopg.connect(libpq(url, schema or ""))
        else:
            from sqlalchemy.dialects import sqlite as sqlite_dialect

            from bot.store.tables import EvidenceEvent

            column = EvidenceEvent.__table__.c.at  # type: ignore[attr-defined]
            # The exact text SQLAlchemy stores for an instant on SQLite (the type's own bind processor).
            self.instant = column.type.bind_processor(sqlite_dialect.dialect())
            self.connection = sqlite3.connect(url.removeprefix("sqlite:///"))

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        if self.postgres:
            copy_sql = f"COPY evidence_event ({', '.join(EVENT_COLUMNS)}) FROM STDIN"
            with self.connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
            self.connection.commit()
        else:
            instant = self.instant
            self.connection.executemany(self.sql, [(r[0], instant(r[1]), *r[2:]) for r in rows])
            self.connection.commit()

    def close(self) -> None:
        self.connection.close()


def _interleave(case: list[NewEvent], background: list[NewEvent]) -> list[NewEvent]:
    # The case's events spread evenly among the day's other events.
    keyed = [((j + 0.5) / len(background), 1, e) for j, e in enumerate(background)]
    keyed += [((k + 0.5) / len(case), 0, e) for k, e in enumerate(case)]
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [e for _, _, e in keyed]


def case_customer() -> LedgerSpec:
    """The case's customer, ``C0000000``, with a postal address; no invoices (events name them)."""
    return LedgerSpec(
        segments=(Segment(1),),
        as_of=FIRST_DAY,
        invoices_per_customer=0,
        customer_id=CASE,
        name=CASE_NAME,
        email=CASE_EMAIL,
        phone=CASE_PHONE,
        address=CASE_ADDRESS,
    )


def background_customers(customers: int) -> LedgerSpec:
    """The other customers, ``C0000001`` up to ``customers - 1``, without an address or invoices."""
    return LedgerSpec(
        segments=(Segment(customers - 1),),
        as_of=FIRST_DAY,
        first=1,
        invoices_per_customer=0,
        email="ap@c{n:07d}.example",
        phone="+86139{n8:08d}",
        address=None,
    )


def generate(
    url: str,
    schema: str | None,
    events: int,
    rounds: list[tuple[int, list[NewEvent]]],
    cycles: int,
    background: Background,
    settings: Any,
) -> dict[str, Any]:
    """Write the whole log, cycle by cycle, a signed checkpoint after each; returns counts and timings."""
    from sqlmodel import Session

    from bot.evidence.canonical import ZERO_HASH, canonical_bytes, chain_hash
    from bot.evidence.checkpoint import create_checkpoint
    from bot.evidence.log import event_body
    from bot.render.signing import company_signer
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    started = time.perf_counter()
    use_schema(schema)
    engine = make_engine(url)
    upgrade(engine)
    customers = background.customers
    with Session(engine) as session:
        session.add_all(customer_models(generate_ledger(case_customer())))
        session.add_all(customer_models(generate_ledger(background_customers(customers))))
        session.commit()
    by_day: dict[int, list[NewEvent]] = {}
    for day_index, round_events in rounds:
        by_day.setdefault(day_index, []).extend(round_events)
    case_total = sum(len(e) for _, e in rounds)
    background_total = events - case_total
    days = business_days(cycles)
    writer = LogWriter(url, schema)
    signer = company_signer(settings)
    sha256 = hashlib.sha256
    seq, previous = 0, ZERO_HASH
    hashing_s = checkpoint_s = insert_s = 0.0
    try:
        for d, day in enumerate(days):
            rng = random.Random(1_000_003 * d + 7)
            count = background_total * (d + 1) // cycles - background_total * d // cycles
            t0 = time.perf_counter()
            merged = _interleave(by_day.get(d, []), list(background.events(rng, count, day)))
            cycle = datetime(day.year, day.month, day.day, CYCLE_HOUR_UTC, tzinfo=UTC)
            spacing = DAY_SPAN_US // max(1, len(merged))
            rows = []
            for i, event in enumerate(merged):
                seq += 1
                at = cycle + timedelta(microseconds=i * spacing)
                # Exactly what append_events computes and stores (bot/evidence/log.py).
                body = canonical_bytes(event_body(seq, at, event))
                content = sha256(body).digest()
                previous = chain_hash(previous, content)
                invoices = json.dumps(sorted(event.invoices), ensure_ascii=False, separators=(",", ":"))
                rows.append(
                    (
                        seq,
                        at,
                        event.kind.value,
                        event.actor,
                        event.customer,
                        invoices,
                        body.decode("utf-8"),
                        content.hex(),
                        previous.hex(),
                        sha256(b"\x00" + body).hexdigest(),
                        event.dedupe_key,
                    )
                )
            t1 = time.perf_counter()
            writer.write(rows)
            t2 = time.perf_counter()
            create_checkpoint(
                engine, signer, ORIGIN, cycle + timedelta(microseconds=DAY_SPAN_US + 1), "cycle"
            )
            t3 = time.perf_counter()
            hashing_s += t1 - t0
            insert_s += t2 - t1
            checkpoint_s += t3 - t2
    finally:
        signer.close()
        writer.close()
        engine.dispose()
    return {
        "events": seq,
        "case_events": case_total,
        "customers": customers,
        "checkpoints": cycles,
        "generate_s": time.perf_counter() - started,
        "events_s": hashing_s,
        "insert_s": insert_s,
        "checkpoint_s": checkpoint_s,
    }


def migrated(url: str) -> None:
    """Bring the log to the state a running system has before it is measured (not timed).

    The schema: other work may add a migration while a long run goes on, and an operator runs
    `dunbot init` after upgrading. The statistics: a log that grew over a year has been vacuumed and
    analysed by then; one bulk-loaded a minute ago has not (on PostgreSQL the first scan would set
    the hint bits of every page and autovacuum would run during the measurement).
    """
    import sqlalchemy as sa

    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM (ANALYZE) evidence_event"))
            connection.execute(sa.text("VACUUM (ANALYZE) checkpoint"))
    else:
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))
    engine.dispose()


def prepare(case_cache: dict[str, Any], args: argparse.Namespace, blobs: Blobs, settings: Any) -> None:
    from bot.render.signing import company_signer

    signer = company_signer(settings)
    try:
        renderer = Renderer(signer)
        started = time.perf_counter()
        case_cache["rounds"] = case_rounds(args.case_events, args.cycles, blobs, renderer)
        unique = args.background_artifacts == "unique"
        days = business_days(args.cycles)
        case_cache["background"] = Background(max(2, args.events // 1000), blobs, renderer, unique, days)
        case_cache["render_s"] = time.perf_counter() - started
    finally:
        signer.close()


def publish_witness(url: str, schema: str | None, folder: str, result: Any) -> None:
    """Witness every checkpoint of the log afresh, as a running system would have (not timed)."""
    import shutil

    from bot.evidence.witness import publish
    from bot.store.engine import make_engine

    use_schema(schema)
    shutil.rmtree(folder, ignore_errors=True)
    engine = make_engine(url)
    report = publish(engine, Path(folder), create=True)
    engine.dispose()
    if report.problems:
        raise RuntimeError(f"the witness could not be written: {report.problems}")
    result.put({})


def migrate_schema(url: str, schema: str, result: Any) -> None:
    use_schema(schema)
    migrated(url)
    result.put({})
