"""What publishing to the witness adds to a cycle (issue 19: at most 5 % of a cycle of 2,000 messages).

    .venv/bin/python bench/witness.py [--messages 2000] [--rounds 3] [--db sqlite|postgres]

Each round runs three whole cycles (`run_cycle`: plan, send every e-mail through the outbox to a local
aiosmtpd server in its own process, sign the checkpoint), each on a fresh database of ``messages``
e-mails whose log already has a witnessed checkpoint (the daemon's steady state):

* ``off``: the checkpoint is signed as before issue 19 (``create_checkpoint``, nothing published);
* ``folder``: the witness as shipped: the extension check, then the checkpoint's files written once
  and fsync'd into the witness folder;
* ``folder + mail``: and ``[evidence] witness_email`` set: the checkpoint mailed through the same
  SMTP transport to the same local server.

The variants alternate within a round so that a machine that slows down slows all three. Beside the
cycles' medians, the witness's own work is timed directly inside the cycles (publishing, mailing):
at this size the cycle-to-cycle noise is larger than the witness, so that is the honest figure.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import pg_url, reset_schema, use_schema
from bench.ledgers import generate, insert_rows
from bench.send import AS_OF, FROM, NOON, ledger_spec
from bench.send_servers import smtp_server, start
from bot.config import (
    ComplianceSettings,
    EmailSettings,
    EvidenceSettings,
    OutreachSettings,
    Settings,
    SigningSettings,
)
from bot.evidence import service, witness
from bot.evidence.checkpoint import create_checkpoint
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.outreach.cycle import run_cycle
from bot.outreach.outbox import Outcome
from bot.render.certificate import create_trial_certificate
from bot.store.engine import make_engine
from bot.store.migrate import upgrade

VARIANTS = ("off", "folder", "folder + mail")
SCHEMA = "bench_witness"


def _settings(folder: Path, port: int, pkcs12: Path, mail: bool) -> Settings:
    return Settings(
        email=EmailSettings(transport="smtp", host="127.0.0.1", port=port, starttls=False, from_address=FROM),
        evidence=EvidenceSettings(
            artifact_dir=str(folder / "artifacts"), witness_email="witness@auditor.example" if mail else None
        ),
        signing=SigningSettings(pkcs12=str(pkcs12)),
        compliance=ComplianceSettings(window="00:00-23:59", max_messages_per_7d=10),
        outreach=OutreachSettings(concurrency=8, batch_size=50),
        base_dir=folder,
    )


@contextmanager
def _timed(module: Any, name: str, spent: list[float]) -> Iterator[None]:
    """Add the time of every call of ``module.name`` to ``spent``."""
    original = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    setattr(module, name, timed)
    try:
        yield
    finally:
        setattr(module, name, original)


@contextmanager
def _unwitnessed() -> Iterator[None]:
    """The checkpoint signed as before issue 19: no extension check, nothing published."""
    original = service.witnessed_checkpoint

    def plain(engine: sa.Engine, signer: Any, settings: Settings, now: datetime, reason: str) -> Any:
        return create_checkpoint(engine, signer, settings.company.legal_name, now, reason)

    service.witnessed_checkpoint = plain  # type: ignore[assignment]
    try:
        yield
    finally:
        service.witnessed_checkpoint = original  # type: ignore[assignment]


def one_cycle(variant: str, messages: int, port: int, pkcs12: Path, db: str) -> tuple[float, float, float]:
    """Seconds of the whole cycle, of publishing and of mailing inside it."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if db == "postgres":
            reset_schema(pg_url(), SCHEMA)
            use_schema(SCHEMA)
            engine = make_engine(pg_url())
        else:
            engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
        upgrade(engine)
        with engine.begin() as connection:
            insert_rows(connection, generate(ledger_spec(messages, "email")))
        settings = _settings(folder, port, pkcs12, mail=variant == "folder + mail")
        with Session(engine) as session:  # the log so far, checkpointed and witnessed an hour ago
            append_events(
                session,
                NOON - timedelta(hours=1),
                [NewEvent(kind=EventKind.ALERT, actor="bench", data={"n": 1})],
            )
            session.commit()
        assert service.checkpoint_now(engine, settings, NOON - timedelta(hours=1), "hourly") is not None
        published: list[float] = []
        mailed: list[float] = []
        guard = _unwitnessed() if variant == "off" else nullcontext()
        with (
            guard,
            _timed(witness, "newest_head", published),
            _timed(witness, "publish", published),
            _timed(witness, "mail_checkpoint", mailed),
        ):
            started = time.perf_counter()
            report = asyncio.run(run_cycle(engine, settings, AS_OF, clock=lambda: NOON, exclusive=True))
            elapsed = time.perf_counter() - started
        sent = report.stats.outcomes.get(Outcome.SENT, 0)
        if sent != messages or report.checkpoint is None:
            raise SystemExit(f"{variant}: sent {sent} of {messages}, checkpoint {report.checkpoint}")
        stem = witness.file_stem(report.checkpoint.id, report.checkpoint.tree_size)
        if variant != "off" and not (folder / "witness" / f"{stem}.statement.txt").exists():
            raise SystemExit(f"{variant}: the cycle's checkpoint is not in the witness")
        engine.dispose()
        return elapsed, sum(published), sum(mailed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    options = parser.parse_args()
    process, port, received = start(smtp_server)
    results: dict[str, list[tuple[float, float, float]]] = {v: [] for v in VARIANTS}
    try:
        with tempfile.TemporaryDirectory() as name:
            certificate = create_trial_certificate(
                Path(name), "上海星河精密机械有限公司", "CN", datetime.now(UTC)
            )
            for round_number in range(options.rounds):
                for variant in VARIANTS if round_number % 2 == 0 else tuple(reversed(VARIANTS)):
                    figures = one_cycle(variant, options.messages, port, certificate.pkcs12, options.db)
                    results[variant].append(figures)
                    print(
                        f"round {round_number + 1} {variant:<14} cycle {figures[0]:6.2f} s  publish "
                        f"{figures[1] * 1000:7.1f} ms  mail {figures[2] * 1000:7.1f} ms",
                        flush=True,
                    )
    finally:
        process.terminate()
    base = statistics.median(r[0] for r in results["off"])
    print(
        f"\n{options.messages} e-mails per cycle, {options.db}, {options.rounds} rounds; SMTP server received {received.value}"
    )
    print("| variant | cycle (median) | vs off | publishing in it | mailing in it | witness ÷ cycle |")
    print("|---|---:|---:|---:|---:|---:|")
    for variant in VARIANTS:
        cycle = statistics.median(r[0] for r in results[variant])
        witness_s = statistics.median(r[1] + r[2] for r in results[variant])
        print(
            f"| {variant} | {cycle:.2f} s | {(cycle / base - 1) * 100:+.1f} % | "
            f"{statistics.median(r[1] for r in results[variant]) * 1000:.1f} ms | "
            f"{statistics.median(r[2] for r in results[variant]) * 1000:.1f} ms | {witness_s / cycle * 100:.2f} % |"
        )


if __name__ == "__main__":
    main()
