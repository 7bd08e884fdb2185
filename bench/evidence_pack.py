"""Measurement: ``verify_pack`` of an exported pack (it must be ok), what `dunbot evidence verify
pack.zip` runs, in a fresh process with its CPU and peak memory.

Not a script: ``bench/evidence.py`` runs it (``.venv/bin/python bench/evidence.py --events 50000`` is a
quick run; see its docstring and bench/README.md).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.common import cpu_s, peak_mb, profiled


def measure_verify_pack(out: str, profile: bool, result: Any) -> None:
    from bot.evidence.pack_verify import verify_pack
    from bot.render.verification import load_trust_anchors

    started = time.perf_counter()
    cpu = cpu_s()
    # What `dunbot evidence verify pack.zip` runs (bot/cli/evidence.py).
    report = profiled(profile, lambda: verify_pack(Path(out), load_trust_anchors([]), None))
    result.put(
        {
            "s": time.perf_counter() - started,
            "ok": report.ok,
            "failures": [f"{f.item}: {f.detail}" for f in report.failures[:3]],
            "pdfs": report.pdfs,
            "cpu": cpu_s() - cpu,
            "mb": peak_mb(),
        }
    )
