"""Replies end to end: a real IMAP mailbox fetched, every reply recorded, parsed, matched, classified
and acted on, in one run (issue 20).

    .venv/bin/python bench/inbound.py [--replies 10000] [--db sqlite|postgres|both] [--batch-size 200]
                                      [--profile] [--keep DIR] [--json]

It starts a local Dovecot (``tests/support/imap_server.py``), generates a ledger of one customer per
reply (two open invoices each, ``bench/ledgers.py``) and APPENDs ``--replies`` replies in the mix of
``bench/reply_mix.py`` (zh and en: promises with a date, disputes, paid claims, opt-outs,
out-of-office replies, strangers' replies a collector must confirm), each from its customer's
address. None of that is timed. Then, in a fresh child process (its peak RSS is the measurement's):

* **fetch** — :func:`bot.replies.fetch.fetch_pass`, what ``dunbot inbound poll`` does first: every
  message fetched, stored as an artifact, recorded (``inbound_message``), moved to the processed folder;
* **handle** — :func:`bot.replies.handling.handle_pending`, what it does next: every reply read back,
  parsed, matched (by sender), classified and acted on (promise, dispute, opt-out, pause and task,
  with their evidence events), or given to a collector;

and, beside them, a **bare** loop on a mailbox of its own holding the same messages: IMAP FETCH of
the raw messages in batches of ``--batch-size`` and a MOVE of each batch, nothing stored — the least
any fetch must do. Replies per second are given for each, and end to end (fetch + handle). Every run
checks what the handling did against the mix (acted on, to confirm, promise and dispute events).
Target: ≥ 200 replies/s end to end. ``--db`` defaults to SQLite, and PostgreSQL too when
``DUNBOT_BENCH_POSTGRES_URL`` or ``DUNBOT_TEST_POSTGRES_URL`` is set (in the schema ``bench_inbound``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DEFAULT_PG_URL, child, cpu_s, peak_mb, profiled, reset_schema, use_schema
from bench.ledgers import LedgerSpec, Segment, generate, insert_rows
from bench.reply_mix import Customer, MixedReply, mixed_replies
from tests.support.imap_server import ImapServer, Mailbox

AS_OF = date(2026, 12, 1)  # the ledger's date: every invoice 10 to 60 days overdue
PASSWORD_ENV = "DUNBOT_BENCH_IMAP_PASSWORD"
SCHEMA = "bench_inbound"
TARGET = 200.0  # replies per second, end to end


def ledger_spec(replies: int) -> LedgerSpec:
    """One customer per reply, two open invoices each."""
    return LedgerSpec(
        segments=(Segment(replies, days_overdue=(10, 60)),),
        as_of=AS_OF,
        invoices_per_customer=2,
        customer_id="C{n:06d}",
        name="客户{n:06d}贸易有限公司",
        email="ap{n}@customer{n}.com.cn",
        invoice_number="INV-{n:06d}-{i}",
    )


def replies_of(replies: int) -> list[MixedReply]:
    ledger = generate(ledger_spec(replies))
    first = {}
    for row in ledger.invoices:
        first.setdefault(row.customer_id, row.number)
    customers = [Customer(c.id, c.name, str(c.email), first[c.id]) for c in ledger.customers]
    return mixed_replies(customers, replies)


def _settings(folder: Path, box: Mailbox, batch_size: int) -> Any:
    from bot.config import EvidenceSettings, Settings
    from bot.config.sections import InboundSettings

    return Settings(
        evidence=EvidenceSettings(artifact_dir=str(folder / "artifacts")),
        inbound=InboundSettings(
            imap_host="127.0.0.1",
            imap_port=box.tls_port,
            ca_file=str(box.ca_file),
            username=box.username,
            password_env=PASSWORD_ENV,
            batch_size=batch_size,
        ),
        base_dir=folder,
    )


def _prepare_database(url: str, replies: int) -> None:
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        insert_rows(connection, generate(ledger_spec(replies)))
    engine.dispose()


def _measure(url: str, folder: str, box: Mailbox, batch_size: int, profile: bool, result: Any) -> None:
    """In a fresh process: one fetch pass, then one handling pass, each timed."""
    from bot.replies.fetch import fetch_pass
    from bot.replies.handling import handle_pending
    from bot.store.engine import make_engine

    settings = _settings(Path(folder), box, batch_size)
    engine = make_engine(url)
    started, cpu = time.perf_counter(), cpu_s()
    report = profiled(profile, lambda: fetch_pass(engine, settings, datetime.now(UTC)))
    fetched, fetch_cpu = time.perf_counter(), cpu_s()
    summary = profiled(profile, lambda: handle_pending(engine, settings, datetime.now(UTC), owner="bench"))
    handled, handle_cpu = time.perf_counter(), cpu_s()
    engine.dispose()
    result.put(
        {
            "recorded": report.recorded,
            "moved": report.moved,
            "fetch_s": fetched - started,
            "handle_s": handled - fetched,
            "fetch_cpu_s": fetch_cpu - cpu,
            "handle_cpu_s": handle_cpu - fetch_cpu,
            "handled": summary.as_json(),
            "peak_mb": peak_mb(),
        }
    )


def _bare(server: ImapServer, box: Mailbox, count: int, batch_size: int) -> float:
    """FETCH every message's raw bytes in batches and MOVE each batch: the least a fetch must do."""
    from imapclient import IMAPClient

    started = time.perf_counter()
    context = ssl.create_default_context(cafile=str(box.ca_file))
    client = IMAPClient("127.0.0.1", port=box.tls_port, ssl=True, ssl_context=context, timeout=60)
    client.login(box.username, box.password)
    client.create_folder("processed")
    client.select_folder("INBOX")
    uids = client.search("ALL")
    fetched = 0
    for start in range(0, len(uids), batch_size):
        batch = uids[start : start + batch_size]
        fetched += sum(len(data[b"RFC822"]) > 0 for data in client.fetch(batch, ["RFC822"]).values())
        client.move(batch, "processed")
    client.logout()
    elapsed = time.perf_counter() - started
    assert fetched == count, (fetched, count)
    return elapsed


