"""The collector console under 20 concurrent logged-in users, on the plan bench's ledger (issue 18).

    .venv/bin/python bench/console.py [--customers 100000] [--invoices-per-customer 10]
                                      [--db sqlite|postgres|both] [--users 20] [--rounds 10]
                                      [--pages worklist,customer,dashboard] [--think 2,0]
                                      [--pg-url URL]

Loads ``bench/plan.py``'s ledger (100,000 customers, 1,000,000 invoices by default) into SQLite or a
PostgreSQL schema, then adds what the console's pages read:

* every customer assigned to one of the collectors (``customer.assigned_to``), and open call tasks
  (:data:`TASKS_PER_COLLECTOR` each) on their customers;
* per collector one customer with :data:`TIMELINE_EVENTS` timeline events (disputes opened and
  closed through the same service the CLI and the console call, each an evidence event);
* the dashboard stored as after a cycle (``refresh_dashboard``, timed: that is the cycle's extra work).

Then it starts the real app (``bot.web.app.make_app`` with a ``ConsoleConfig`` and the settings,
served by uvicorn through ``bot.web.server.serve``) in a child process, logs in ``--users`` users
(half collectors, half managers) through the login form, and lets them all work at once, each
``--rounds`` times: a collector opens ``/worklist`` and their customer with the long timeline, a
manager ``/worklist``, that customer and ``/dashboard`` with its chart images. Server time is taken
inside the server process by an ASGI wrapper around the app (from the request's arrival to the last
byte of the answer, so it includes waiting for the event loop and the database threads), reported
as p50 and p95 per page with the client's own figures beside it. Target: p95 ≤ 150 ms per page.
``--think`` sets how long a user reads a page before the next click (each pause 0.5–1.5 times it;
``2,0`` by default: a run as people work, then a run with no pause at all, the saturated case).

A page that is not there yet on the branch answers 404; it is reported as such, not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cpu_s, free_port, pg_url, reset_schema
from bench.plan import AS_OF, CONTRACTS, ledger_spec

SCHEMA = "bench_console"
NOW = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai on the plan bench's date
PASSWORD = "bench-console-password"
SECRET = "the console bench's signing secret"
TASKS_PER_COLLECTOR = 200
TIMELINE_EVENTS = 200
TARGET_MS = 150.0
PAGES = ("worklist", "customer", "dashboard")


# --- data --------------------------------------------------------------------------------------


def collector_names(users: int) -> list[str]:
    return [f"collector{k:02d}@bench.example" for k in range(1, users // 2 + 1)]


def manager_names(users: int) -> list[str]:
    return [f"manager{k:02d}@bench.example" for k in range(1, users - users // 2 + 1)]


def load(url: str, customers: int, per_customer: int, users: int, postgres: bool) -> dict[str, Any]:
    """The ledger, assignments, tasks, timelines, users and the stored dashboard; seconds per part."""
    import sqlalchemy as sa

    from bench.common import libpq
    from bench.ledgers import generate, write_postgres, write_sqlite
    from bot.access.users import add_user
    from bot.config import DatabaseSettings, Settings
    from bot.outreach.collector import set_dispute
    from bot.reporting.dashboard import refresh_dashboard
    from bot.store import tables
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    timings: dict[str, Any] = {}
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    ledger = generate(ledger_spec(customers, per_customer))
    if postgres:
        engine.dispose()
        write_postgres(libpq(url, SCHEMA), ledger, CONTRACTS)
    else:
        write_sqlite(url.removeprefix("sqlite:///"), ledger, CONTRACTS)
    timings["ledger_s"] = time.perf_counter() - started

    started = time.perf_counter()
    collectors = collector_names(users)
    customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
    task_t = tables.Task.__table__  # type: ignore[attr-defined]
    ids = [row.id for row in ledger.customers]
    invoices_of: dict[str, list[str]] = defaultdict(list)
    for invoice in ledger.invoices:
        if len(invoices_of[invoice.customer_id]) < 3:
            invoices_of[invoice.customer_id].append(invoice.number)
    heavy: dict[str, str] = {}  # collector -> the customer with the long timeline
    with engine.begin() as connection:
        for index, name in enumerate(collectors):
            own = ids[index :: len(collectors)]
            for start in range(0, len(own), 5000):
                connection.execute(
                    customer_t.update()
                    .where(customer_t.c.id.in_(own[start : start + 5000]))
                    .values(assigned_to=name)
                )
            heavy[name] = own[0]
            connection.execute(
                task_t.insert(),
                [
                    {
                        "kind": "call",
                        "customer_id": customer,
                        "invoices": json.dumps(invoices_of[customer][:1]),
                        "step": "call",
                        "assignee": name,
                        "title": f"Call {customer} about {invoices_of[customer][0]}",
                        "status": "open",
                        "dedupe_key": f"bench-call-{customer}",
                        "created_at": NOW - timedelta(days=k % 20),
                    }
                    for k, customer in enumerate(own[:TASKS_PER_COLLECTOR])
                ],
            )
    timings["assign_s"] = time.perf_counter() - started

    started = time.perf_counter()
    for name, customer in heavy.items():
        invoice = invoices_of[customer][0]
        for k in range(TIMELINE_EVENTS // 2):
            at = NOW - timedelta(days=TIMELINE_EVENTS - 2 * k)
            set_dispute(engine, invoice, True, f"disputed quantity, round {k}", f"user:{name}", at)
            set_dispute(
                engine, invoice, False, f"settled, round {k}", f"user:{name}", at + timedelta(hours=1)
            )
    timings["timeline_s"] = time.perf_counter() - started

    for name in collectors:
        add_user(engine, name, "collector", PASSWORD, actor="user:bench", now=NOW, language="zh-CN")
    for name in manager_names(users):
        add_user(engine, name, "manager", PASSWORD, actor="user:bench", now=NOW, language="zh-CN")

    settings = Settings(database=DatabaseSettings(url=url))
    started, cpu = time.perf_counter(), cpu_s()
    refresh_dashboard(engine, settings, AS_OF, NOW)
    timings["dashboard_s"] = time.perf_counter() - started
    timings["dashboard_cpu"] = cpu_s() - cpu
    with engine.connect() as connection:
        timings["events"] = connection.execute(sa.text("SELECT count(*) FROM evidence_event")).scalar()
    timings["heavy"] = heavy
    engine.dispose()
    return timings


# --- the server, in a child process ------------------------------------------------------------


class Timed:
    """ASGI wrapper: the server time of every request, per page; ``/__bench__/times`` answers them
    (and clears them) as JSON. Outside the console's guard, so it needs no login."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: dict[str, list[tuple[float, int]]] = defaultdict(list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == "/__bench__/times":
            body = json.dumps(self.times).encode()
            self.times = defaultdict(list)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        status = 0

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        await self.app(scope, receive, sending)
        self.times[page_of(path)].append((time.perf_counter() - started, status))


