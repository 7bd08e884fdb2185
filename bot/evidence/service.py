"""Evidence services the CLI and the cycle call: checkpoints, and verifying the whole database."""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.errors import EvidenceError, NoticeUnavailable, SigningFailed
from bot.evidence.anchors import Anchor, certificate_name, given_anchor
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.checkpoint import (
    Checkpoint,
    all_checkpoints,
    parse_statement,
    verify_checkpoint_signature,
)
from bot.evidence.insider import InsiderReport, check_insider
from bot.evidence.merkle import HASH_SIZE, MerkleTree, verify_consistency
from bot.evidence.timestamps import TimestampCheck
from bot.evidence.tree_store import stored_nodes
from bot.evidence.verify import Problem, VerificationReport, event_t, verify_log
from bot.evidence.witness import read_witness, witnessed_checkpoint
from bot.store.engine import make_engine, require_schema

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509

log = logging.getLogger(__name__)

# Below this many events one process checks the log: starting others costs more than it saves.
PARALLEL_FROM = 200_000


def checkpoint_now(engine: Engine, settings: Settings, now: datetime, reason: str) -> Checkpoint | None:
    """Sign a checkpoint of the log now (after a cycle, hourly); None, with a warning, if it cannot be."""
    from bot.render.signing import company_signer

    try:
        signer = company_signer(settings)
    except (NoticeUnavailable, SigningFailed) as exc:
        log.warning("no evidence checkpoint: %s", exc)
        return None
    try:
        return witnessed_checkpoint(engine, signer, settings, now, reason)
    except SigningFailed as exc:
        log.warning("no evidence checkpoint: %s", exc)
        return None
    except EvidenceError as exc:  # the log is not what the witness saw: nothing is signed over it
        log.error("no evidence checkpoint: %s", exc)
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
    insider: InsiderReport = field(default_factory=InsiderReport)  # witness, ids, cycles, unsigned tail
    anchor: Anchor | None = None  # what every checkpoint's signer was checked against
    unanchored_why: str = ""  # without an anchor: why there is none
    timestamps: list[TimestampCheck] = field(default_factory=list)  # the checkpoints' tokens that hold

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return self.log.ok and not self.problems

    @property
    def latest_signer(self) -> str:
        """Who signed the newest checkpoint: subject and certificate SHA-256 ("" without one)."""
        if self.latest_checkpoint is None:
            return ""
        try:
            return certificate_name(self.latest_checkpoint.certificate_pem)
        except ValueError:
            return "an unreadable certificate"

    @property
    def all_problems(self) -> list[Problem]:
        """The log's problems, then the checkpoints'."""
        return [*self.log.problems, *self.problems]


def verify_database(
    engine: Engine,
    artifact_dir: Path | None,
    workers: int | None = None,
    *,
    trust: Anchor | Sequence[asn1_x509.Certificate] = (),
    tsa_trust: Sequence[asn1_x509.Certificate] = (),
    witness: Path | None = None,
    unanchored_why: str = "no --trust CERT given",
) -> DatabaseReport:
    """Verify every event, every artifact the events name, and every checkpoint against the log.

    Each checkpoint's statement must say what its row says, its signature must verify, its root must
    be the Merkle root of the log's first ``tree_size`` events (recomputed from the bodies), and each
    checkpoint must be proven consistent with the one before it. The stored Merkle nodes must be
    the ones the bodies give.

    A large log is checked in ``workers`` processes at once (default: one per CPU from
    ``PARALLEL_FROM`` events), each taking a range of seq; the result is the same as one pass.

    ``trust``: the anchor every checkpoint's signer must be or chain to (:func:`database_anchor`), or
    the certificates ``--trust`` named; none: ``unanchored_why`` says why, and the report that the
    signers were not checked against an anchor. ``tsa_trust``: see :mod:`bot.evidence.timestamps`.
    """
    anchor = trust if isinstance(trust, Anchor) else given_anchor(trust)
    certificates = anchor.certificates if anchor is not None else ()
    require_schema(engine)
    if engine.dialect.name != "sqlite" or _in_memory(engine):
        report = _verify_database(
            engine, artifact_dir, workers, certificates, witness=witness, tsa_trust=tsa_trust
        )
    else:
        # Read without the write lock (the daemon may be sending meanwhile), and in parallel.
        reader = make_engine(engine.url.render_as_string(hide_password=False), read_only=True)
        try:
            report = _verify_database(
                reader, artifact_dir, workers, certificates, witness=witness, tsa_trust=tsa_trust
            )
        finally:
            reader.dispose()
    report.anchor, report.unanchored_why = anchor, "" if anchor is not None else unanchored_why
    return report


