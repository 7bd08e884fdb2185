"""How long the console's dashboard numbers take on the plan bench's ledger (issue 18).

    .venv/bin/python bench/dashboard.py [--customers 100000] [--invoices-per-customer 10] [--repeat 3]

Loads ``bench/plan.py``'s ledger into SQLite (100,000 customers, 1,000,000 invoices by default), then
times, each ``--repeat`` times in this process: ``report aging`` (one pass over the ledger, one tier
per customer) and ``dashboard()`` (one pass, the aging and 13 KPI points: each customer tiered 13
times). The page calls ``dashboard()`` on every view, so this is the figure a cache has to beat.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cpu_s, peak_mb
from bench.plan import AS_OF, _load


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--invoices-per-customer", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()

    from bot.config import DatabaseSettings, Settings
    from bot.reporting.dashboard import dashboard
    from bot.reporting.receivables import aging_report
    from bot.store.engine import make_engine

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        started = time.perf_counter()
        _load(url, options.customers, options.invoices_per_customer, postgres=False)
        print(f"load {time.perf_counter() - started:.1f} s", flush=True)
        settings = Settings(database=DatabaseSettings(url=url))
        engine = make_engine(url)
        now = datetime(2026, 6, 10, 1, 0, tzinfo=UTC)
        for _ in range(options.repeat):
            cpu, started = cpu_s(), time.perf_counter()
            aging = aging_report(engine, settings, AS_OF)
            print(
                f"report aging  {time.perf_counter() - started:6.2f} s  cpu {cpu_s() - cpu:6.2f} s  "
                f"{len(aging.by_customer)} customer rows",
                flush=True,
            )
            cpu, started = cpu_s(), time.perf_counter()
            board = dashboard(engine, settings, AS_OF, now)
            print(
                f"dashboard()   {time.perf_counter() - started:6.2f} s  cpu {cpu_s() - cpu:6.2f} s  "
                f"{len(board.history)} points, {len(board.aging)} aging rows, peak {peak_mb():.0f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
