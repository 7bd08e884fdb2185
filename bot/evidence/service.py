"""Evidence services the CLI and the cycle call: checkpoints, and verifying the whole database."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.errors import NoticeUnavailable, SigningFailed
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.checkpoint import (
    Checkpoint,
    all_checkpoints,
    create_checkpoint,
    parse_statement,
    verify_checkpoint_signature,
)
from bot.evidence.merkle import MerkleTree, verify_consistency
from bot.evidence.verify import Problem, VerificationReport, verify_log
from bot.store.engine import require_schema

log = logging.getLogger(__name__)


def checkpoint_now(engine: Engine, settings: Settings, now: datetime, reason: str) -> Checkpoint | None:
    """Sign a checkpoint of the log now (after a cycle, hourly); None, with a warning, if it cannot be."""
    from bot.render.signing import company_signer

    try:
        signer = company_signer(settings)
    except (NoticeUnavailable, SigningFailed) as exc:
        log.warning("no evidence checkpoint: %s", exc)
        return None
    try:
        return create_checkpoint(engine, signer, settings.company.legal_name, now, reason)
    except SigningFailed as exc:
        log.warning("no evidence checkpoint: %s", exc)
        return None
    finally:
        signer.close()


@dataclass
class DatabaseReport:
    """`dunbot evidence verify --db`: the log, its artifacts and its checkpoints."""

    log: VerificationReport
    checkpoints_checked: int = 0
    latest_checkpoint: Checkpoint | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return self.log.ok and not self.problems

    @property
    def all_problems(self) -> list[Problem]:
        """The log's problems, then the checkpoints'."""
        return [*self.log.problems, *self.problems]


def verify_database(engine: Engine, artifact_dir: Path | None) -> DatabaseReport:
    """Verify every event, every artifact the events name, and every checkpoint against the log.

    Each checkpoint's statement must say what its row says, its signature must verify, its root must
    be the Merkle root of the log's first ``tree_size`` events (recomputed from the bodies), and each
    checkpoint must be proven consistent with the one before it.
    """
    require_schema(engine)
    store = ArtifactStore(artifact_dir) if artifact_dir is not None else None
    leaves = bytearray()
    with engine.connect() as connection:
        report = DatabaseReport(log=verify_log(connection, store, leaves))
        checkpoints = all_checkpoints(connection)
    tree = MerkleTree(leaves)
    previous: Checkpoint | None = None
    for checkpoint in checkpoints:
        where = f"checkpoint:{checkpoint.id}"
        report.checkpoints_checked += 1
        for problem in checkpoint_problems(checkpoint):
            report.problems.append(Problem(None, where, f"checkpoint {checkpoint.id}: {problem}"))
        if checkpoint.tree_size > tree.size:
            report.problems.append(
                Problem(
                    None,
                    where,
                    f"checkpoint {checkpoint.id} covers {checkpoint.tree_size} events but the log has "
                    f"{tree.size}: events were removed",
                )
            )
            continue
        if tree.root(checkpoint.tree_size) != checkpoint.root:
            report.problems.append(
                Problem(
                    None,
                    where,
                    f"checkpoint {checkpoint.id} (tree size {checkpoint.tree_size}) is not extended by the "
                    "log: an event it covers was altered, removed or reordered",
                )
            )
        elif previous is not None:
            proof = tree.consistency_proof(previous.tree_size, checkpoint.tree_size)
            if not verify_consistency(
                previous.tree_size, checkpoint.tree_size, previous.root, checkpoint.root, proof
            ):
                report.problems.append(
                    Problem(None, where, f"checkpoint {checkpoint.id} is not consistent with {previous.id}")
                )
        previous = checkpoint
    report.latest_checkpoint = checkpoints[-1] if checkpoints else None
    return report


def checkpoint_problems(checkpoint: Checkpoint) -> list[str]:
    """What is wrong with a stored checkpoint's statement, signature and timestamp (empty: nothing)."""
    fields = parse_statement(checkpoint.statement)
    if fields is None:
        return ["the signed statement is not a dunbot checkpoint statement"]
    problems = []
    if fields["tree_size"] != checkpoint.tree_size or fields["root_hash"] != checkpoint.root_hash:
        problems.append("the row's tree size or root differs from the signed statement")
    check = verify_checkpoint_signature(
        checkpoint.statement, checkpoint.signature, checkpoint.certificate_pem, checkpoint.timestamp
    )
    problems.extend(check.problems)
    try:
        json.loads(checkpoint.compact_range)
    except ValueError:
        problems.append("its compact range is not valid JSON")
    return problems
