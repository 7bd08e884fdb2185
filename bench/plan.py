"""Planning a day over a big ledger against a raw scan of the same tables, in one run (issue 2).

    .venv/bin/python bench/plan.py [--customers 100000] [--invoices-per-customer 10]
                                   [--db sqlite|postgres|both] [--repeat 1] [--pg-url URL]

It generates ``customers × invoices-per-customer`` open invoices (due dates spread over the whole
ladder, a fifth of them part-paid, a few contracts), then measures, each in a fresh child process so
that peak memory is per measurement:

* **scan**: the driver alone (``sqlite3`` / ``psycopg`` with a server-side cursor) reading every row
  of ``invoice`` and of ``payment`` — the data planning has to read;
* **plan**: what `dunbot plan --json` runs (streamed ledgers, scorecard, tiers, the ladder for every
  invoice, every decision serialised and written to the null device), with its default worker
  processes; its peak memory is this process's plus every worker's (an upper bound).

Targets: plan ≤ 4 × scan, peak RSS ≤ 1.5 GB. Each line also gives the CPU seconds of scan and
plan (plan's workers included; the PostgreSQL server's own work in neither) and the 1-minute load
average after the pair: on a shared machine, a wall-clock ratio means little without them.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import child, cpu_s, libpq, peak_mb, pg_url, reset_schema
from bench.ledgers import LedgerSpec, Segment, generate, write_postgres, write_sqlite

AS_OF = date(2026, 6, 10)  # a Wednesday, a working day in China
SCHEMA = "bench_plan"


# --- data ------------------------------------------------------------------------------------------


def ledger_spec(customers: int, per_customer: int) -> LedgerSpec:
    """Due dates from 10 days before to 120 days after ``AS_OF``, amounts 1,000–200,000, a fifth of the
    invoices on one of five contracts and a fifth part-paid; a tier override for half the customers."""
    tiers = ("strategic", "cooperative", "cautious", None, None, None)
    return LedgerSpec(
        segments=(Segment(customers, tier=tiers, days_overdue=(-10, 120)),),
        as_of=AS_OF,
        invoices_per_customer=per_customer,
        seed=42,
        industry="manufacturing",
        annual_revenue="50000000",
        contract_share=0.2,
        payment_share=0.2,
    )


CONTRACTS = 5


def _load(engine_url: str, customers: int, per_customer: int, postgres: bool) -> None:
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    engine = make_engine(engine_url)
    upgrade(engine)
    engine.dispose()
    ledger = generate(ledger_spec(customers, per_customer))
    if postgres:
        write_postgres(libpq(engine_url, SCHEMA), ledger, CONTRACTS)
    else:
        write_sqlite(engine_url.removeprefix("sqlite:///"), ledger, CONTRACTS)


# --- the two measurements, each in its own process -------------------------------------------------


def _scan(url: str, postgres: bool, result: Any) -> None:
    cpu = cpu_s()
    started = time.perf_counter()
    rows = 0
    if postgres:
        import psycopg

        with psycopg.connect(libpq(url, SCHEMA)) as connection:
            for table in ("invoice", "payment"):
                with connection.cursor(name=f"scan_{table}") as cursor:
                    cursor.itersize = 5000
                    cursor.execute(f"SELECT * FROM {table} ORDER BY 1")
                    for _ in cursor:
                        rows += 1
    else:
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            for table in ("invoice", "payment"):
                for _ in connection.execute(f"SELECT * FROM {table} ORDER BY 1"):
                    rows += 1
    result.put((time.perf_counter() - started, rows, peak_mb(), cpu_s() - cpu))


def _plan(url: str, postgres: bool, result: Any) -> None:
    from bot.config import DatabaseSettings, Settings
    from bot.outreach.plan_workers import worker_count
    from bot.outreach.planning import write_plan_json
    from bot.store.engine import make_engine

    if postgres:
        os.environ["PGOPTIONS"] = f"-csearch_path={SCHEMA}"
    settings = Settings(database=DatabaseSettings(url=url))  # [planning] defaults, as the CLI
    engine = make_engine(url)
    # Exactly what `dunbot plan --json` runs, writing to a real file (the null device) instead of
    # the terminal: every customer's plan, every decision serialised and written, by the worker
    # processes the default settings give (one per core).
    with open(os.devnull, "w", encoding="utf-8") as sink:
        cpu = cpu_s()
        started = time.perf_counter()
        decisions = write_plan_json(engine, settings, AS_OF, sink)
        sink.flush()
        elapsed = time.perf_counter() - started
        cpu = cpu_s() - cpu
    # Peak memory of the whole plan: this process plus every worker at the largest worker's peak.
    # A forked worker's ru_maxrss starts from this process's size and counts pages it shares with
    # it, so the sum is an upper bound.
    workers = worker_count(settings.planning.workers)
    largest_worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result.put((elapsed, decisions, peak_mb() + workers * largest_worker, cpu))


def run(
    db: str, customers: int, per_customer: int, postgres_url: str, repeat: int
) -> Iterator[dict[str, Any]]:
    """Load once, then measure scan and plan back to back ``repeat`` times."""
    postgres = db == "postgres"
    with tempfile.TemporaryDirectory() as folder:
        if postgres:
            reset_schema(postgres_url, SCHEMA)
            os.environ["PGOPTIONS"] = f"-csearch_path={SCHEMA}"
            url = postgres_url
        else:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
        started = time.perf_counter()
        _load(url, customers, per_customer, postgres)
        load_s = time.perf_counter() - started
        for _ in range(repeat):
            scan_s, scanned, scan_mb, scan_cpu = child(_scan, url, postgres)
            plan_s, decisions, plan_mb, plan_cpu = child(_plan, url, postgres)
            yield {
                "db": db,
                "invoices": customers * per_customer,
                "customers": customers,
                "load_s": load_s,
                "scan_s": scan_s,
                "scan_cpu": scan_cpu,
                "rows": scanned,
                "scan_mb": scan_mb,
                "plan_s": plan_s,
                "plan_cpu": plan_cpu,
                "decisions": decisions,
                "plan_mb": plan_mb,
                "load_avg": os.getloadavg()[0],
            }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--invoices-per-customer", type=int, default=10)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure scan then plan this many times per load"
    )
    parser.add_argument(
        "--pg-url",
        default=pg_url(),
    )
    args = parser.parse_args()
    databases = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    print(
        f"{'db':<9}{'invoices':>10}{'load s':>8}{'scan s':>8}{'plan s':>8}{'ratio':>7}{'peak MB':>9}"
        f"{'scan cpu':>9}{'plan cpu':>9}{'load':>6}  targets"
    )
    for db in databases:
        for r in run(db, args.customers, args.invoices_per_customer, args.pg_url, args.repeat):
            ratio = r["plan_s"] / r["scan_s"]
            verdict = "met" if ratio <= 4 and r["plan_mb"] <= 1536 else "MISSED"
            print(
                f"{db:<9}{r['invoices']:>10}{r['load_s']:>8.1f}{r['scan_s']:>8.1f}{r['plan_s']:>8.1f}{ratio:>7.2f}"
                f"{r['plan_mb']:>9.0f}{r['scan_cpu']:>9.1f}{r['plan_cpu']:>9.1f}{r['load_avg']:>6.1f}  {verdict} "
                f"(scan read {r['rows']} rows, {r['scan_mb']:.0f} MB; {r['decisions']} decisions)",
                flush=True,
            )


if __name__ == "__main__":
    main()