def _verify_database(
    engine: Engine,
    artifact_dir: Path | None,
    workers: int | None,
    trust: Sequence[asn1_x509.Certificate] = (),
    witness: Path | None = None,
    tsa_trust: Sequence[asn1_x509.Certificate] = (),
) -> DatabaseReport:
    store = ArtifactStore(artifact_dir) if artifact_dir is not None else None
    # The highest seq, not a count: a count reads every row (1.6 s of a cold million-event SQLite
    # file before any worker starts), the maximum one index entry. Gaps are found by the pass itself.
    with engine.connect() as connection:
        highest = connection.execute(sa.select(sa.func.max(event_t.c.seq))).scalar()
    # The witness first, then the checkpoints, then the log: each read finds at least what the one
    # before it names (a checkpoint is published after it is committed, and covers older events).
    witnessed = read_witness(witness) if witness is not None else None
    with engine.connect() as connection:
        checkpoints = all_checkpoints(connection)
        nodes = stored_nodes(connection).all()
    ranges = _ranges(highest or 0, _workers(engine, highest or 0, workers))
    stamps: list[TimestampCheck] = []
    if len(ranges) > 1:
        url = engine.url.render_as_string(hide_password=False)
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited connections
        with ProcessPoolExecutor(len(ranges), mp_context=context) as pool:
            futures = [pool.submit(_verify_range, url, artifact_dir, a, b) for a, b in ranges]
            # meanwhile, here
            signatures = [checkpoint_problems(c, trust, tsa_trust, stamps) for c in checkpoints]
            parts = [future.result() for future in futures]
        log_report, leaves = _merge(parts)
        del parts  # their leaves are in the merged copy
    else:
        leaves = bytearray()
        with engine.connect() as connection:
            log_report = verify_log(connection, store, leaves)
        signatures = [checkpoint_problems(c, trust, tsa_trust, stamps) for c in checkpoints]
    report = DatabaseReport(log=log_report, timestamps=stamps)
    tree = MerkleTree(leaves)
    report.problems.extend(_node_problems(nodes, tree))
    previous: Checkpoint | None = None
    for checkpoint, signature_problems in zip(checkpoints, signatures, strict=True):
        where = f"checkpoint:{checkpoint.id}"
        report.checkpoints_checked += 1
        for problem in signature_problems:
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
    with engine.connect() as connection:
        report.insider = check_insider(connection, checkpoints, tree, witnessed, trust)
    report.problems.extend(report.insider.problems)
    return report


def _workers(engine: Engine, events: int, asked: int | None) -> int:
    if asked is not None:
        return max(1, asked)
    if events < PARALLEL_FROM or _in_memory(engine):
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _in_memory(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")


def _ranges(highest: int, workers: int) -> list[tuple[int, int | None]]:
    """``workers`` ranges of seq covering 1..highest; the last one open-ended (events appended meanwhile
    are checked too, as one pass would)."""
    if workers <= 1 or highest < 2 * workers:
        return [(1, None)]
    step = highest // workers
    bounds = [1 + i * step for i in range(workers)]
    return [(a, b - 1) for a, b in itertools.pairwise(bounds)] + [(bounds[-1], None)]


def _verify_range(
    url: str, artifact_dir: Path | None, first: int, last: int | None
) -> tuple[VerificationReport, bytes]:
    """One worker's part: the events first..last (and their artifacts), and their Merkle leaves."""
    engine = make_engine(url, read_only=True)
    try:
        leaves = bytearray()
        with engine.connect() as connection:
            report = verify_log(
                connection,
                ArtifactStore(artifact_dir) if artifact_dir is not None else None,
                leaves,
                first=first,
                last=last,
            )
        return report, bytes(leaves)
    finally:
        engine.dispose()


def _merge(parts: list[tuple[VerificationReport, bytes]]) -> tuple[VerificationReport, bytearray]:
    merged = VerificationReport()
    leaves = bytearray()
    reported_artifacts: set[str] = set()
    for part, part_leaves in parts:
        leaves.extend(part_leaves)
        merged.events_checked += part.events_checked
        if part.events_checked:
            merged.head_seq, merged.head_chain_hash = part.head_seq, part.head_chain_hash
        merged.checked_digests |= part.checked_digests
        merged.problems_not_listed += part.problems_not_listed
        for problem in part.problems:
            if problem.item.startswith("artifact:"):
                # Two ranges may name the same artifact: report it once, at the first event naming it.
                if problem.item in reported_artifacts:
                    continue
                reported_artifacts.add(problem.item)
            merged.add(problem)
    merged.artifacts_checked = len(merged.checked_digests)
    return merged, leaves


def _node_problems(nodes: Sequence[Any], tree: MerkleTree) -> list[Problem]:
    """Stored Merkle nodes that are not the tree the bodies give (they would break pack proofs)."""
    problems = []
    for height, ordinal, value in nodes:
        where = f"merkle_node:{height}/{ordinal}"
        if height < 0 or ordinal < 0 or height >= len(tree.levels) or (ordinal + 1) << height > tree.size:
            problems.append(Problem(None, where, f"Merkle node {height}/{ordinal} lies beyond the log"))
            continue
        offset = ordinal * HASH_SIZE
        if tree.levels[height][offset : offset + HASH_SIZE].hex() != value:
            problems.append(
                Problem(None, where, f"Merkle node {height}/{ordinal} is not the hash of the events below it")
            )
    return problems


def checkpoint_problems(
    checkpoint: Checkpoint,
    trust: Sequence[asn1_x509.Certificate] = (),
    tsa_trust: Sequence[asn1_x509.Certificate] = (),
    stamps: list[TimestampCheck] | None = None,
) -> list[str]:
    """What is wrong with a stored checkpoint's statement, signature and timestamp (empty: nothing).

    With ``trust``, a signer that is not one of those certificates and does not chain to one is wrong.
    A timestamp whose time does not count is not (the signature holds without it); a token that
    holds is appended to ``stamps``, verified or not.
    """
    fields = parse_statement(checkpoint.statement)
    if fields is None:
        return ["the signed statement is not a dunbot checkpoint statement"]
    problems = []
    if fields["tree_size"] != checkpoint.tree_size or fields["root_hash"] != checkpoint.root_hash:
        problems.append("the row's tree size or root differs from the signed statement")
    check = verify_checkpoint_signature(
        checkpoint.statement,
        checkpoint.signature,
        checkpoint.certificate_pem,
        checkpoint.timestamp,
        trust,
        tsa_trust=tsa_trust,
    )
    problems.extend(check.problems)
    if stamps is not None and check.timestamp is not None:
        stamps.append(check.timestamp)
    try:
        json.loads(checkpoint.compact_range)
    except ValueError:
        problems.append("its compact range is not valid JSON")
    return problems
