"""The daemon under a cycle a minute for ten minutes: flat memory, no error logs, a clean stop (issue 6).

    .venv/bin/python bench/soak.py [--minutes 10] [--customers 50] [--signed 5] [--db sqlite|postgres]
                                   [--interval 10] [--keep DIR] [--json FILE]

A fresh folder gets ``dunbot init`` and a config pointed at a local SMTP server (aiosmtpd, STARTTLS
and AUTH, ``ca_file`` = its certificate) and a local Twilio-compatible server (``api_base_url``), a
cycle every minute (``* * * * *``), an all-day contact window, JSON logs, a free ``[web] listen`` port
and the secrets in environment variables. ``dunbot run`` is then started as a subprocess and watched:

* **workload** — batch 0 is imported before the daemon starts, batch k right after cycle k finished
  (so before the next tick): ``--customers`` cautious customers with an invoice due 7 days after
  today in Asia/Shanghai (pre_due_reminder: an e-mail and an SMS each) and ``--signed`` cooperative
  customers 15 days overdue (formal_notice: an e-mail with a PAdES-signed PDF, and the letter), each
  batch with its own ids, through ``dunbot import``. After every cycle each SMS the server accepted
  gets a signed "delivered" status callback on ``POST /twilio/status``;
* **every ``--interval`` seconds** — the RSS of the daemon and its children (``/proc/<pid>/status``
  VmRSS), ``/readyz`` and ``/metrics`` (parsed with ``prometheus_client``); RSS also right after each
  cycle, which is what the slope is fitted to;
* **the end** — after ``--minutes`` cycles, SIGTERM, which must exit 0 within the 120 s stop grace of
  ``deploy/dunbot.service`` (``TimeoutStopSec``) and of the compose file; then the ``cycle_run`` rows,
  the messages by channel and state, what the servers received (no Message-ID and no request key
  twice), the log lines by level and ``dunbot evidence verify --db``.

Memory is judged flat when RSS at the end is at most max(15 MB, 10 %) above RSS after the first cycle
(the first cycle loads the templates, the PDF and signing stack and the fonts) and the slope over the
second half of the cycles is at most 0.5 MB per cycle. The exit status is 0 when every verdict holds.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from bench.common import free_port, pg_url
from bench.ledgers import LedgerSpec, Segment, customer_csv, generate, invoice_csv
from bench.soak_report import report
from bench.soak_watch import (
    SECRETS,
    STOP_GRACE,
    LogTail,
    Soak,
    callback_url,
    cycle_finished,
    must,
    post_callbacks,
    run_dunbot,
    sample,
    vm_hwm_kb,
)
from tests.support.smtp_server import USERNAME, SmtpServer
from tests.support.twilio_server import ACCOUNT_SID, TwilioServer

SHANGHAI = ZoneInfo("Asia/Shanghai")


# --- setting up ------------------------------------------------------------------------------------


def configure(soak: Soak, postgres: bool) -> None:
    """``dunbot init``, then the config edited the way an operator would (as the acceptance tests do)."""
    must(run_dunbot(soak, "init"), "dunbot init")
    config = soak.folder / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    replacements = {
        'transport = "file"                      # "smtp" sends': 'transport = "smtp"                      # "smtp" sends',
        'host = "localhost"': 'host = "127.0.0.1"',
        "port = 587": f"port = {soak.smtp.port}",
        '# username = "dunbot"': f'username = "{USERNAME}"',
        '# password_env = "DUNBOT_SMTP_PASSWORD"': 'password_env = "DUNBOT_SMTP_PASSWORD"',
        '# ca_file = "company-ca.pem"': f'ca_file = "{soak.smtp.cert_path}"',
        'cron = "0 9 * * 1-5"': 'cron = "* * * * *"',
        'window = "08:00-20:00"': 'window = "00:00-23:59"',
        'format = "text"': 'format = "json"',
        'listen = "127.0.0.1:8080"': f'listen = "{soak.web}"',
    }
    if postgres:
        replacements['url = "sqlite:///dunbot.db"'] = f'url = "{soak.db_url}"'
    for old, new in replacements.items():
        if old not in text:
            raise SystemExit(f"the example config has changed: {old!r} not found")
        text = text.replace(old, new, 1)
    sms_start, sms_end = text.index("[sms]"), text.index("[voice]")
    text = (
        text[:sms_start]
        + f'[sms]\ntransport = "twilio"\naccount_sid = "{ACCOUNT_SID}"\n'
        + 'auth_token_env = "DUNBOT_TWILIO_TOKEN"\nfrom_number = "+15005550006"\n'
        + f'api_base_url = "{soak.twilio.url}"\nstatus_callback_url = "{callback_url(soak)}"\n\n'
        + text[sms_end:]
    )
    config.write_text(text, encoding="utf-8")
    if postgres:
        must(run_dunbot(soak, "init"), "dunbot init (PostgreSQL)")
    must(run_dunbot(soak, "check-config", "--connect"), "dunbot check-config --connect")


def batch_spec(batch: int, customers: int, signed: int, today: date) -> LedgerSpec:
    """Batch ``batch``'s ledger, with its own ids: ``customers`` cautious customers with an invoice due
    in 7 days, then ``signed`` cooperative ones 15 days overdue, one invoice each (1,000.00 and up)."""
    return LedgerSpec(
        segments=(Segment(customers, "cautious", -7), Segment(signed, "cooperative", 15)),
        as_of=today,
        customer_id=f"B{batch:03d}C{{n:04d}}",
        name=f"客户{batch:03d}{{n:04d}}贸易有限公司",
        email=f"ap{{n}}@b{batch:03d}.soak.example.cn",
        phone=f"+8613{batch % 100:02d}{{n:07d}}",
        address="上海市浦东新区世纪大道1号",
        invoice_number=f"B{batch:03d}I{{n:04d}}",
        amount=1000,
        amount_step=1,
    )


def import_batch(soak: Soak, batch: int, customers: int, signed: int, started: float) -> None:
    """One batch of new customers and invoices, dated from today in Shanghai."""
    today = datetime.now(SHANGHAI).date()
    ledger = generate(batch_spec(batch, customers, signed, today))
    for entity, text in (
        ("customers", customer_csv(ledger.customers)),
        ("invoices", invoice_csv(ledger.invoices)),
    ):
        path = soak.folder / f"{entity}-{batch:03d}.csv"
        path.write_text(text, encoding="utf-8")
        result = run_dunbot(soak, "import", entity, path.name)
        if result.returncode != 0:
            soak.import_failures.append(f"batch {batch} {entity}: {result.stderr.strip()[-500:]}")
    soak.batches.append((batch, today.isoformat(), time.monotonic() - started))


# --- the run ---------------------------------------------------------------------------------------


def run(soak: Soak, args: argparse.Namespace) -> dict[str, Any]:
    log_path = soak.folder / "daemon.log"
    started = time.monotonic()
    import_batch(soak, 0, args.customers, args.signed, started)
    with log_path.open("wb") as stderr, (soak.folder / "daemon.out").open("wb") as stdout:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=soak.folder, env=soak.env, stdout=stdout, stderr=stderr
        )
    started = time.monotonic()
    tail = LogTail(log_path)
    deadline = started + (args.minutes + 2) * 60  # the first tick comes within a minute; one to spare
    next_sample = started
    hwm = 0
    try:
        while len(soak.cycle_ends) < args.minutes and time.monotonic() < deadline:
            if daemon.poll() is not None:
                break
            finished = sum(cycle_finished(record) for record in tail.read())
            for _ in range(finished):
                soak.cycle_ends.append(time.monotonic() - started)
                cycle = len(soak.cycle_ends)
                point = sample(soak, daemon.pid, started)
                soak.cycle_rss.append((cycle, point.rss_kb))
                print(f"  cycle {cycle:>3} done at {point.at:6.0f} s: RSS {point.rss_kb / 1024:6.1f} MB")
                post_callbacks(soak)
                if cycle < args.minutes:
                    import_batch(soak, cycle, args.customers, args.signed, started)
                next_sample = time.monotonic() + args.interval
            if time.monotonic() >= next_sample:
                sample(soak, daemon.pid, started)
                next_sample += args.interval
            hwm = max(hwm, vm_hwm_kb(daemon.pid))
            time.sleep(0.25)
        time.sleep(2)
        if daemon.poll() is None:
            last = sample(soak, daemon.pid, started)
            hwm = max(hwm, vm_hwm_kb(daemon.pid))
            print(f"  end at {last.at:6.0f} s: RSS {last.rss_kb / 1024:6.1f} MB")
        if args.stop_during_cycle and daemon.poll() is None:
            # One more batch, and SIGTERM once the next cycle has sent its first messages.
            import_batch(soak, len(soak.cycle_ends), args.customers, args.signed, started)
            before = len(soak.smtp.received) + len(soak.twilio.requests)
            limit = time.monotonic() + 90
            while time.monotonic() < limit and daemon.poll() is None:
                if len(soak.smtp.received) + len(soak.twilio.requests) > before:
                    break
                time.sleep(0.05)
            print(f"  SIGTERM during cycle {len(soak.cycle_ends) + 1}")
        else:
            print("  SIGTERM while idle")
        stop_started = time.monotonic()
        crashed = daemon.poll() is not None
        if not crashed:
            daemon.send_signal(signal.SIGTERM)
        try:
            code: int | None = daemon.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            code = None
            daemon.kill()
            daemon.wait()
        stop_seconds = time.monotonic() - stop_started
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    tail.read()
    return {
        "exit_code": code,
        "crashed_before_sigterm": crashed,
        "stop_seconds": stop_seconds,
        "hwm_kb": hwm,
        "tail": tail,
        "elapsed": time.monotonic() - started,
    }


# --- main ------------------------------------------------------------------------------------------


def _postgres_schema() -> tuple[str, str, sa.Engine]:
    from bot.store.engine import make_engine, normalise_url

    base = normalise_url(pg_url())
    schema = f"soak_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}", schema, admin


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=int, default=10, help="cycles to watch (one a minute); 2 to try it")
    parser.add_argument(
        "--customers", type=int, default=50, help="cautious customers per batch (e-mail + SMS)"
    )
    parser.add_argument(
        "--signed", type=int, default=5, help="cooperative customers per batch (signed notice)"
    )
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--stop-during-cycle",
        action="store_true",
        help="import one more batch and send SIGTERM while the next cycle is sending it",
    )
    parser.add_argument("--keep", help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    now = datetime.now(SHANGHAI)
    end = now + timedelta(minutes=args.minutes + 2)
    if end.date() != now.date() or (end.hour, end.minute) >= (23, 59):
        print(f"warning: the run crosses midnight in Asia/Shanghai ({now:%H:%M} now); the dates will shift")
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # the test server's aiosmtpd deprecation notes
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dunbot-soak-"))
    folder.mkdir(parents=True, exist_ok=True)
    smtp, twilio = SmtpServer().start(), TwilioServer().start()
    admin: sa.Engine | None = None
    schema = ""
    if args.db == "postgres":
        db_url, schema, admin = _postgres_schema()
    else:
        db_url = f"sqlite:///{folder / 'dunbot.db'}"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder), "COLUMNS": "200", **SECRETS}
    soak = Soak(folder, db_url, f"127.0.0.1:{free_port()}", env, smtp, twilio)
    ok = False
    try:
        configure(soak, args.db == "postgres")
        loads = [_loadavg()]
        print(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC: the daemon starts; web on {soak.web}")
        outcome = run(soak, args)
        loads.append(_loadavg())
        ok = report(soak, args, outcome, loads)
    finally:
        smtp.stop()
        twilio.stop()
        if admin is not None:
            with admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
