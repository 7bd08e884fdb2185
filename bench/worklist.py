"""How long the console's worklist read model takes (issue 18), on SQLite and PostgreSQL.

    .venv/bin/python bench/worklist.py [--customers 100000] [--invoices-per-customer 10]
        [--tasks 4000] [--repeat 30] [--only sqlite|postgres] [--profile]

Loads ``bench/plan.py``'s ledger (100,000 customers, 1,000,000 invoices by default), gives 40
collectors a customer each in turn, and raises ``--tasks`` open tasks on the first customers (one
to three of their invoices each; every tenth an approval). Then times ``worklist()`` for a manager
(everyone's tasks: page 1, page 3, and filtered to approvals) and for one collector, ``--repeat``
times each, and prints p50 and p95 in milliseconds. ``--profile`` prints cProfile's top functions
of the manager's page 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import pg_url, profiled, reset_schema, use_schema
from bench.plan import AS_OF, SCHEMA, _load

COLLECTORS = 40
KINDS = ("call", "call", "review", "manual", "call", "call", "manual", "call", "review", "approval")


def _tasks(engine: Any, count: int, per_customer: int) -> None:
    import sqlalchemy as sa

    from bot.store import tables

    customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
    task_t = tables.Task.__table__  # type: ignore[attr-defined]
    now = datetime(2026, 6, 10, 1, 0, tzinfo=UTC)
    with engine.begin() as connection:
        ids = list(connection.execute(sa.select(customer_t.c.id).order_by(customer_t.c.id)).scalars())
        for n in range(COLLECTORS):
            connection.execute(
                sa.update(customer_t)
                .where(customer_t.c.id.in_(ids[n::COLLECTORS]))
                .values(account_manager=f"collector{n:02d}@bench.cn")
            )
        rows = []
        for n in range(count):
            customer = ids[n // 2]  # two tasks per customer
            number = int(customer[1:])
            kind = KINDS[n % len(KINDS)]
            invoices = [f"I{number:07d}-{i:02d}" for i in range(1 + n % 3) if i < per_customer]
            rows.append(
                {
                    "kind": kind,
                    "customer_id": customer,
                    "invoices": json.dumps(invoices),
                    "step": "lawyer_letter" if kind == "approval" else "collection_call",
                    "assignee": "collector",
                    "title": f"bench task {n}",
                    "body": "",
                    "status": "open",
                    "dedupe_key": f"bench:{n}",
                    "created_at": now,
                }
            )
        connection.execute(sa.insert(task_t), rows)


def _time(call: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    took, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    p95 = took[min(len(took) - 1, round(0.95 * (len(took) - 1)))]
    return statistics.median(took), p95, result


def _measure(url: str, options: argparse.Namespace, label: str) -> None:
    from bot.reporting.visibility import Role, Viewer
    from bot.reporting.worklist import WorklistQuery, worklist
    from bot.store.engine import make_engine

    engine = make_engine(url)
    _tasks(engine, options.tasks, options.invoices_per_customer)
    manager = Viewer("mgr", Role.MANAGER)
    collector = Viewer("collector07@bench.cn", Role.COLLECTOR)
    cases = {
        "manager, page 1": (manager, WorklistQuery()),
        "manager, page 3": (manager, WorklistQuery(page=3)),
        "manager, approvals": (manager, WorklistQuery(kind="approval")),
        "collector, page 1": (collector, WorklistQuery()),
    }
    worklist(engine, manager, WorklistQuery(), AS_OF)  # warm the caches and the pool
    # as `dunbot web` and `dunbot run` do once serving starts (bot.web.server.serve, freeze_heap)
    gc.collect()
    gc.freeze()
    for name, (viewer, query) in cases.items():
        p50, p95, page = _time(lambda v=viewer, q=query: worklist(engine, v, q, AS_OF), options.repeat)
        print(f"{label:10} {name:20} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  {page.total} items", flush=True)
    if options.profile:
        profiled(True, lambda: worklist(engine, manager, WorklistQuery(), AS_OF))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--invoices-per-customer", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()

    if options.only != "postgres":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            _load(url, options.customers, options.invoices_per_customer, postgres=False)
            _measure(url, options, "sqlite")
    if options.only != "sqlite":
        url = pg_url()
        reset_schema(url, SCHEMA)
        use_schema(SCHEMA)
        try:
            _load(url, options.customers, options.invoices_per_customer, postgres=True)
            _measure(url, options, "postgres")
        finally:
            use_schema(None)
            reset_schema(url, SCHEMA)


if __name__ == "__main__":
    main()
