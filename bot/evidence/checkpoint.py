"""Signed checkpoints of the evidence log: tree size, Merkle root, time — signed with the company key.

A checkpoint's **statement** is a short UTF-8 text, the exact bytes that are signed::

    dunbot evidence checkpoint v1
    origin: 上海星河精密机械有限公司
    tree_size: 1234
    root_hash: 5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328
    time: 2026-12-01T02:00:00.000000Z

It is signed as a detached CMS (CAdES-BES, SHA-256) that ``openssl cms -verify -binary`` checks
against the statement, and — when ``[signing] tsa_url`` is set — timestamped with an RFC 3161
token over SHA-256(statement) that ``openssl ts -verify -data`` checks. Checkpoints are made after
every cycle, every hour by the daemon, and by each export; a new one only when the log grew. Each
stores the compact range of its tree so the next one extends the tree from there instead of
re-reading the whole log; verification never relies on it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from bot.errors import EvidenceError
from bot.evidence.anchors import named
from bot.evidence.canonical import format_instant
from bot.evidence.merkle import CompactRange, TreeProofs, verify_consistency
from bot.evidence.timestamps import TimestampCheck, TimestampDamaged, check_timestamp
from bot.evidence.tree_store import StoredTree, leaf_of, store_nodes, whole_tree
from bot.store import tables

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509

    from bot.render.signing import NoticeSigner

checkpoint_t = tables.Checkpoint.__table__  # type: ignore[attr-defined]
event_t = tables.EvidenceEvent.__table__  # type: ignore[attr-defined]

STATEMENT_HEADER = "dunbot evidence checkpoint v1"
_CHECKPOINT_LOCK_KEY = 0x63686B70  # "chkp": one checkpoint writer at a time on PostgreSQL
_STATEMENT = re.compile(
    r"\A" + re.escape(STATEMENT_HEADER) + r"\n"
    r"origin: (?P<origin>[^\n]*)\n"
    r"tree_size: (?P<size>\d+)\n"
    r"root_hash: (?P<root>[0-9a-f]{64})\n"
    r"time: (?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)\n\Z"
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One signed checkpoint."""

    id: int
    tree_size: int
    root_hash: str
    at: datetime
    statement: bytes
    signature: bytes  # detached CMS, DER
    certificate_pem: str
    timestamp: bytes | None  # RFC 3161 TimeStampToken, DER
    compact_range: str
    reason: str

    @property
    def root(self) -> bytes:
        """The root hash as bytes."""
        return bytes.fromhex(self.root_hash)


def statement_text(origin: str, tree_size: int, root_hash: str, at: datetime) -> bytes:
    """The bytes a checkpoint signs."""
    clean = " ".join(origin.split())
    return (
        f"{STATEMENT_HEADER}\norigin: {clean}\ntree_size: {tree_size}\nroot_hash: {root_hash}\n"
        f"time: {format_instant(at)}\n"
    ).encode()


def parse_statement(statement: bytes) -> dict[str, Any] | None:
    """The fields of a statement, or None when it is not one."""
    try:
        match = _STATEMENT.match(statement.decode("utf-8"))
    except UnicodeDecodeError:
        return None
    if match is None:
        return None
    return {
        "origin": match["origin"],
        "tree_size": int(match["size"]),
        "root_hash": match["root"],
        "time": match["time"],
    }


def _row_to_checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(
        id=row.id,
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        at=row.at,
        statement=row.statement.encode("utf-8"),
        signature=base64.b64decode(row.signature),
        certificate_pem=row.certificate,
        timestamp=base64.b64decode(row.timestamp) if row.timestamp else None,
        compact_range=row.compact_range,
        reason=row.reason,
    )


def latest_checkpoint(connection: Connection) -> Checkpoint | None:
    """The checkpoint with the largest tree."""
    row = connection.execute(
        sa.select(checkpoint_t).order_by(checkpoint_t.c.tree_size.desc()).limit(1)
    ).first()
    return _row_to_checkpoint(row) if row is not None else None


def all_checkpoints(connection: Connection) -> list[Checkpoint]:
    """Every checkpoint, smallest tree first."""
    rows = connection.execute(sa.select(checkpoint_t).order_by(checkpoint_t.c.tree_size)).all()
    return [_row_to_checkpoint(row) for row in rows]


