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
import multiprocessing
import os
import random
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AS_OF = date(2026, 6, 10)  # a Wednesday, a working day in China
SCHEMA = "bench_plan"


def _peak_mb() -> float:
    """This process's own peak RSS. Not ru_maxrss: Linux carries that across fork and exec, so a
    child started by a big parent would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- data ------------------------------------------------------------------------------------------


def _rows(
    customers: int, per_customer: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    rng = random.Random(42)
    customer_rows, invoice_rows, payment_rows = [], [], []
    tiers = ("strategic", "cooperative", "cautious", None, None, None)
    for c in range(customers):
        cid = f"C{c:07d}"
        customer_rows.append(
            (cid, f"客户{c:07d}有限公司", "CN", "Asia/Shanghai", "zh-CN", f"ap{c}@c{c}.com.cn", f"+86138{c % 10**8:08d}",
             "上海市浦东新区世纪大道 1 号", 30, 0, rng.choice(tiers), "manufacturing", "50000000", 0, 0, 0, "")
        )  # fmt: skip
        for i in range(per_customer):
            number = f"I{c:07d}-{i:02d}"
            due = AS_OF - timedelta(days=rng.randint(-10, 120))
            amount = f"{rng.randint(1_000, 200_000)}.00"
            contract = f"K-{rng.randint(1, 5)}" if rng.random() < 0.2 else None
            invoice_rows.append(
                (
                    number,
                    cid,
                    "CNY",
                    amount,
                    (due - timedelta(days=30)).isoformat(),
                    due.isoformat(),
                    contract,
                )
            )
            if rng.random() < 0.2:
                payment_rows.append(
                    (f"P{c:07d}-{i:02d}", number, "500.00", (due - timedelta(days=1)).isoformat())
                )
    return customer_rows, invoice_rows, payment_rows


CUSTOMER_SQL = (
    "INSERT INTO customer (id, name, country, timezone, language, email, phone, address, payment_terms_days, "
    "open_lawsuits, tier_override, industry, annual_revenue, do_not_contact, credit_hold, credit_limit, opted_out) "
    "VALUES ({})"
)


def _load(engine_url: str, customers: int, per_customer: int, postgres: bool) -> None:
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    engine = make_engine(engine_url)
    upgrade(engine)
    engine.dispose()
    customer_rows, invoice_rows, payment_rows = _rows(customers, per_customer)
    contracts = [(f"K-{k}", 10 + k, "0.0005", "0.02", 30 + k, "上海") for k in range(1, 6)]
    if postgres:
        import psycopg

        with psycopg.connect(_libpq(engine_url)) as connection, connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO contract (ref, grace_days, daily_rate, penalty_rate, penalty_after_days, jurisdiction) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                contracts,
            )
            with cursor.copy(
                "COPY customer (id, name, country, timezone, language, email, phone, address, payment_terms_days, "
                "open_lawsuits, tier_override, industry, annual_revenue, do_not_contact, credit_hold, credit_limit, "
                "opted_out) FROM STDIN"
            ) as copy:
                for row in customer_rows:
                    copy.write_row((*row[:13], bool(row[13]), bool(row[14]), None, row[16]))
            with cursor.copy(
                "COPY invoice (number, customer_id, currency, amount, issue_date, due_date, contract_ref, status) "
                "FROM STDIN"
            ) as copy:
                for row in invoice_rows:
                    copy.write_row((*row, "open"))
            with cursor.copy("COPY payment (reference, invoice_number, amount, paid_on) FROM STDIN") as copy:
                for row in payment_rows:
                    copy.write_row(row)
            cursor.execute("ANALYZE")
        return
    path = engine_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO contract (ref, grace_days, daily_rate, penalty_rate, penalty_after_days, jurisdiction) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            contracts,
        )
        connection.executemany(
            CUSTOMER_SQL.format(", ".join("?" * 17)), [(*r[:15], None, r[16]) for r in customer_rows]
        )
        connection.executemany(
            "INSERT INTO invoice (number, customer_id, currency, amount, issue_date, due_date, contract_ref, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'open')",
            invoice_rows,
        )
        connection.executemany(
            "INSERT INTO payment (reference, invoice_number, amount, paid_on) VALUES (?, ?, ?, ?)",
            payment_rows,
        )
        connection.execute("ANALYZE")


def _libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    options = f"options=-csearch_path%3D{SCHEMA}"
    return f"postgresql://{parsed.username or 'postgres'}@{parsed.host or '127.0.0.1'}:{parsed.port or 5432}/{parsed.database}?{options}"


# --- the two measurements, each in its own process -------------------------------------------------


def _cpu_s() -> float:
    """CPU seconds of this process and its waited-for children (the plan's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _scan(url: str, postgres: bool, result: Any) -> None:
    cpu = _cpu_s()
    started = time.perf_counter()
    rows = 0
    if postgres:
        import psycopg

        with psycopg.connect(_libpq(url)) as connection:
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
    result.put((time.perf_counter() - started, rows, _peak_mb(), _cpu_s() - cpu))


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
        cpu = _cpu_s()
        started = time.perf_counter()
        decisions = write_plan_json(engine, settings, AS_OF, sink)
        sink.flush()
        elapsed = time.perf_counter() - started
        cpu = _cpu_s() - cpu
    # Peak memory of the whole plan: this process plus every worker at the largest worker's peak.
    # A forked worker's ru_maxrss starts from this process's size and counts pages it shares with
    # it, so the sum is an upper bound.
    workers = worker_count(settings.planning.workers)
    largest_worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result.put((elapsed, decisions, _peak_mb() + workers * largest_worker, cpu))


def _child(target: Any, url: str, postgres: bool) -> tuple[float, int, float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(url, postgres, queue))
    process.start()
    outcome = queue.get()
    process.join()
    return outcome  # type: ignore[no-any-return]


def run(db: str, customers: int, per_customer: int, pg_url: str, repeat: int) -> Iterator[dict[str, Any]]:
    """Load once, then measure scan and plan back to back ``repeat`` times."""
    postgres = db == "postgres"
    with tempfile.TemporaryDirectory() as folder:
        if postgres:
            import sqlalchemy as sa

            admin = sa.create_engine(pg_url)
            with admin.begin() as connection:
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
                connection.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
            admin.dispose()
            os.environ["PGOPTIONS"] = f"-csearch_path={SCHEMA}"
            url = pg_url
        else:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
        started = time.perf_counter()
        _load(url, customers, per_customer, postgres)
        load_s = time.perf_counter() - started
        for _ in range(repeat):
            scan_s, scanned, scan_mb, scan_cpu = _child(_scan, url, postgres)
            plan_s, decisions, plan_mb, plan_cpu = _child(_plan, url, postgres)
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
        default=os.environ.get(
            "DUNBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
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
