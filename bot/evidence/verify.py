"""Verifying the evidence log: every hash, the chain, gapless order, and the artifacts named.

Rows are streamed in seq order and checked with hashlib directly, so a log of a million events is
verified in bounded memory. Every problem is collected (up to a limit), each naming the event. A range
of the log (``first``..``last``) can be checked on its own, starting from the stored chain hash of
the event before it, exactly as the whole log is checked past an altered event: that is how
``verify_database`` checks a large log in several processes at once. The artifacts the events name are
hashed at the end of the range, each once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.evidence.artifacts import ArtifactStore
from bot.evidence.canonical import ZERO_HASH, format_instant
from bot.store.queries import driver_rows
from bot.store.tables import EvidenceEvent

MAX_PROBLEMS = 1000
# Threads hashing artifacts in each process that verifies (a part of) the log, and files per task.
ARTIFACT_THREADS = 8
_ARTIFACT_BATCH = 64

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
    checked_digests: set[str] = field(default_factory=set, repr=False)  # the artifacts hashed

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


class NotCanonical(ValueError):
    """A number JSON can hold but canonical evidence never does (a fraction, an exponent, NaN)."""


def _no_float(text: str) -> Any:
    raise NotCanonical(f"the number {text} has a fraction or an exponent: evidence holds no floats")


def _no_constant(text: str) -> Any:
    raise NotCanonical(f"{text} is not a JSON number: evidence holds no floats")


_decoder = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_constant)


def parse_body(body: bytes | str) -> Any:
    """An event body parsed as JSON; ``ValueError`` (naming what is wrong) when it cannot be evidence."""
    return _parse(_decoder, body.decode("utf-8") if isinstance(body, bytes) else body)


def _parse(decoder: json.JSONDecoder, text: str) -> Any:
    # What decoder.decode(text) returns, without its two whitespace matches and two Python calls
    # when the text is one JSON value and nothing else (a million bodies); otherwise decode() itself,
    # which skips whitespace around the value or says what is wrong.
    try:
        value, end = decoder.scan_once(text, 0)  # type: ignore[attr-defined]  # what decode() calls
    except StopIteration:
        end = -1
    return value if end == len(text) else decoder.decode(text)


# What canonical_bytes writes, for documents that came from parse_body (only dict, list, str, int, bool
# and None, so to_jsonable has nothing to convert).
_canonical_text = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
).encode


def _instant(at: Any) -> datetime:
    """A stored instant as an aware datetime (SQLite's driver gives the stored UTC text)."""
    if isinstance(at, str):
        parsed = datetime.fromisoformat(at)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    if not isinstance(at, datetime):
        raise TypeError(f"{at!r} is not an instant")
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _instant_matches(text: Any, at: Any) -> bool:
    """Whether a body's ``at`` is exactly format_instant of the column's instant."""
    if isinstance(at, str) and len(at) == 26 and at[10] == " " and f"{at[:10]}T{at[11:]}Z" == text:
        return True  # SQLite's "YYYY-MM-DD HH:MM:SS.ffffff", UTC: no datetime needed
    try:
        return bool(text == format_instant(_instant(at)))
    except (ValueError, TypeError):
        return False


class _Invoices:
    """The invoices column parsed, remembered: many events name the same invoices."""

    def __init__(self) -> None:
        self.parsed: dict[str, Any] = {}

    def __call__(self, text: Any) -> Any:
        value = self.parsed.get(text)
        if value is None:
            value = _column_value(text)
            if len(self.parsed) < 100_000:
                self.parsed[text] = value
        return value


_column_decoder = json.JSONDecoder()


def _column_value(text: Any) -> Any:
    """The invoices column parsed; as stored when it is not JSON (the check then names it)."""
    try:
        return _parse(_column_decoder, text) if isinstance(text, str) else json.loads(text)
    except (ValueError, TypeError):
        return text


def _expected_instant(at: Any) -> Any:
    try:
        return format_instant(_instant(at))
    except (ValueError, TypeError):
        return at  # not an instant at all: named as it is


def _check_columns(
    columns: Sequence[Any], body: dict[str, Any], invoices: _Invoices, report: VerificationReport
) -> None:
    seq, at, kind, actor, customer, invoices_text = columns
    if (
        body.get("seq") == seq
        and body.get("kind") == kind
        and body.get("actor") == actor
        and body.get("customer") == customer
        and _instant_matches(body.get("at"), at)
        and body.get("invoices") == invoices(invoices_text)
    ):
        return
    expected = {
        "seq": seq,
        "at": _expected_instant(at),
        "kind": kind,
        "actor": actor,
        "customer": customer,
        "invoices": _column_value(invoices_text),
    }
    for name, value in expected.items():
        if body.get(name) != value:
            report.add(
                Problem(
                    seq,
                    f"column:{name}",
                    f"column {name} is {value!r} but the hashed body says {body.get(name)!r}",
                )
            )


def _start(connection: Connection, first: int) -> tuple[int, bytes]:
    """The seq expected first and the chain hash to continue from, for a range starting at ``first``:
    what one pass over the log would have reached there (the stored chain hash of the event before,
    or, where that is not hex, the hash one pass recomputes in its place)."""
    if first <= 1:
        return 1, ZERO_HASH
    rows = connection.execute(
        sa.select(event_t.c.seq, event_t.c.body, event_t.c.chain_hash)
        .where(event_t.c.seq < first)
        .order_by(event_t.c.seq.desc())
        .limit(100)
    ).all()
    if not rows:
        return 1, ZERO_HASH
    # Back to the nearest stored hash that is hex (a pass continues from that), then forward.
    chain, forward = ZERO_HASH, []
    for row in rows:
        try:
            chain = bytes.fromhex(row.chain_hash)
            break
        except (ValueError, TypeError):
            forward.append(row)
    for row in reversed(forward):
        chain = hashlib.sha256(chain + hashlib.sha256(row.body.encode("utf-8")).digest()).digest()
    return rows[0].seq + 1, chain


def verify_log(
    connection: Connection,
    artifacts: ArtifactStore | None = None,
    leaves: bytearray | None = None,
    *,
    first: int = 1,
    last: int | None = None,
) -> VerificationReport:
    """Check the log (and, with ``artifacts``, every artifact it names), or the events ``first``..``last``.

    With ``leaves`` the Merkle leaf of every event, recomputed from its body, is appended to it (32
    bytes each, in seq order) for the checkpoint checks.
    """
    report = VerificationReport()
    statement = sa.select(
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
    if first > 1:  # the first range has no lower bound: a seq of 0 or below is reported too
        statement = statement.where(event_t.c.seq >= first)
    if last is not None:
        statement = statement.where(event_t.c.seq <= last)
    expected_seq, previous_chain = _start(connection, first)
    named: dict[str, int] = {}  # artifact -> the first event naming it
    invoices = _Invoices()
    sha256 = hashlib.sha256
    # Tuples from the driver: a Row object per event and its result types cost as much as the checks.
    for row in driver_rows(connection, statement.order_by(event_t.c.seq)):
        seq, text, content_hash, chain_hash, leaf_hash = row[0], row[6], row[7], row[8], row[9]
        report.events_checked += 1
        if seq < expected_seq:
            report.add(Problem(seq, "seq", f"event {seq} is where event {expected_seq} should be"))
        elif seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}–{seq - 1}"
            report.add(Problem(seq, "seq", f"event(s) {missing} missing before event {seq}"))
        expected_seq = seq + 1

        body_bytes = text.encode("utf-8")
        content = sha256(body_bytes).digest()
        if content.hex() != content_hash:
            report.add(
                Problem(seq, "content_hash", "content_hash does not match the body: the body was altered")
            )
        leaf = sha256(b"\x00" + body_bytes).digest()
        if leaf_hash != leaf.hex():
            report.add(Problem(seq, "leaf_hash", "leaf_hash is not SHA-256(0x00 ‖ body)"))
        if leaves is not None:
            leaves.extend(leaf)
        try:
            body = parse_body(text)
        except NotCanonical as exc:
            report.add(Problem(seq, "body", f"the body is not canonical evidence: {exc}"))
            body = None
        except (ValueError, RecursionError):
            report.add(Problem(seq, "body", "the body is not valid JSON (or nested beyond reason)"))
            body = None
        if isinstance(body, dict):
            if _canonical_text(body) != text:
                report.add(Problem(seq, "body", "the body is not in canonical form"))
            _check_columns(row[:6], body, invoices, report)
            # Most events name no artifact; the body's text says so without walking it.
            if artifacts is not None and ("_sha256" in text or '"artifacts"' in text):
                for digest in referenced_artifacts(body.get("data")):
                    named.setdefault(digest, seq)
        elif body is not None:
            report.add(Problem(seq, "body", "the body is not a JSON object"))

        chained = sha256(previous_chain + content).hexdigest()
        if chained != chain_hash:
            report.add(
                Problem(
                    seq,
                    "chain_hash",
                    "chain_hash does not follow from the previous event: "
                    "an event was altered, removed or reordered",
                )
            )
        # Continue from the stored hash so one bad event is reported once, not with all its successors.
        try:
            previous_chain = bytes.fromhex(chain_hash)
        except (ValueError, TypeError):
            report.add(Problem(seq, "chain_hash", "chain_hash is not hex"))
            previous_chain = bytes.fromhex(chained)
        report.head_seq = seq
        report.head_chain_hash = chain_hash
    if artifacts is not None:
        _check_artifacts(artifacts, named, report)
    return report


def _check_artifacts(store: ArtifactStore, named: dict[str, int], report: VerificationReport) -> None:
    # A log's artifacts are many small files (half a million of 2–100 KB for a million events). Read
    # cold from disk, most of their time is the kernel's and waiting for it, which threads overlap
    # (file reads and SHA-256 of more than 2 KiB release the GIL). Each thread takes batches of files
    # in the store's order, one folder's files together: a task per file costs more in handing the
    # GIL around than it overlaps, batches cost about one thread's CPU with the cache warm.
    digests = sorted(named)
    batches = [digests[i : i + _ARTIFACT_BATCH] for i in range(0, len(digests), _ARTIFACT_BATCH)]
    found: dict[str, str | None] = {}
    if len(batches) > 1 and ARTIFACT_THREADS > 1:
        with ThreadPoolExecutor(ARTIFACT_THREADS, thread_name_prefix="artifacts") as pool:
            for part in pool.map(store.verify_all, batches):
                found.update(part)
    else:
        for batch in batches:
            found.update(store.verify_all(batch))
    for digest, seq in named.items():  # problems in the order of the events naming them
        problem = found[digest]
        if problem:
            report.add(Problem(seq, f"artifact:{digest}", f"artifact {digest}: {problem}"))
    report.checked_digests.update(named)
    report.artifacts_checked = len(named)
