"""The soak's report: the ``cycle_run`` rows and messages in the database, what the servers received,
the RSS readings and their slope, the log lines by level, ``dunbot evidence verify --db``, and the
verdicts (all must hold for exit status 0).

Not a script: ``bench/soak.py`` runs it (``.venv/bin/python bench/soak.py --minutes 2`` is a quick
run; see its docstring and bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.soak_watch import FLAT_MB, FLAT_SHARE, FLAT_SLOPE, STOP_GRACE, LogTail, Soak, run_dunbot


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
    verify = run_dunbot(soak, "evidence", "verify", "--db", timeout=600)

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