def page_of(path: str) -> str:
    if path.startswith("/customers/"):
        return "customer"
    if path.startswith("/dashboard/charts/"):
        return "dashboard chart (SVG)"
    return path.strip("/") or "/"


def serve_app(url: str, port: int, postgres: bool, artifacts: str) -> None:
    """The app as ``dunbot web`` serves it (the console with settings), until the parent ends it."""
    if postgres:
        os.environ["PGOPTIONS"] = f"-csearch_path={SCHEMA}"
    from bot.config import DatabaseSettings, Settings
    from bot.evidence.artifacts import ArtifactStore
    from bot.store.engine import make_engine
    from bot.web.app import make_app
    from bot.web.console.settings import ConsoleConfig
    from bot.web.server import serve

    engine = make_engine(url)
    settings = Settings(database=DatabaseSettings(url=url))
    clock = lambda: NOW  # noqa: E731  (the bench's date: sessions never idle out)
    app = make_app(
        engine,
        auth_token="bench",
        public_url=None,
        artifacts=ArtifactStore(Path(artifacts)),
        clock=clock,
        console=ConsoleConfig(
            secret=SECRET,
            secure=False,
            clock=clock,
            timezone=settings.company.timezone,
            settings=settings,
        ),
    )
    asyncio.run(serve(Timed(app), f"127.0.0.1:{port}", asyncio.Event(), freeze_heap=True))  # as dunbot web


# --- the users ---------------------------------------------------------------------------------


async def get(client: Any, path: str) -> tuple[float, int, str]:
    """GET ``path``: the client's seconds, the status and the text."""
    started = time.perf_counter()
    async with client.get(path, allow_redirects=False) as answer:
        text = await answer.text()
        return time.perf_counter() - started, answer.status, text


async def log_in(client: Any, name: str) -> None:
    _, _, form = await get(client, "/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "no CSRF token on the login form"
    async with client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
    ) as answer:
        assert answer.status == 303, f"login of {name}: {answer.status}"


async def work(
    client: Any,
    name: str,
    manager: bool,
    customer: str,
    rounds: int,
    pages: tuple[str, ...],
    seen: dict[str, list[tuple[float, int]]],
    think: float = 0.0,
) -> None:
    pause = random.Random(name)  # the same pauses on every run
    for _ in range(rounds):
        for page in pages:
            if page == "dashboard" and not manager:
                continue  # a collector's dashboard is a 403
            if think:
                # a person reads the page before the next click: 0.5 to 1.5 times --think seconds
                await asyncio.sleep(think * pause.uniform(0.5, 1.5))
            path = {"worklist": "/worklist", "customer": f"/customers/{customer}", "dashboard": "/dashboard"}[
                page
            ]
            seconds, status, text = await get(client, path)
            seen[page].append((seconds, status))
            if page == "dashboard" and status == 200:
                for src in re.findall(r'<img src="(/dashboard/charts/[^"]+)"', text):
                    seconds, status, _ = await get(client, src.replace("&amp;", "&"))
                    seen["dashboard chart (SVG)"].append((seconds, status))