def checkpoint_by_id(connection: Connection, checkpoint_id: int) -> Checkpoint | None:
    """One checkpoint."""
    row = connection.execute(sa.select(checkpoint_t).where(checkpoint_t.c.id == checkpoint_id)).first()
    return _row_to_checkpoint(row) if row is not None else None


def _leaf_hashes_after(connection: Connection, after: int) -> Any:
    statement = (
        sa.select(event_t.c.seq, event_t.c.leaf_hash, event_t.c.body)
        .where(event_t.c.seq > after)
        .order_by(event_t.c.seq)
        .execution_options(stream_results=True, yield_per=10_000)
    )
    return connection.execute(statement)


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A tree size and root signed earlier and kept outside the database (a witnessed checkpoint):
    what a new checkpoint must extend."""

    tree_size: int
    root: bytes
    label: str  # how an error names it: "witnessed checkpoint 12 (/srv/witness)"


def create_checkpoint(
    engine: Engine,
    signer: NoticeSigner,
    origin: str,
    now: datetime,
    reason: str,
    *,
    extends: TreeHead | None = None,
) -> Checkpoint | None:
    """Sign a checkpoint of the whole log as it is now; the latest one when the log has not grown.

    None when the log is empty. The tree is extended from the last checkpoint's compact range. With
    ``extends``, nothing is signed unless the new tree is a consistent extension of that head (RFC 9162
    §2.1.4): a log rewritten since it was witnessed raises :class:`EvidenceError` instead. Ids are
    assigned here, under the lock, one after the other: a gap in them means a checkpoint was removed.
    """
    with Session(engine) as session:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHECKPOINT_LOCK_KEY})
        last = latest_checkpoint(connection)
        compact = CompactRange()
        if last is not None:
            compact = CompactRange.from_json(last.tree_size, json.loads(last.compact_range))
        start_root = compact.root()
        expected = compact.size + 1
        made: list[tuple[int, int, bytes]] = []
        for row in _leaf_hashes_after(connection, compact.size):
            if row.seq != expected:
                raise ValueError(f"evidence event {expected} is missing: run `dunbot evidence verify --db`")
            compact.append(leaf_of(row), made)
            expected += 1
        store_nodes(connection, made)
        if compact.size == 0:
            return None
        if last is not None and compact.size == last.tree_size:
            return last
        if extends is not None and not (
            extends.tree_size == (last.tree_size if last else 0) and extends.root == start_root
        ):
            # The usual case (the witness holds the last checkpoint) is consistent by construction.
            _require_extension(connection, extends, compact.size, compact.root())
        root = compact.root().hex()
        statement = statement_text(origin, compact.size, root, now)
        signature = signer.sign_detached(statement)
        token = signer.timestamp_token(statement)
        highest = sa.select(sa.func.coalesce(sa.func.max(checkpoint_t.c.id), 0))
        next_id = connection.execute(highest).scalar_one()
        connection.execute(
            sa.insert(checkpoint_t).values(
                id=next_id + 1,
                tree_size=compact.size,
                root_hash=root,
                at=now,
                statement=statement.decode("utf-8"),
                signature=base64.b64encode(signature).decode("ascii"),
                certificate=signer.certificate_pem,
                timestamp=base64.b64encode(token).decode("ascii") if token else None,
                compact_range=json.dumps(compact.as_json()),
                reason=reason,
            )
        )
        row = connection.execute(sa.select(checkpoint_t).where(checkpoint_t.c.id == next_id + 1)).one()
        session.commit()
    return _row_to_checkpoint(row)


def require_extension(engine: Engine, head: TreeHead) -> None:
    """Raise :class:`EvidenceError` unless the log as it is now is a consistent extension of ``head``."""
    with engine.connect() as connection:
        size = connection.execute(sa.select(sa.func.count()).select_from(event_t)).scalar_one()
        _require_extension(connection, head, size, None)


def _require_extension(connection: Connection, head: TreeHead, size: int, root: bytes | None) -> None:
    """Raise unless the tree of ``size`` leaves extends ``head``, by an RFC 9162 consistency proof: to
    ``root`` (what is about to be signed), or to the root of the log's leaves when None.

    The proof is built from the stored nodes (a few reads) and, when that does not verify, from every
    leaf; either way only a proof that verifies against ``head``'s signed root lets anything go on.
    """
    nothing = "; nothing is signed: run `dunbot evidence verify --db`"
    if size < head.tree_size:
        raise EvidenceError(
            f"the log has {size} events but {head.label} covers {head.tree_size}: "
            f"events were removed{nothing}"
        )
    trees: list[Callable[[], TreeProofs]] = [
        lambda: StoredTree(connection, size),
        lambda: whole_tree(connection, size),
    ]
    for tree in trees:
        try:
            proofs = tree()
            proof = proofs.consistency_proof(head.tree_size)
            new_root = proofs.root() if root is None else root
        except EvidenceError:
            continue
        if verify_consistency(head.tree_size, size, head.root, new_root, proof):
            return
    raise EvidenceError(
        f"the log is not a consistent extension of {head.label}: an event it covers was altered, "
        f"removed or reordered{nothing}"
    )


# --- verification (offline: statement, signature, certificate and token are all there is) ----------


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What the checkpoint's signature and timestamp say."""

    problems: list[str]
    signer: str = ""
    certificate_sha256: str = ""
    timestamp: TimestampCheck | None = None  # None: no token


