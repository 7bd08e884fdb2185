"""Measurement: ``verify --db`` on the large log, what `dunbot evidence verify --db` runs — every event,
every artifact named, every checkpoint's signature and root, consistency — in a fresh process, with
its CPU (worker processes included) and peak memory (the parent plus each worker at the largest
one's peak, an upper bound).

Not a script: ``bench/evidence.py`` runs it (``.venv/bin/python bench/evidence.py --events 50000`` is a
quick run; see its docstring and bench/README.md).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from bench.common import cpu_s, peak_mb, profiled, use_schema, workers_peak_mb
from bench.evidence_log import bench_settings


def _verify_workers(events: int) -> int:
    from bot.evidence.service import PARALLEL_FROM

    return len(os.sched_getaffinity(0)) if events >= PARALLEL_FROM else 0


def measure_verify_db(
    url: str, schema: str | None, folder: str, pkcs12: str, profile: bool, result: Any
) -> None:
    from bot.evidence.anchors import database_anchor
    from bot.evidence.service import verify_database
    from bot.store.engine import make_engine

    use_schema(schema)
    settings = bench_settings(url, Path(folder), Path(pkcs12))
    started = time.perf_counter()
    cpu = cpu_s()
    # What `dunbot evidence verify --db` runs (bot/cli/evidence.py): the company certificate as the
    # signers' anchor, the configured witness.
    anchor, unanchored_why = database_anchor(settings, ())
    report = profiled(
        profile,
        lambda: verify_database(
            make_engine(settings.database_url),
            settings.path(settings.evidence.artifact_dir),
            trust=anchor or (),
            witness=settings.witness_dir,
            unanchored_why=unanchored_why,
        ),
    )
    elapsed = time.perf_counter() - started
    problems = [f"{p.item}: {p.message}" for p in report.all_problems[:3]]
    result.put(
        {
            "s": elapsed,
            "ok": report.ok,
            "events": report.log.events_checked,
            "artifacts": report.log.artifacts_checked,
            "checkpoints": report.checkpoints_checked,
            "problems": problems,
            "cpu": cpu_s() - cpu,
            # The parent and, for each worker process, the largest one's peak (an upper bound).
            "mb": peak_mb() + _verify_workers(report.log.events_checked) * workers_peak_mb(),
            "workers": _verify_workers(report.log.events_checked),
        }
    )
