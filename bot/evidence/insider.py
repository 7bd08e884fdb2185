"""What `dunbot evidence verify --db` checks against an insider (DESIGN §6, "Against an insider").

The log's own hashes only show a change that was not carried through: someone who can write to the
database can recompute every hash and delete the checkpoints. So the database is also held to what
lies outside it or cannot be rewritten unnoticed:

- the **witness**: every checkpoint in the witness folder must verify, be in the database with the
  same tree size and root, and the log must be a consistent extension of it (RFC 9162 §2.1.4);
- **gapless checkpoint ids**: a checkpoint removed leaves a hole;
- **the cycles**: every completed cycle ends with a signed checkpoint, so events older than the last
  completed cycle that no checkpoint covers mean a checkpoint was removed (or never signed), and a
  cycle's checkpoint must still be there.

Events after the newest checkpoint are not failures — the next checkpoint covers them — but they are
counted and reported: nothing signed vouches for them yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.evidence.checkpoint import Checkpoint, verify_checkpoint_signature
from bot.evidence.merkle import MerkleTree, verify_consistency
from bot.evidence.verify import Problem, event_t
from bot.evidence.witness import WitnessedCheckpoint, WitnessRead
from bot.store.tables import CycleRun

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509

cycle_t = CycleRun.__table__  # type: ignore[attr-defined]
_LISTED = 20  # missing checkpoint ids named one by one, at most


@dataclass
class Unsigned:
    """The events after the newest checkpoint: in the log, not yet under any signature."""

    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    oldest_at: datetime | None = None


@dataclass
class InsiderReport:
    """The witness, the checkpoint ids, the cycles and the unsigned tail of the log."""

    witness: Path | None = None  # None: not checked against a witness
    witness_found: bool = False
    witnessed: int = 0  # checkpoints read from the witness (each one checked)
    witness_note: str = ""  # said instead of a count when there was nothing to check against
    unsigned: Unsigned = field(default_factory=Unsigned)
    problems: list[Problem] = field(default_factory=list)


def check_insider(
    connection: Connection,
    checkpoints: Sequence[Checkpoint],
    tree: MerkleTree,
    witness: WitnessRead | None,
    trust: Sequence[asn1_x509.Certificate] = (),
) -> InsiderReport:
    """Check the database's ``checkpoints`` and the log's ``tree`` against ``witness`` (read before the
    log, so that a checkpoint published meanwhile is not mistaken for one the log fell short of), the
    checkpoint ids and the cycles; count the unsigned tail."""
    report = InsiderReport()
    report.problems.extend(_id_gaps(checkpoints))
    if witness is not None:
        _check_witness(report, witness, checkpoints, tree, trust)
    covered = max((c.tree_size for c in checkpoints), default=0)
    report.unsigned = _unsigned(connection, covered, tree.size)
    report.problems.extend(_cycle_problems(connection, checkpoints, covered))
    return report


def _id_gaps(checkpoints: Sequence[Checkpoint]) -> list[Problem]:
    ids = {c.id for c in checkpoints}
    missing = [i for i in range(1, max(ids, default=0) + 1) if i not in ids]
    if not missing:
        return []
    named = ", ".join(str(i) for i in missing[:_LISTED]) + (" ..." if len(missing) > _LISTED else "")
    return [
        Problem(
            None,
            "checkpoint ids",
            f"checkpoint id(s) {named} are missing: checkpoint ids are gapless, so "
            f"{len(missing)} signed checkpoint(s) were removed from the database",
        )
    ]


def _check_witness(
    report: InsiderReport,
    witness: WitnessRead,
    checkpoints: Sequence[Checkpoint],
    tree: MerkleTree,
    trust: Sequence[asn1_x509.Certificate],
) -> None:
    report.witness = witness.folder
    report.witness_found = witness.exists
    for problem in witness.problems:
        report.problems.append(Problem(None, "witness", problem))
    if not witness.checkpoints:
        if checkpoints:
            where = "does not exist" if not witness.exists else "holds no checkpoint"
            report.problems.append(
                Problem(
                    None,
                    "witness",
                    f"the database has {len(checkpoints)} signed checkpoint(s) but the witness folder "
                    f"{witness.folder} {where}: nothing outside the database vouches for the log. Point "
                    "[evidence] witness_dir (or --witness DIR) at the folder the checkpoints are published "
                    "to; after an upgrade, the next checkpoint (a cycle, or hourly) publishes them all",
                )
            )
        else:
            report.witness_note = (
                f"no checkpoint yet: the witness folder {witness.folder} is written with the first"
            )
        return
    by_id = {c.id: c for c in checkpoints}
    root = tree.root()
    for witnessed in witness.checkpoints:
        where = f"witness:{witnessed.id}"
        report.witnessed += 1
        stored = by_id.get(witnessed.id)
        if not _same_bytes(witnessed, stored):
            # A copy byte for byte the same as the database's has that one's signature, which is
            # checked beside the log (a signature check costs tens of milliseconds; a log has hundreds).
            check = verify_checkpoint_signature(
                witnessed.statement,
                witnessed.signature,
                witnessed.certificate_pem,
                witnessed.timestamp,
                trust,
            )
            for problem in check.problems:
                report.problems.append(
                    Problem(None, where, f"witnessed checkpoint {witnessed.id} ({witnessed.path}): {problem}")
                )
        if stored is None:
            report.problems.append(
                Problem(
                    None,
                    where,
                    f"checkpoint {witnessed.id} was witnessed ({witnessed.path}) but is missing in the "
                    "database: it was removed",
                )
            )
        elif (stored.tree_size, stored.root_hash) != (witnessed.tree_size, witnessed.root_hash):
            report.problems.append(
                Problem(
                    None,
                    where,
                    f"checkpoint {witnessed.id} was witnessed ({witnessed.path}) but is different in the "
                    f"database: the witness says {witnessed.tree_size} events, root {witnessed.root_hash}; "
                    f"the database {stored.tree_size} events, root {stored.root_hash}",
                )
            )
        if witnessed.tree_size > tree.size:
            report.problems.append(
                Problem(
                    None,
                    where,
                    f"the log has {tree.size} events but witnessed checkpoint {witnessed.id} covers "
                    f"{witnessed.tree_size}: events were removed",
                )
            )
            continue
        proof = tree.consistency_proof(witnessed.tree_size)
        if not verify_consistency(witnessed.tree_size, tree.size, witnessed.root, root, proof):
            report.problems.append(
                Problem(
                    None,
                    where,
                    f"the log is not a consistent extension of witnessed checkpoint {witnessed.id} "
                    f"({witnessed.path}): an event it covers was altered, removed or reordered since it "
                    "was signed",
                )
            )


def _same_bytes(witnessed: WitnessedCheckpoint, stored: Checkpoint | None) -> bool:
    return stored is not None and (
        stored.statement,
        stored.signature,
        stored.certificate_pem,
        stored.timestamp,
    ) == (witnessed.statement, witnessed.signature, witnessed.certificate_pem, witnessed.timestamp)


def _unsigned(connection: Connection, covered: int, size: int) -> Unsigned:
    if size <= covered:
        return Unsigned()
    oldest = connection.execute(sa.select(sa.func.min(event_t.c.at)).where(event_t.c.seq > covered)).scalar()
    return Unsigned(events=size - covered, first_seq=covered + 1, last_seq=size, oldest_at=oldest)


def _cycle_problems(connection: Connection, checkpoints: Sequence[Checkpoint], covered: int) -> list[Problem]:
    """Every completed cycle ends with a signed checkpoint: hold the last one to that."""
    cycle = connection.execute(
        sa.select(cycle_t).where(cycle_t.c.ok.is_(True)).order_by(cycle_t.c.finished_at.desc()).limit(1)
    ).first()
    if cycle is None:
        return []
    ended = f"the last completed cycle (as of {cycle.as_of}, ended {cycle.finished_at:%Y-%m-%d %H:%M:%S} UTC)"
    by_id = {c.id: c for c in checkpoints}
    problems = []
    until = cycle.finished_at
    if cycle.checkpoint_id is not None:
        made = by_id.get(cycle.checkpoint_id)
        if made is None:
            problems.append(
                Problem(
                    None,
                    "cycle_run",
                    f"{ended} signed checkpoint {cycle.checkpoint_id}, which is not in the database: "
                    "it was removed",
                )
            )
        else:
            until = made.at  # what the cycle's checkpoint covered; later events may have come meanwhile
    count, first, last = connection.execute(
        sa.select(sa.func.count(), sa.func.min(event_t.c.seq), sa.func.max(event_t.c.seq)).where(
            event_t.c.seq > covered, event_t.c.at <= until
        )
    ).one()
    if count:
        problems.append(
            Problem(
                None,
                "cycle_run",
                f"{count} event(s) (#{first}–#{last}) are older than {ended} but no checkpoint covers "
                "them: every cycle ends with a signed checkpoint, so one was removed or could not be "
                "signed (see the daemon's log)",
            )
        )
    elif cycle.checkpoint_id is None and _recorded(cycle) and _none_since(checkpoints, cycle.started_at):
        problems.append(
            Problem(
                None,
                "cycle_run",
                f"{ended} recorded {_recorded(cycle)} message outcome(s) but no checkpoint was signed "
                "since it began, and none of its events is left: they were removed",
            )
        )
    return problems


def _none_since(checkpoints: Sequence[Checkpoint], since: datetime) -> bool:
    return all(c.at < since for c in checkpoints)


def _recorded(cycle: sa.Row[tuple[object, ...]]) -> int:
    return int(cycle.messages_sent + cycle.messages_failed + cycle.messages_unknown)