def _check(url: str, mix: list[MixedReply], measured: dict[str, Any]) -> None:
    """What the handling did is what the mix asks: a run that acted wrongly is no figure."""
    from bot.store import tables
    from bot.store.engine import make_engine

    kinds = Counter(one.kind for one in mix)
    strangers = kinds["stranger"]
    handled = measured["handled"]
    assert measured["recorded"] == len(mix) == measured["moved"], measured
    assert handled["acted_on"] == len(mix) - strangers and handled["to_confirm"] == strangers, handled
    event_t = tables.EvidenceEvent.__table__  # type: ignore[attr-defined]
    engine = make_engine(url)
    with engine.connect() as connection:
        events = Counter(
            dict(
                connection.execute(sa.select(event_t.c.kind, sa.func.count()).group_by(event_t.c.kind)).all()
            )
        )
    engine.dispose()
    # Two invoices a customer: a promise and a dispute on each; one opt-out per opt-out.
    assert events["promise"] == 2 * kinds["promise"], events
    assert events["dispute"] == 2 * kinds["dispute"], events
    assert events["opt_out"] == kinds["opt-out"], events
    assert events["reply_received"] == len(mix) and events["reply_acted"] == len(mix) - strangers, events


def deliver(server: ImapServer, box: Mailbox, mix: list[MixedReply]) -> None:
    """The replies into ``box``'s INBOX, a thousand a MULTIAPPEND (RFC 3502): one APPEND each is
    minutes for 10,000."""
    client = server.client(box)
    try:
        for start in range(0, len(mix), 1000):
            client.multiappend("INBOX", [one.raw for one in mix[start : start + 1000]])
    finally:
        client.logout()