async def crowd(
    base: str, users: int, rounds: int, heavy: dict[str, str], pages: tuple[str, ...], think: float = 0.0
) -> dict[str, Any]:
    import aiohttp

    collectors, managers = collector_names(users), manager_names(users)
    people = [(name, False, heavy[name]) for name in collectors] + [
        (name, True, heavy[collectors[k % len(collectors)]]) for k, name in enumerate(managers)
    ]
    clients = [
        aiohttp.ClientSession(
            base_url=base,
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies from 127.0.0.1
            timeout=aiohttp.ClientTimeout(total=300),
        )
        for _ in people
    ]
    try:
        await asyncio.gather(
            *(log_in(client, name) for client, (name, _, _) in zip(clients, people, strict=True))
        )
        # One warm-up round (templates compiled, the snapshot read), then the measured rounds.
        warm: dict[str, list[tuple[float, int]]] = defaultdict(list)
        await asyncio.gather(
            *(work(c, n, m, h, 1, pages, warm) for c, (n, m, h) in zip(clients, people, strict=True))
        )
        await get(clients[0], "/__bench__/times")
        seen: dict[str, list[tuple[float, int]]] = defaultdict(list)
        started = time.perf_counter()
        await asyncio.gather(
            *(
                work(c, n, m, h, rounds, pages, seen, think)
                for c, (n, m, h) in zip(clients, people, strict=True)
            )
        )
        elapsed = time.perf_counter() - started
        server = json.loads((await get(clients[0], "/__bench__/times"))[2])
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    return {"client": seen, "server": server, "elapsed": elapsed}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def report(
    db: str, customers: int, per_customer: int, data: dict[str, Any], result: dict[str, Any], think: float
) -> None:
    pace = f"think {think:g} s between pages" if think else "no pause between pages (saturated)"
    print(
        f"\n{db}, {pace}: {customers} customers, {customers * per_customer} invoices, {data['events']} evidence events; "
        f"load {data['ledger_s']:.0f} s, dashboard stored in {data['dashboard_s']:.1f} s "
        f"(cpu {data['dashboard_cpu']:.1f} s); {result['elapsed']:.1f} s of traffic, load avg {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print(
        f"{'page':<24}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'client p50':>12}{'client p95':>12}  statuses  target"
    )
    for page in (*PAGES, "dashboard chart (SVG)"):
        server = result["server"].get(page, [])
        client = result["client"].get(page, [])
        if not server:
            continue
        statuses = dict(sorted(statistics_count(status for _, status in server).items()))
        ok = [seconds * 1000 for seconds, status in server if status == 200]
        ok_client = [seconds * 1000 for seconds, status in client if status == 200]
        if not ok:
            print(
                f"{page:<24}{len(server):>6}{'-':>9}{'-':>9}{'-':>12}{'-':>12}  {statuses}  (not on this branch)"
            )
            continue
        p95 = percentile(ok, 0.95)
        print(
            f"{page:<24}{len(ok):>6}{percentile(ok, 0.5):>9.1f}{p95:>9.1f}"
            f"{percentile(ok_client, 0.5):>12.1f}{percentile(ok_client, 0.95):>12.1f}  {statuses}  "
            f"{'met' if p95 <= TARGET_MS else 'MISSED'}",
            flush=True,
        )


def statistics_count(values: Any) -> dict[int, int]:
    counted: dict[int, int] = defaultdict(int)
    for value in values:
        counted[value] += 1
    return dict(counted)


def run(db: str, args: argparse.Namespace) -> None:
    import multiprocessing

    postgres = db == "postgres"
    pages = tuple(page for page in args.pages.split(",") if page)
    with tempfile.TemporaryDirectory() as folder:
        if postgres:
            reset_schema(args.pg_url, SCHEMA)
            os.environ["PGOPTIONS"] = f"-csearch_path={SCHEMA}"
            url = args.pg_url
        else:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
        data = load(url, args.customers, args.invoices_per_customer, args.users, postgres)
        port = free_port()
        server = multiprocessing.get_context("spawn").Process(
            target=serve_app, args=(url, port, postgres, str(Path(folder) / "artifacts")), daemon=True
        )
        server.start()
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base)
            for think in args.think:
                result = asyncio.run(crowd(base, args.users, args.rounds, data["heavy"], pages, think))
                report(db, args.customers, args.invoices_per_customer, data, result, think)
        finally:
            server.terminate()
            server.join(10)
        if postgres:
            os.environ.pop("PGOPTIONS", None)


def wait_for(base: str) -> None:
    import urllib.error
    import urllib.request

    for _ in range(300):
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    raise RuntimeError("the console did not start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--invoices-per-customer", type=int, default=10)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--users", type=int, default=20, help="half collectors, half managers")
    parser.add_argument("--rounds", type=int, default=10, help="measured rounds per user")
    parser.add_argument(
        "--pages", default=",".join(PAGES), help="comma-separated: worklist,customer,dashboard"
    )
    parser.add_argument(
        "--think",
        default="2,0",
        help="comma-separated seconds a user reads a page before the next (each run: 0.5-1.5 times it;"
        " 0: no pause, every user clicking as fast as the server answers)",
    )
    parser.add_argument("--pg-url", default=pg_url())
    args = parser.parse_args()
    args.think = [float(value) for value in args.think.split(",") if value.strip()]
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        run(db, args)


if __name__ == "__main__":
    main()
