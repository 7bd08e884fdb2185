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
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from twilio.request_validator import RequestValidator

from tests.support.smtp_server import PASSWORD, USERNAME, SmtpServer
from tests.support.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioServer

SHANGHAI = ZoneInfo("Asia/Shanghai")
STOP_GRACE = 120.0  # TimeoutStopSec of deploy/dunbot.service, stop_grace_period of deploy/compose.yaml
FLAT_MB, FLAT_SHARE, FLAT_SLOPE = 15.0, 0.10, 0.5
SECRETS = {"DUNBOT_SMTP_PASSWORD": PASSWORD, "DUNBOT_TWILIO_TOKEN": AUTH_TOKEN}
CUSTOMER_HEADER = (
    "id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,"
    "payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact"
)
INVOICE_HEADER = "number,customer_id,currency,amount,issue_date,due_date,contract_ref,status"


@dataclass
class Sample:
    at: float  # seconds since the daemon started
    cycles: int  # cycles finished by then
    rss_kb: int
    processes: int
    ready: int | None  # HTTP status of /readyz (None: no answer)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Soak:
    folder: Path
    db_url: str
    web: str
    env: dict[str, str]
    smtp: SmtpServer
    twilio: TwilioServer
    samples: list[Sample] = field(default_factory=list)
    cycle_rss: list[tuple[int, int]] = field(default_factory=list)  # (cycle, RSS in kB right after it)
    cycle_ends: list[float] = field(default_factory=list)
    batches: list[tuple[int, str, float]] = field(default_factory=list)  # (batch, Shanghai date, seconds)
    import_failures: list[str] = field(default_factory=list)
    callbacks: Counter[int] = field(default_factory=Counter)  # HTTP status -> count
    posted: set[str] = field(default_factory=set)  # SMS SIDs that got their callback


# --- setting up ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _dunbot(soak: Soak, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=soak.folder,
        env=soak.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _must(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        raise SystemExit(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def configure(soak: Soak, postgres: bool) -> None:
    """``dunbot init``, then the config edited the way an operator would (as the acceptance tests do)."""
    _must(_dunbot(soak, "init"), "dunbot init")
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
        + f'api_base_url = "{soak.twilio.url}"\nstatus_callback_url = "{_callback_url(soak)}"\n\n'
        + text[sms_end:]
    )
    config.write_text(text, encoding="utf-8")
    if postgres:
        _must(_dunbot(soak, "init"), "dunbot init (PostgreSQL)")
    _must(_dunbot(soak, "check-config", "--connect"), "dunbot check-config --connect")


def _callback_url(soak: Soak) -> str:
    return f"http://{soak.web}/twilio/status"


def import_batch(soak: Soak, batch: int, customers: int, signed: int, started: float) -> None:
    """One batch of new customers and invoices, dated from today in Shanghai."""
    today = datetime.now(SHANGHAI).date()
    soon, overdue = today + timedelta(days=7), today - timedelta(days=15)
    address = "上海市浦东新区世纪大道1号"
    people, bills = [CUSTOMER_HEADER], [INVOICE_HEADER]
    for n in range(customers + signed):
        tier, due = ("cautious", soon) if n < customers else ("cooperative", overdue)
        cid = f"B{batch:03d}C{n:04d}"
        phone = f"+8613{batch % 100:02d}{n:07d}"
        people.append(
            f"{cid},客户{batch:03d}{n:04d}贸易有限公司,,{tier},CN,Asia/Shanghai,zh-CN,"
            f"ap{n}@b{batch:03d}.soak.example.cn,{phone},{address},,30,,,,0,false"
        )
        bills.append(f"B{batch:03d}I{n:04d},{cid},CNY,{1000 + n}.00,{due - timedelta(days=30)},{due},,open")
    for entity, rows in (("customers", people), ("invoices", bills)):
        path = soak.folder / f"{entity}-{batch:03d}.csv"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        result = _dunbot(soak, "import", entity, path.name)
        if result.returncode != 0:
            soak.import_failures.append(f"batch {batch} {entity}: {result.stderr.strip()[-500:]}")
    soak.batches.append((batch, today.isoformat(), time.monotonic() - started))


# --- watching --------------------------------------------------------------------------------------


def _rss(pid: int) -> tuple[int, int]:
    """VmRSS (kB) of ``pid`` and all its descendants, and how many processes that is."""
    total, count, todo = 0, 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        count += 1
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in (task / "children").read_text().split()]
    return total, count