def run(
    database: str, url: str, server: ImapServer, mix: list[MixedReply], args: Any, folder: Path
) -> dict[str, Any]:
    box = server.new_user()
    append_started = time.perf_counter()
    deliver(server, box, mix)
    append_s = time.perf_counter() - append_started
    _prepare_database(url, len(mix))
    measured = child(_measure, url, str(folder), box, args.batch_size, args.profile)
    _check(url, mix, measured)
    load = os.getloadavg()[0]
    n = len(mix)
    return {
        "database": database,
        "replies": n,
        "append_s": append_s,
        **measured,
        "fetch_per_s": n / measured["fetch_s"],
        "handle_per_s": n / measured["handle_s"],
        "end_to_end_per_s": n / (measured["fetch_s"] + measured["handle_s"]),
        "load": load,
    }


def _databases(choice: str | None) -> list[tuple[str, str | None]]:
    postgres = os.environ.get("DUNBOT_BENCH_POSTGRES_URL") or os.environ.get("DUNBOT_TEST_POSTGRES_URL")
    if choice is None:
        choice = "both" if postgres else "sqlite"
    chosen: list[tuple[str, str | None]] = []
    if choice in ("sqlite", "both"):
        chosen.append(("sqlite", None))
    if choice in ("postgres", "both"):
        chosen.append(("postgresql", postgres or DEFAULT_PG_URL))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replies", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default=None)
    parser.add_argument("--batch-size", type=int, default=200, help="[inbound] batch_size (the default)")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile fetch and handle (top functions to stderr)"
    )
    parser.add_argument("--keep", type=Path, help="leave the folders (artifacts, SQLite database) here")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    os.environ[PASSWORD_ENV] = "unused"  # set below to the server's password
    mix = replies_of(args.replies)
    server = ImapServer().start()
    results = []
    base = Path(tempfile.mkdtemp(prefix="dunbot-bench-inbound-")) if args.keep is None else args.keep
    try:
        bare_box = server.new_user()
        os.environ[PASSWORD_ENV] = bare_box.password
        deliver(server, bare_box, mix)
        bare_s = _bare(server, bare_box, len(mix), args.batch_size)
        for database, url in _databases(args.db):
            folder = base / database
            folder.mkdir(parents=True, exist_ok=True)
            if url is None:
                url = f"sqlite:///{folder / 'bench.db'}"
            else:
                reset_schema(url, SCHEMA)
                use_schema(SCHEMA)
            results.append(run(database, url, server, mix, args, folder))
            use_schema(None)
    finally:
        server.stop()
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    languages = Counter(one.language for one in mix)
    if args.json:
        print(json.dumps({"bare_fetch_s": bare_s, "languages": languages, "results": results}, indent=2))
        return
    n = len(mix)
    print(
        f"{n} replies ({languages['zh']} zh, {languages['en']} en; {dict(Counter(one.kind for one in mix))}); "
        f"bare IMAP fetch+move: {bare_s:.1f} s, {n / bare_s:.0f}/s"
    )
    print(
        f"{'database':<11}{'fetch s':>8}{'fetch/s':>9}{'handle s':>9}{'handle/s':>9}{'e2e/s':>7}"
        f"{'CPU s':>7}{'peak MB':>8}{'load':>6}  target ≥ {TARGET:.0f}/s end to end"
    )
    for r in results:
        verdict = "met" if r["end_to_end_per_s"] >= TARGET else "MISSED"
        print(
            f"{r['database']:<11}{r['fetch_s']:>8.1f}{r['fetch_per_s']:>9.0f}{r['handle_s']:>9.1f}"
            f"{r['handle_per_s']:>9.0f}{r['end_to_end_per_s']:>7.0f}"
            f"{r['fetch_cpu_s'] + r['handle_cpu_s']:>7.1f}{r['peak_mb']:>8.0f}{r['load']:>6.1f}  {verdict} "
            f"(acted on {r['handled']['acted_on']}, to confirm {r['handled']['to_confirm']})",
            flush=True,
        )


if __name__ == "__main__":
    main()
