"""Verifying a million-event evidence log and exporting one case's pack from it, in one run (issue 5).

    .venv/bin/python bench/evidence.py [--events 1000000] [--case-events 1000] [--small-events 10000]
                                       [--cycles 250] [--db sqlite|postgres|both] [--pg-url URL]
                                       [--background-artifacts unique|pooled] [--profile]
                                       [--keep DIR [--reuse]] [--cold]

It generates two evidence logs that pass verification (canonical bodies, gapless seq, content, chain
and leaf hashes exactly as ``append_events`` computes them, bulk-inserted with the driver), each
signed by one checkpoint per daily cycle (``create_checkpoint``, a trial certificate), interleaved
with the inserts so that every checkpoint covers a prefix of the log:

* the **large** log: ``--events`` events of ``--events / 1000`` customers;
* the **small** log: ``--small-events`` events, the same cycles;

and in both the same **case**: one customer with exactly ``--case-events`` events — e-mails with their
raw RFC 5322 bytes, signed PDF notices (real ones, laid out and PAdES-signed by dunbot), letters,
SMS with their Twilio request/response and delivery callbacks, tasks, approvals, payments, promises,
disputes, alerts, tier changes — all artifacts in an ``ArtifactStore``. Then, after an untimed
``upgrade`` and ``ANALYZE``, each in a fresh child process so that peak memory (VmHWM) and CPU time
are the measurement's own:

* **verify --db**: ``verify_database`` on the large log, what `dunbot evidence verify --db` runs
  (every event, every artifact named, every checkpoint's signature and root, consistency);
* **export**: ``export_pack`` of the case on the large log, what `dunbot evidence export` runs;
* **verify pack**: ``verify_pack`` of that pack (must be ok), what `dunbot evidence verify pack.zip` runs;
* the same export and pack verification on the small log, for the pack-size ratio.

Targets (issue 5): verify --db ≤ 60 s on 1,000,000 events; the export of a 1,000-event case ≤ 5 s; that
pack's size within 10 % of the same case's pack from a 10,000-event log.

This script runs the bench and prints the table; the parts are modules beside it:
``evidence_log`` (the loader: customers from ``ledgers``, events, hashes, inserts, checkpoints),
``evidence_case`` and ``evidence_background`` (the events), ``evidence_render`` (their artifacts),
and one module per measurement: ``evidence_verify``, ``evidence_export``, ``evidence_pack``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import child, pg_url, reset_schema
from bench.evidence_background import Background
from bench.evidence_export import measure_export, pack_composition
from bench.evidence_log import bench_settings, generate, migrate_schema, migrated, prepare, publish_witness
from bench.evidence_pack import measure_verify_pack
from bench.evidence_render import CASE, ORIGIN, Blobs
from bench.evidence_verify import measure_verify_db

SCHEMAS = {"large": "bench_evidence", "small": "bench_evidence_small"}


def run(
    db: str, args: argparse.Namespace, folder: Path, trial: Any, case_cache: dict[str, Any]
) -> dict[str, Any]:
    postgres = db == "postgres"
    out: dict[str, Any] = {"db": db}
    artifacts = folder / "artifacts"
    blobs = case_cache.setdefault("blobs", Blobs(artifacts))
    for size_name, events in (("large", args.events), ("small", args.small_events)):
        if postgres:
            schema: str | None = SCHEMAS[size_name]
            reset_schema(args.pg_url, schema)
            url = args.pg_url
        else:
            schema = None
            url = f"sqlite:///{folder / f'evidence-{size_name}.db'}"
        settings = bench_settings(url, folder, trial.pkcs12)
        pristine = folder / f"evidence-{size_name}.pristine.db"
        summary = folder / f"evidence-{size_name}.json"
        if not postgres:
            database = folder / f"evidence-{size_name}.db"
            for leftover in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
                leftover.unlink(missing_ok=True)
        if not postgres and args.reuse and pristine.exists() and summary.exists():
            shutil.copyfile(pristine, database)
            generated = json.loads(summary.read_text())
            generated["reused"] = True
        else:
            if "rounds" not in case_cache:
                prepare(case_cache, args, blobs, settings)
            background: Background = case_cache["background"]
            background.customers = max(2, events // 1000)
            before_files, before_bytes = blobs.written, blobs.bytes
            generated = generate(url, schema, events, case_cache["rounds"], args.cycles, background, settings)
            generated["artifact_files"] = blobs.written - before_files
            generated["artifact_bytes"] = blobs.bytes - before_bytes
            if not postgres and args.keep:
                shutil.copyfile(database, pristine)
                summary.write_text(json.dumps(generated))
        out[f"{size_name}_gen"] = generated
        print(
            f"  [{db}] {size_name} log: {generated['events']:,} events ({generated['case_events']} of {CASE}), "
            f"{generated['customers']:,} customers, {generated['checkpoints']} checkpoints "
            + ("(reused) " if generated.get("reused") else "")
            + f"in {generated['generate_s']:.1f} s (events+hashes+artifacts {generated['events_s']:.1f} s, "
            f"insert {generated['insert_s']:.1f} s, checkpoints {generated['checkpoint_s']:.1f} s); "
            f"{generated['artifact_files']:,} artifact files written, "
            f"{generated['artifact_bytes'] / 2**20:,.0f} MB",
            flush=True,
        )
        if postgres:
            child(migrate_schema, url, schema)
        else:
            migrated(url)
        child(publish_witness, url, schema, str(settings.witness_dir))
        common = (url, schema, str(folder), str(trial.pkcs12))
        if size_name == "large":
            if args.cold:
                drop_caches()
            out["verify"] = child(measure_verify_db, *common, args.profile)
        pack = folder / f"pack-{db}-{size_name}.zip"
        pack.unlink(missing_ok=True)
        out[f"{size_name}_export"] = child(measure_export, *common, str(pack), args.profile)
        out[f"{size_name}_pack"] = child(measure_verify_pack, str(pack), args.profile)
        out[f"{size_name}_parts"] = pack_composition(pack)
    return out


def drop_caches() -> None:
    """Empty the OS page cache (root only), so that verify reads the database and artifacts from disk."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as exc:
        raise SystemExit(f"--cold: cannot drop the page cache ({exc.strerror}); run as root") from None
    print(f"  page cache dropped; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--case-events", type=int, default=1000)
    parser.add_argument("--small-events", type=int, default=10_000)
    parser.add_argument(
        "--cycles", type=int, default=250, help="daily cycles, one checkpoint each (default 250)"
    )
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=pg_url(),
    )
    parser.add_argument("--background-artifacts", choices=("unique", "pooled"), default="unique")
    parser.add_argument("--profile", action="store_true", help="cProfile each measurement (stderr)")
    parser.add_argument(
        "--reuse", action="store_true", help="with --keep on SQLite: measure the logs generated before"
    )
    parser.add_argument(
        "--cold", action="store_true", help="drop the OS page cache before verify --db (needs root)"
    )
    parser.add_argument(
        "--keep", type=Path, help="generate into this folder and keep it (default: a temporary one)"
    )
    args = parser.parse_args()
    if not args.case_events < args.small_events <= args.events:
        parser.error("need --case-events < --small-events <= --events")
    from bot.render.certificate import create_trial_certificate

    databases = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        trial = create_trial_certificate(folder / "certificate", ORIGIN, "CN", datetime.now(UTC))
        case_cache: dict[str, Any] = {}
        print(f"  load average at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        results = [run(db, args, folder, trial, case_cache) for db in databases]
        if "render_s" in case_cache:
            print(
                f"  case rendered in {case_cache['render_s']:.1f} s (real signed notices and e-mails)",
                flush=True,
            )
    print(f"  load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    print(
        f"\n{'db':<9}{'events':>10}{'verify s':>10}{'cpu s':>7}{'MB':>6}{'export s':>10}{'cpu s':>7}{'MB':>6}"
        f"{'pack MB':>9}{'small MB':>10}{'ratio':>7}{'vpack s':>9}"
        "  targets: verify ≤ 60 s, export ≤ 5 s, pack within 10 %"
    )
    for r in results:
        v, e, s = r["verify"], r["large_export"], r["small_export"]
        ratio = e["bytes"] / s["bytes"]
        verdicts = [
            "verify " + ("met" if v["ok"] and v["s"] <= 60 else "MISSED"),
            "export " + ("met" if e["s"] <= 5 else "MISSED"),
            "size " + ("met" if abs(ratio - 1) <= 0.10 else "MISSED"),
        ]
        print(
            f"{r['db']:<9}{v['events']:>10}{v['s']:>10.1f}{v['cpu']:>7.1f}{v['mb']:>6.0f}{e['s']:>10.2f}"
            f"{e['cpu']:>7.2f}{e['mb']:>6.0f}{e['bytes'] / 1e6:>9.2f}{s['bytes'] / 1e6:>10.2f}{ratio:>7.3f}"
            f"{r['large_pack']['s']:>9.2f}  {', '.join(verdicts)}"
            + ("" if v["events"] >= 1_000_000 else " (the targets are for a 1,000,000-event log)"),
            flush=True,
        )
        lp, sp = r["large_pack"], r["small_pack"]
        print(
            f"{'':9}verify --db: {'ok' if v['ok'] else 'FAILED ' + '; '.join(v['problems'])}, "
            f"{v['events']:,} events, {v['artifacts']:,} artifacts, {v['checkpoints']} checkpoints, "
            f"{v['workers'] or 'no'} worker processes",
            flush=True,
        )
        print(
            f"{'':9}packs: {e['events']} events, {e['artifacts']} artifacts; verify_pack "
            f"{'ok' if lp['ok'] else 'FAILED'} in {lp['s']:.2f} s (cpu {lp['cpu']:.2f} s, {lp['mb']:.0f} MB, "
            f"{lp['pdfs']} PDFs) / small {'ok' if sp['ok'] else 'FAILED'} in {sp['s']:.2f} s; "
            f"small-log export {s['s']:.2f} s (cpu {s['cpu']:.2f} s)",
            flush=True,
        )
        for size_name in ("large", "small"):
            parts = r[f"{size_name}_parts"]
            failures = r[f"{size_name}_pack"]["failures"]
            print(
                f"{'':9}{size_name} pack (compressed): "
                + ", ".join(f"{k} {b / 1e6:.2f} MB" for k, b in parts.items())
                + (f"; FAILURES: {'; '.join(failures)}" if failures else ""),
                flush=True,
            )


if __name__ == "__main__":
    main()