def _hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _get(url: str) -> tuple[int | None, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except OSError as exc:
        return None, str(exc)


def _metrics(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def sample(soak: Soak, pid: int, started: float) -> Sample:
    rss, processes = _rss(pid)
    ready, _ = _get(f"http://{soak.web}/readyz")
    status, text = _get(f"http://{soak.web}/metrics")
    metrics = _metrics(text) if status == 200 else {}
    point = Sample(time.monotonic() - started, len(soak.cycle_ends), rss, processes, ready, metrics)
    soak.samples.append(point)
    return point


class LogTail:
    """Reads the daemon's stderr as it grows: JSON records, and anything else it printed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.records: list[dict[str, Any]] = []
        self.other: list[str] = []

    def read(self) -> list[dict[str, Any]]:
        with self.path.open("rb") as stream:
            stream.seek(self.offset)
            data = stream.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        new = []
        for line in complete.decode("utf-8", "replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict) and "level" in record:
                new.append(record)
            elif line.strip():
                self.other.append(line)
        self.records += new
        return new


def _cycle_finished(record: dict[str, Any]) -> bool:
    """A cycle ended: the scheduler's summary line, its failure line, or APScheduler's job error."""
    logger, message = str(record.get("logger", "")), str(record.get("message", ""))
    if logger == "bot.scheduler" and message.startswith("cycle "):
        return True
    return logger.startswith("apscheduler") and record.get("level") in ("ERROR", "CRITICAL")


def post_callbacks(soak: Soak) -> None:
    """A signed "delivered" report for every SMS the server accepted that has not had one."""
    url = _callback_url(soak)
    validator = RequestValidator(AUTH_TOKEN)
    for request in soak.twilio.accepted:
        if request.resource != "Messages" or request.sid is None or request.sid in soak.posted:
            continue
        params = {
            "AccountSid": ACCOUNT_SID,
            "MessageSid": request.sid,
            "SmsSid": request.sid,
            "MessageStatus": "delivered",
            "SmsStatus": "delivered",
            "To": request.form.get("To", ""),
            "From": request.form.get("From", ""),
            "ApiVersion": "2010-04-01",
        }
        body = urllib.parse.urlencode(params).encode()
        post = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": validator.compute_signature(url, params),
            },
        )
        try:
            with urllib.request.urlopen(post, timeout=10) as response:
                soak.callbacks[response.status] += 1
        except urllib.error.HTTPError as exc:
            soak.callbacks[exc.code] += 1
        except OSError:
            soak.callbacks[0] += 1
        soak.posted.add(request.sid)


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
            finished = sum(_cycle_finished(record) for record in tail.read())
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
            hwm = max(hwm, _hwm(daemon.pid))
            time.sleep(0.25)
        time.sleep(2)
        if daemon.poll() is None:
            last = sample(soak, daemon.pid, started)
            hwm = max(hwm, _hwm(daemon.pid))
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


# --- the report ------------------------------------------------------------------------------------


def _slope(points: list[tuple[int, int]]) -> float | None:
    """Least-squares MB per cycle."""
    if len(points) < 2:
        return None
    xs, ys = [float(x) for x, _ in points], [y / 1024 for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else None


def _database(soak: Soak) -> dict[str, Any]:
    from bot.store.engine import make_engine

    engine = make_engine(soak.db_url)
    try:
        with engine.connect() as connection:
            cycles = connection.exec_driver_sql(
                "SELECT ok, messages_sent, messages_failed, messages_unknown, error, started_at, finished_at "
                "FROM cycle_run ORDER BY id"
            ).all()
            messages = connection.exec_driver_sql(
                "SELECT channel, state, count(*) FROM message GROUP BY channel, state"
            ).all()
            tasks = connection.exec_driver_sql(
                "SELECT kind, status, count(*) FROM task GROUP BY kind, status"
            ).all()
            notices = connection.exec_driver_sql("SELECT count(*) FROM notice").scalar_one()
            in_flight = connection.exec_driver_sql(
                "SELECT count(*) FROM message WHERE state IN ('claimed', 'sending')"
            ).scalar_one()
    finally:
        engine.dispose()

    def seconds(value: Any) -> float:
        return value.timestamp() if isinstance(value, datetime) else datetime.fromisoformat(value).timestamp()

    return {
        "cycles": [
            {
                "ok": bool(row[0]),
                "sent": row[1],
                "failed": row[2],
                "unknown": row[3],
                "error": row[4],
                "seconds": round(seconds(row[6]) - seconds(row[5]), 2),
            }
            for row in cycles
        ],
        "messages": {f"{channel}/{state}": count for channel, state, count in messages},
        "tasks": {f"{kind}/{status}": count for kind, status, count in tasks},
        "notices": notices,
        "in_flight": in_flight,
    }


def report(soak: Soak, args: argparse.Namespace, outcome: dict[str, Any], loads: list[str]) -> bool:
    tail: LogTail = outcome["tail"]
    levels = Counter(str(record.get("level")) for record in tail.records)
    errors = [r for r in tail.records if r.get("level") in ("ERROR", "CRITICAL")]
    warnings = [r for r in tail.records if r.get("level") == "WARNING"]
    known_other = ("dunbot running (pid", "dunbot stopped")
    other = [line for line in tail.other if not line.startswith(known_other)]
    db = _database(soak)
    verify = _dunbot(soak, "evidence", "verify", "--db", timeout=600)

    emails = soak.smtp.received
    message_ids = Counter(received.message_id for received in emails)
    with_pdf = sum(
        any(part.get_content_type() == "application/pdf" for part in received.parsed.walk())
        for received in emails
    )
    sms_requests = [r for r in soak.twilio.requests if r.resource == "Messages"]
    keys = Counter(r.key for r in sms_requests)
    letters = db["messages"].get("letter/sent", 0)
    expected_per_batch = {"email": args.customers + args.signed, "sms": args.customers, "letter": args.signed}
    batches_sent = min(len(soak.batches), args.minutes)  # not the extra one of --stop-during-cycle

    after_first = [s for s in soak.samples if s.cycles >= 1]
    before_first = [s for s in soak.samples if s.cycles == 0 and s.rss_kb > 0]
    start_kb = soak.cycle_rss[0][1] if soak.cycle_rss else 0
    end_kb = soak.samples[-1].rss_kb if soak.samples else 0
    max_kb = max((s.rss_kb for s in soak.samples), default=0)
    half = [p for p in soak.cycle_rss if p[0] > len(soak.cycle_rss) / 2]
    slope = _slope(half) if len(half) >= 3 else None  # too few cycles (quick mode): not judged
    growth_mb = (end_kb - start_kb) / 1024
    allowed_mb = max(FLAT_MB, FLAT_SHARE * start_kb / 1024)
    ready_codes = Counter(s.ready for s in after_first)
    unknown = max((s.metrics.get("dunbot_messages_unknown", 0.0) for s in soak.samples), default=0.0)
    last_ok = [s.metrics.get("dunbot_last_cycle_ok") for s in after_first]

    cycles = db["cycles"]
    durations = sorted(c["seconds"] for c in cycles)
    verdicts = {
        "cycles": len(cycles) >= args.minutes and all(c["ok"] for c in cycles),
        "every cycle sent its batch": bool(cycles)
        and all(c["sent"] == args.customers * 2 + args.signed * 2 for c in cycles[:batches_sent]),
        "nothing twice": all(n == 1 for n in message_ids.values()) and all(n == 1 for n in keys.values()),
        "memory flat": bool(soak.cycle_rss)
        and growth_mb <= allowed_mb
        and (slope is None or slope <= FLAT_SLOPE),
        "no error logs": not errors and not other,
        "readyz 200 after the first cycle": bool(after_first) and set(ready_codes) == {200},
        "clean stop": outcome["exit_code"] == 0
        and not outcome["crashed_before_sigterm"]
        and db["in_flight"] == 0,
        "imports": not soak.import_failures,
        "evidence verify --db": verify.returncode == 0,
    }

    print()
    print(f"soak: {args.minutes} cycles wanted, database {args.db}, folder {soak.folder}")
    print(f"load average (1, 5, 15 min) at start {loads[0]}, at the end {loads[1]}; {os.cpu_count()} CPUs")
    print(
        f"batches imported: {len(soak.batches)} × ({args.customers} cautious + {args.signed} cooperative signed)"
    )
    print(f"run: {outcome['elapsed']:.0f} s of daemon; samples: {len(soak.samples)}")
    print(
        f"cycles (cycle_run rows): {len(cycles)}, ok: {sum(c['ok'] for c in cycles)}; "
        f"sent per cycle: {[c['sent'] for c in cycles]}; "
        f"duration min/median/max {durations[0] if durations else 0:.1f} / "
        f"{durations[len(durations) // 2] if durations else 0:.1f} / {durations[-1] if durations else 0:.1f} s"
    )
    print(f"messages by channel/state: {dict(sorted(db['messages'].items()))}")
    print(
        f"expected sent by the first {batches_sent} cycles: "
        f"{ {k: v * batches_sent for k, v in expected_per_batch.items()} }"
    )
    print(
        f"tasks by kind/status: {dict(sorted(db['tasks'].items()))}; signed notices: {db['notices']}; "
        f"left claimed or sending: {db['in_flight']}"
    )
    print(
        f"SMTP server: {len(emails)} e-mails, {len(message_ids)} distinct Message-IDs, "
        f"{sum(n > 1 for n in message_ids.values())} duplicated, {with_pdf} with a PDF"
    )
    print(
        f"Twilio server: {len(sms_requests)} SMS requests, "
        f"{sum(r.accepted for r in sms_requests)} accepted, {len(keys)} distinct request keys, "
        f"{sum(n > 1 for n in keys.values())} duplicated"
    )
    print(f"letters queued: {letters}; status callbacks posted: {dict(soak.callbacks)}")
    print(
        f"RSS: before the first cycle {before_first[-1].rss_kb / 1024 if before_first else 0:.1f} MB, "
        f"after it (start) {start_kb / 1024:.1f} MB, end {end_kb / 1024:.1f} MB, "
        f"max sampled {max_kb / 1024:.1f} MB, VmHWM {outcome['hwm_kb'] / 1024:.1f} MB; "
        f"end − start {growth_mb:+.1f} MB (allowed {allowed_mb:.1f})"
    )
    print(f"RSS after each cycle (MB): {[round(kb / 1024, 1) for _, kb in soak.cycle_rss]}")
    print(
        "slope over cycles "
        + (
            f"{half[0][0]}–{half[-1][0]}: {slope:+.3f} MB per cycle"
            if slope is not None
            else "n/a (fewer than 3 cycles in the second half)"
        )
        + f" (allowed {FLAT_SLOPE})"
    )
    print(f"processes sampled (daemon + children): {sorted({s.processes for s in soak.samples})}")
    print(
        f"/readyz after the first cycle: {dict(ready_codes)}; before it: "
        f"{dict(Counter(s.ready for s in before_first))}; dunbot_messages_unknown max {unknown:.0f}; "
        f"dunbot_last_cycle_ok: {sorted({v for v in last_ok if v is not None})}"
    )
    print(f"log lines by level: {dict(levels)}; other stderr lines: {len(other)}")
    for record in (errors + warnings)[:8]:
        print(f"  {json.dumps(record, ensure_ascii=False)[:600]}")
    for line in other[:8]:
        print(f"  (not JSON) {line[:300]}")
    for failure in soak.import_failures[:5]:
        print(f"  import failed: {failure}")
    code, stop = outcome["exit_code"], outcome["stop_seconds"]
    print(f"SIGTERM: exit code {code} after {stop:.1f} s (grace {STOP_GRACE:.0f} s)")
    print(f"dunbot evidence verify --db: exit {verify.returncode}: {verify.stdout.strip()[-300:]}")
    print("verdicts: " + "; ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in verdicts.items()))

    if args.json:
        document = {
            "args": vars(args),
            "loads": loads,
            "database": db,
            "samples": [s.__dict__ for s in soak.samples],
            "cycle_rss_kb": soak.cycle_rss,
            "batches": soak.batches,
            "emails": len(emails),
            "sms": len(sms_requests),
            "levels": levels,
            "errors": errors,
            "warnings": warnings,
            "other": other,
            "exit_code": code,
            "stop_seconds": stop,
            "slope_mb_per_cycle": slope,
            "verdicts": verdicts,
        }
        Path(args.json).write_text(json.dumps(document, ensure_ascii=False, indent=1, default=str))
    return all(verdicts.values())


# --- main ------------------------------------------------------------------------------------------


def _postgres_schema() -> tuple[str, str, sa.Engine]:
    from bot.store.engine import make_engine, normalise_url

    base = normalise_url(
        os.environ.get("DUNBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
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
    soak = Soak(folder, db_url, f"127.0.0.1:{_free_port()}", env, smtp, twilio)
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