def verify_checkpoint_signature(
    statement: bytes,
    signature: bytes,
    certificate_pem: str,
    timestamp: bytes | None,
    trust: Sequence[asn1_x509.Certificate] = (),
    *,
    tsa_trust: Sequence[asn1_x509.Certificate] = (),
) -> SignatureCheck:
    """Check a detached CMS signature over ``statement`` (and its RFC 3161 token), offline.

    With ``trust`` the signer's certificate must be one of those certificates or chain to one;
    without, the signature is checked against the certificate given, which proves only that its
    holder signed. The token's time counts as described in :mod:`bot.evidence.timestamps`.
    """
    return asyncio.run(_verify(statement, signature, certificate_pem, timestamp, trust, tsa_trust))


async def _verify(
    statement: bytes,
    signature: bytes,
    certificate_pem: str,
    timestamp: bytes | None,
    trust: Sequence[asn1_x509.Certificate],
    tsa_trust: Sequence[asn1_x509.Certificate],
) -> SignatureCheck:
    from asn1crypto import cms, pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    from bot.render.verification import quiet_pyhanko

    problems: list[str] = []
    try:
        _, _, der = pem.unarmor(certificate_pem.encode("ascii"))
        certificate = asn1_x509.Certificate.load(der)
        subject = certificate.subject.human_friendly
    except (ValueError, TypeError) as exc:
        return SignatureCheck([f"the signer certificate cannot be read: {exc}"])
    fingerprint = hashlib.sha256(certificate.dump()).hexdigest()
    context = ValidationContext(
        trust_roots=list(trust) or [certificate], allow_fetching=False, revocation_mode="soft-fail"
    )
    try:
        container = cms.ContentInfo.load(signature)
        signed_data = container["content"]
        embedded = [c.chosen.dump() for c in signed_data["certificates"]]
        with quiet_pyhanko():
            status = await async_validate_detached_cms(
                statement, signed_data, signer_validation_context=context
            )
    except Exception as exc:  # a damaged container makes asn1crypto and pyHanko raise many types
        return SignatureCheck(
            [f"the signature cannot be read: {type(exc).__name__}: {exc}"], subject, fingerprint
        )
    if not (status.intact and status.valid):
        problems.append("the signature does not verify against the statement")
    elif status.signing_cert.dump() != certificate.dump() or certificate.dump() not in embedded:
        problems.append("the signature was made with another certificate than the one in the pack")
    elif trust and not (status.trusted or any(a.dump() == certificate.dump() for a in trust)):
        anchors = "; ".join(named(anchor) for anchor in trust)
        problems.append(
            f"its signer {named(certificate)} is not the anchor and does not chain to it ({anchors})"
        )
    stamp = None
    if timestamp is not None:
        fields = parse_statement(statement)
        stated = (
            datetime.strptime(fields["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) if fields else None
        )
        try:
            stamp = await check_timestamp(timestamp, statement, certificate, stated, tsa_trust)
        except TimestampDamaged as exc:
            problems.append(str(exc))
    return SignatureCheck(problems, subject, fingerprint, stamp)
