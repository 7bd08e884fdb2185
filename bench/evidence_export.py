"""Measurement: ``export_pack`` of the case's pack, what `dunbot evidence export --customer ID` runs, in a
fresh process with its CPU and peak memory; and what the pack's compressed bytes are made of.

Not a script: ``bench/evidence.py`` runs it (``.venv/bin/python bench/evidence.py --events 50000`` is a
quick run; see its docstring and bench/README.md).
"""

from __future__ import annotations

import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import cpu_s, peak_mb, profiled, use_schema
from bench.evidence_log import bench_settings
from bench.evidence_render import CASE, business_days


def measure_export(
    url: str, schema: str | None, folder: str, pkcs12: str, out: str, profile: bool, result: Any
) -> None:
    from bot.evidence.pack import export_pack
    from bot.store.engine import make_engine

    use_schema(schema)
    settings = bench_settings(url, Path(folder), Path(pkcs12))
    now = datetime.combine(business_days(1)[0], datetime.min.time(), UTC) + timedelta(days=400)
    started = time.perf_counter()
    cpu = cpu_s()
    # What `dunbot evidence export --customer ID --out pack.zip` runs (bot/cli/evidence.py).
    report = profiled(
        profile,
        lambda: export_pack(
            make_engine(settings.database_url),
            settings,
            customer=CASE,
            invoice=None,
            out=Path(out),
            actor="bench",
            now=now,
        ),
    )
    result.put(
        {
            "s": time.perf_counter() - started,
            "bytes": report.size,
            "events": report.events,
            "artifacts": report.artifacts,
            "tree_size": report.checkpoint.tree_size,
            "cpu": cpu_s() - cpu,
            "mb": peak_mb(),
        }
    )


def pack_composition(path: Path) -> dict[str, int]:
    """Compressed bytes in the pack by part: artifacts, manifest (proofs), events, chronology, rest."""
    parts = {"artifacts": 0, "manifest": 0, "events": 0, "chronology": 0, "other": 0}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename
            part = (
                "artifacts"
                if name.startswith("artifacts/")
                else "events"
                if name.startswith("events/")
                else "manifest"
                if name == "manifest.json"
                else "chronology"
                if name == "chronology.pdf"
                else "other"
            )
            parts[part] += info.compress_size
    return parts
