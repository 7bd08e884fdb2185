"""Verifying the evidence log: every hash, the chain, gapless order, and the artifacts named.

Rows are streamed in seq order and checked with hashlib directly, so a log of a million events is
verified in bounded memory. Every problem is collected (up to a limit), each naming the event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.evidence.artifacts import ArtifactStore
from bot.evidence.canonical import ZERO_HASH, canonical_bytes, format_instant
from bot.store.tables import EvidenceEvent

MAX_PROBLEMS = 1000
_STREAM_ROWS = 10_000

event_t = EvidenceEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that failed verification."""

    seq: int | None  # the event, when the problem belongs to one
    item: str  # what failed: "seq", "body", "content_hash", "chain_hash", "column:at", "artifact:<sha>"
    message: str


@dataclass
class VerificationReport:
    """The outcome of verifying the log."""

    events_checked: int = 0
    head_seq: int = 0
    head_chain_hash: str | None = None
    artifacts_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    problems_not_listed: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems and not self.problems_not_listed

    def add(self, problem: Problem) -> None:
        """Record a problem (beyond MAX_PROBLEMS only counted)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.problems_not_listed += 1


def referenced_artifacts(data: Any) -> Iterator[str]:
    """Artifact hashes an event's data names: values of keys ending in ``_sha256``, and the values of an
    ``artifacts`` list or of an ``artifacts`` mapping (file name -> hash)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("_sha256") and isinstance(value, str):
                yield value
            elif key == "artifacts" and isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
            elif key == "artifacts" and isinstance(value, dict):
                yield from (v for v in value.values() if isinstance(v, str))
            else:
                yield from referenced_artifacts(value)
    elif isinstance(data, list):
        for value in data:
            yield from referenced_artifacts(value)


def _check_columns(row: Any, body: dict[str, Any], report: VerificationReport) -> None:
    expected = {
        "seq": row.seq,
        "at": format_instant(row.at),
        "kind": row.kind,
        "actor": row.actor,
        "customer": row.customer,
        "invoices": json.loads(row.invoices),
    }
    for name, value in expected.items():
        if body.get(name) != value:
            report.add(
                Problem(
                    row.seq,
                    f"column:{name}",
                    f"column {name} is {value!r} but the hashed body says {body.get(name)!r}",
                )
            )


def verify_log(
    connection: Connection, artifacts: ArtifactStore | None = None, leaves: bytearray | None = None
) -> VerificationReport:
    """Check the whole evidence log (and, with ``artifacts``, every artifact it names).

    With ``leaves`` the Merkle leaf of every event, recomputed from its body, is appended to it (32
    bytes each, in seq order) for the checkpoint checks.
    """
    report = VerificationReport()
    statement = (
        sa.select(
            event_t.c.seq,
            event_t.c.at,
            event_t.c.kind,
            event_t.c.actor,
            event_t.c.customer,
            event_t.c.invoices,
            event_t.c.body,
            event_t.c.content_hash,
            event_t.c.chain_hash,
            event_t.c.leaf_hash,
        )
        .order_by(event_t.c.seq)
        .execution_options(stream_results=True, yield_per=_STREAM_ROWS)
    )
    previous_chain = ZERO_HASH
    expected_seq = 1
    checked_artifacts: set[str] = set()
    for row in connection.execute(statement):
        report.events_checked += 1
        if row.seq != expected_seq:
            missing = f"{expected_seq}" if row.seq == expected_seq + 1 else f"{expected_seq}–{row.seq - 1}"
            report.add(Problem(row.seq, "seq", f"event(s) {missing} missing before event {row.seq}"))
        expected_seq = row.seq + 1

        body_bytes = row.body.encode("utf-8")
        content = hashlib.sha256(body_bytes).digest()
        if content.hex() != row.content_hash:
            report.add(
                Problem(row.seq, "content_hash", "content_hash does not match the body: the body was altered")
            )
        leaf = hashlib.sha256(b"\x00" + body_bytes).digest()
        if row.leaf_hash != leaf.hex():
            report.add(Problem(row.seq, "leaf_hash", "leaf_hash is not SHA-256(0x00 ‖ body)"))
        if leaves is not None:
            leaves.extend(leaf)
        try:
            body = json.loads(body_bytes)
        except ValueError:
            report.add(Problem(row.seq, "body", "the body is not valid JSON"))
            body = None
        if isinstance(body, dict):
            if canonical_bytes(body) != body_bytes:
                report.add(Problem(row.seq, "body", "the body is not in canonical form"))
            _check_columns(row, body, report)
            if artifacts is not None:
                for digest in referenced_artifacts(body.get("data")):
                    if digest in checked_artifacts:
                        continue
                    checked_artifacts.add(digest)
                    problem = artifacts.verify(digest) if len(digest) == 64 else "not a SHA-256 digest"
                    if problem:
                        report.add(Problem(row.seq, f"artifact:{digest}", f"artifact {digest}: {problem}"))
        elif body is not None:
            report.add(Problem(row.seq, "body", "the body is not a JSON object"))

        chained = hashlib.sha256(previous_chain + content).hexdigest()
        if chained != row.chain_hash:
            report.add(
                Problem(
                    row.seq,
                    "chain_hash",
                    "chain_hash does not follow from the previous event: "
                    "an event was altered, removed or reordered",
                )
            )
        # Continue from the stored hash so one bad event is reported once, not with all its successors.
        try:
            previous_chain = bytes.fromhex(row.chain_hash)
        except ValueError:
            report.add(Problem(row.seq, "chain_hash", "chain_hash is not hex"))
            previous_chain = bytes.fromhex(chained)
        report.head_seq = row.seq
        report.head_chain_hash = row.chain_hash
    report.artifacts_checked = len(checked_artifacts)
    return report
