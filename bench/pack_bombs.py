"""Verifying a genuine pack and the zip bombs made from it: time and peak memory (issue 19, finding 7).

    .venv/bin/python bench/pack_bombs.py PACK [--code DIR] [--repeat 3]

PACK is a genuine evidence pack, e.g. the one ``bench/evidence.py --keep DIR`` leaves
(``DIR/pack-sqlite-large.zip``, a 1,000-event case). The bombs of ``tests/support/zip_bombs.py`` are
made from it in a temporary folder; each pack is verified by ``verify_pack`` (what `dunbot evidence
verify` runs) in a fresh process under a 3 GiB address-space limit, so that a verifier without bounds
ends in a MemoryError rather than in the machine's swap. ``--code DIR`` imports dunbot from another
checkout (``--code /work/main``: the figures before). The genuine pack is verified ``--repeat``
times; the run of least CPU time is shown.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import child, cpu_s, peak_mb
from tests.support.zip_bombs import BOMBS

ADDRESS_SPACE = 3 << 30


def measure(code: str | None, pack: str, prior: str | None, result: Any) -> None:
    if code:
        sys.path.insert(0, code)
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    from bot.evidence.pack_verify import verify_pack

    started, cpu = time.perf_counter(), cpu_s()
    try:
        report = verify_pack(Path(pack), prior=Path(prior) if prior else None)
    except MemoryError:
        outcome = "MemoryError (traceback)"
    else:
        first = report.failures[0] if report.failures else None
        outcome = "ok" if report.ok else f"{first.item}: {first.detail}" if first else "failed"
    result.put(
        {"s": time.perf_counter() - started, "cpu": cpu_s() - cpu, "mb": peak_mb(), "outcome": outcome}
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pack", type=Path, help="a genuine evidence pack")
    parser.add_argument("--code", help="import dunbot from this checkout (e.g. /work/main)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="verifications of the genuine pack (best shown)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pack-bombs-") as folder:
        genuine = [child(measure, args.code, str(args.pack), None) for _ in range(args.repeat)]
        rows = [("genuine pack", args.pack.stat().st_size, min(genuine, key=lambda run: run["cpu"]))]
        for name, build in BOMBS.items():
            bomb, _member = build(args.pack, Path(folder) / f"{name}.zip")
            pack, prior = (args.pack, bomb) if name.startswith("prior") else (bomb, None)
            try:
                run = child(measure, args.code, str(pack), str(prior) if prior else None)
            except RuntimeError as exc:  # the child died (e.g. a MemoryError outside verify_pack)
                run = {
                    "s": float("nan"),
                    "cpu": float("nan"),
                    "mb": float("nan"),
                    "outcome": str(exc).splitlines()[0],
                }
            rows.append((name, bomb.stat().st_size, run))
            bomb.unlink()
    print(f"{'pack':20} {'zip':>9} {'verify':>8} {'CPU':>7} {'peak RSS':>9}  outcome")
    for name, size, run in rows:
        print(
            f"{name:20} {size / 1e6:7.1f}MB {run['s']:7.2f}s {run['cpu']:6.2f}s {run['mb']:7.0f}MB  "
            f"{run['outcome'][:100]}"
        )


if __name__ == "__main__":
    main()
