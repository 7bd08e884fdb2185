"""Evidence packs (`dunbot evidence export`): one zip per customer or invoice that proves, offline,
what was sent to whom and when, with which content, and what came back (DESIGN §6, issue 5).

An export is itself evidence. In order, it

1. appends an ``export`` event (who exported which case, when, against which checkpoint),
2. signs a new checkpoint that covers that event,
3. reads every event's leaf, rebuilds the Merkle tree and refuses to go on unless the tree still has
   the roots the previous checkpoint and the new one signed (an event altered since would show),
4. takes the case's events (checked: body, content hash and leaf), the artifacts they name and an
   inclusion proof for each event, plus consistency proofs from the previous checkpoint and from the
   checkpoints of earlier exports of the same case,
5. writes the pack, every file listed with its SHA-256 in ``manifest.json``, which is signed
   (``manifest.p7s``) with the company key.

Only the case's own events and artifacts go in: another customer's data never does (proofs are
hashes). The pack grows with the case and with log₂ of the log, not with the log.

Pack layout::

    manifest.json  manifest.p7s  SHA256SUMS  README.txt  chronology.pdf
    checkpoint/statement.txt  signature.p7s  signer.pem  [timestamp.tst]
    checkpoints/<id>/...                 earlier checkpoints the consistency proofs start from
    events/<seq>.json                    the canonical bodies, byte for byte as hashed
    artifacts/<sha256>.<ext>             e-mails (.eml), PDFs, SMS requests and provider answers
                                         (.json), callbacks and delivery proofs (.txt, .json)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from bot.config import Settings
from bot.errors import EvidenceError, InputError
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.canonical import format_instant
from bot.evidence.checkpoint import Checkpoint, all_checkpoints
from bot.evidence.chronology import chronology_rows, render_chronology
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.evidence.merkle import TreeProofs, verify_consistency, verify_inclusion
from bot.evidence.pack_readme import readme_text
from bot.evidence.tree_store import StoredTree, whole_tree
from bot.evidence.verify import referenced_artifacts
from bot.evidence.witness import require_extended, witnessed_checkpoint
from bot.store import tables
from bot.store.engine import require_schema

PACK_FORMAT = "dunbot-evidence-pack/1"
log = logging.getLogger(__name__)
event_t = tables.EvidenceEvent.__table__  # type: ignore[attr-defined]
customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Case:
    """What a pack is about: a customer, or one invoice of a customer."""

    customer: str
    customer_name: str
    language: str
    invoice: str | None = None

    @property
    def label(self) -> str:
        """'customer C-0042' or 'invoice INV-1 (customer C-0042)'."""
        if self.invoice:
            return f"invoice {self.invoice} (customer {self.customer})"
        return f"customer {self.customer}"

    def heading(self) -> str:
        """The case in its own language, for the chronology: '客户 C-0042（杭州远航贸易有限公司）' or
        'customer C-0042 — Harbour Trading Ltd.'."""
        if self.language.lower().startswith("zh"):
            of = f"发票 {self.invoice}，" if self.invoice else ""
            return f"{of}客户 {self.customer}（{self.customer_name}）"
        return f"{self.label} — {self.customer_name}"

    def covers(self, row: Any) -> bool:
        """True when an event row belongs to this case."""
        if row.customer != self.customer:
            return False
        return self.invoice is None or self.invoice in json.loads(row.invoices)


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What `dunbot evidence export` wrote."""

    path: Path
    case: Case
    events: int
    artifacts: int
    size: int
    sha256: str
    checkpoint: Checkpoint
    export_seq: int


def find_case(connection: Connection, customer: str | None, invoice: str | None) -> Case:
    """The case named on the command line; a clear error when it does not exist."""
    if (customer is None) == (invoice is None):
        raise InputError("name exactly one case: --customer ID or --invoice NUMBER")
    if invoice is not None:
        row = connection.execute(
            sa.select(invoice_t.c.customer_id).where(invoice_t.c.number == invoice)
        ).first()
        if row is None:
            raise InputError(f"no invoice {invoice!r}: check the number (invoices.csv `number` column)")
        customer = row.customer_id
    found = connection.execute(
        sa.select(customer_t.c.id, customer_t.c.name, customer_t.c.language).where(
            customer_t.c.id == customer
        )
    ).first()
    if found is None:
        raise InputError(f"no customer {customer!r}: check the id (customers.csv `id` column)")
    return Case(customer=found.id, customer_name=found.name, language=found.language, invoice=invoice)


def export_pack(
    engine: Engine,
    settings: Settings,
    *,
    customer: str | None,
    invoice: str | None,
    out: Path,
    actor: str,
    now: datetime,
) -> ExportReport:
    """Export the evidence pack of a customer or an invoice to ``out`` (never overwriting a file)."""
    from bot.render.fonts import font_choice
    from bot.render.signing import company_signer

    require_schema(engine)
    # lexists: a symbolic link is a name taken, even one pointing nowhere (the zip is linked into
    # place and would fail there, after the export event and its checkpoint were recorded)
    if os.path.lexists(out):
        raise InputError(f"{out} already exists: evidence is never overwritten; choose another file name")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent} is not a folder")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise InputError(f"{out.parent} is not writable: choose a folder you may write to")
    with engine.connect() as connection:
        case = find_case(connection, customer, invoice)
        before = all_checkpoints(connection)
    require_extended(engine, settings.witness_dir)  # a log rewritten since it was witnessed: no pack
    store = ArtifactStore(settings.path(settings.evidence.artifact_dir))
    origin = settings.company.legal_name
    signer = company_signer(settings)
    try:
        previous = before[-1] if before else None
        export_seq = _record_export(engine, case, out, actor, now, previous)
        checkpoint = witnessed_checkpoint(engine, signer, settings, now, "export")
        assert checkpoint is not None  # the log has at least the export event
        with engine.connect() as connection:
            rows = _case_rows(connection, case, checkpoint.tree_size)
            size = checkpoint.tree_size
            try:
                events, earlier = _proven(StoredTree(connection, size), rows, checkpoint, before)
            except _NotProven as exc:
                # The stored nodes are a cache: when they do not lead to the signed roots, the
                # leaves decide (and only if those do not either is the log itself wrong).
                log.warning("%s (from the stored Merkle nodes); computing the tree from every leaf", exc)
                events, earlier = _proven(whole_tree(connection, size), rows, checkpoint, before)
        artifacts = _artifacts(events, store)
        chronology = render_chronology(
            chronology_rows(
                [e["parsed"] for e in events], case.language, {d: a["file"] for d, a in artifacts.items()}
            ),
            case=case.heading(),
            origin=origin,
            exported_at=f"{now.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            language=case.language,
            signer=signer,
            fonts=font_choice(settings),
        )
        files = _pack_files(case, checkpoint, earlier, events, artifacts, chronology, origin, now, actor)
        manifest = files.pop("manifest.json")
        files["manifest.json"] = manifest
        files["manifest.p7s"] = signer.sign_detached(manifest)
    finally:
        signer.close()
    digest, size = _write_zip(out, files)
    return ExportReport(
        path=out,
        case=case,
        events=len(events),
        artifacts=len(artifacts),
        size=size,
        sha256=digest,
        checkpoint=checkpoint,
        export_seq=export_seq,
    )


def _record_export(
    engine: Engine, case: Case, out: Path, actor: str, now: datetime, previous: Checkpoint | None
) -> int:
    with Session(engine) as session:
        written = append_events(
            session,
            now,
            [
                NewEvent(
                    kind=EventKind.EXPORT,
                    actor=actor,
                    customer=case.customer,
                    invoices=(case.invoice,) if case.invoice else (),
                    data={
                        "case": case.label,
                        "file": out.name,
                        "previous_checkpoint": previous.id if previous else None,
                        "previous_tree_size": previous.tree_size if previous else 0,
                    },
                )
            ],
        )
        session.commit()
    return written[0].seq


def _case_rows(connection: Connection, case: Case, size: int) -> list[Any]:
    """The case's own rows among the first ``size`` events."""
    rows = connection.execute(
        sa.select(event_t)
        .where(event_t.c.customer == case.customer, event_t.c.seq <= size)
        .order_by(event_t.c.seq)
    ).all()
    return [row for row in rows if case.covers(row)]


class _NotProven(EvidenceError):
    """A proof the pack would carry does not lead to a signed root."""


def _proven(
    tree: TreeProofs, rows: list[Any], checkpoint: Checkpoint, before: list[Checkpoint]
) -> tuple[list[dict[str, Any]], list[tuple[Checkpoint, list[bytes]]]]:
    """The case's events with their inclusion proofs, and the earlier checkpoints with their
    consistency proofs: each checked against the signed roots before anything is written."""
    previous = before[-1] if before else None
    _check_against(tree, [c for c in (previous, checkpoint) if c is not None])
    events = _case_events(rows, tree, checkpoint)
    earlier = []
    for old in _earlier_checkpoints(before, previous, events):
        proof = tree.consistency_proof(old.tree_size, checkpoint.tree_size)
        if not verify_consistency(old.tree_size, checkpoint.tree_size, old.root, checkpoint.root, proof):
            raise _NotProven(
                f"checkpoint {old.id} cannot be proven consistent with checkpoint {checkpoint.id}; "
                "nothing was exported. Run `dunbot evidence verify --db`"
            )
        earlier.append((old, proof))
    return events, earlier


def _check_against(tree: TreeProofs, checkpoints: list[Checkpoint]) -> None:
    for checkpoint in checkpoints:
        if tree.root(checkpoint.tree_size) != checkpoint.root:
            raise _NotProven(
                f"the log no longer has the root that checkpoint {checkpoint.id} signed "
                f"(tree size {checkpoint.tree_size}): an event was altered since; nothing was exported. "
                "Run `dunbot evidence verify --db` to find it"
            )


def _case_events(rows: list[Any], tree: TreeProofs, checkpoint: Checkpoint) -> list[dict[str, Any]]:
    if isinstance(tree, StoredTree):
        tree.prefetch(row.seq - 1 for row in rows)
    events = []
    for row in rows:
        body = row.body.encode("utf-8")
        leaf = hashlib.sha256(b"\x00" + body).digest()
        altered = (
            f"evidence event {row.seq} does not match its hashes: it was altered; nothing was exported. "
            "Run `dunbot evidence verify --db`"
        )
        if hashlib.sha256(body).hexdigest() != row.content_hash:
            raise EvidenceError(altered)
        proof = tree.inclusion_proof(row.seq - 1)
        # The proof starts from the leaf recomputed from the body and must end at the signed root.
        if not verify_inclusion(row.seq - 1, checkpoint.tree_size, leaf, proof, checkpoint.root):
            raise _NotProven(altered)
        events.append(
            {
                "seq": row.seq,
                "kind": row.kind,
                "body": body,
                "parsed": json.loads(body),
                "content_hash": row.content_hash,
                "chain_hash": row.chain_hash,
                "leaf_hash": leaf.hex(),
                "proof": [node.hex() for node in proof],
            }
        )
    return events


def _artifacts(events: list[dict[str, Any]], store: ArtifactStore) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        data = event["parsed"].get("data")
        names = _artifact_names(data)
        for digest in referenced_artifacts(data):
            entry = found.setdefault(digest, {"named_by": [], "names": set()})
            entry["named_by"].append(event["seq"])
            entry["names"].update(names.get(digest, ()))
    for digest, entry in found.items():
        entry["data"] = store.get(digest)  # raises EvidenceError when missing or altered
        entry["file"] = f"artifacts/{digest}{artifact_extension(entry['data'])}"
    return found


def _artifact_names(data: Any) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    if isinstance(data, dict):
        artifacts = data.get("artifacts")
        if isinstance(artifacts, dict):
            for name, digest in artifacts.items():
                if isinstance(digest, str):
                    names.setdefault(digest, set()).add(str(name))
        for key, value in data.items():
            if key.endswith("_sha256") and isinstance(value, str):
                names.setdefault(value, set()).add(key.removesuffix("_sha256"))
    return names


_HEADER_LINE = re.compile(rb"\A[A-Za-z][A-Za-z0-9-]*: ")


def artifact_extension(data: bytes) -> str:
    """The file extension an artifact gets in a pack, from its content (its name stays its SHA-256):
    ``.pdf``, ``.json``, ``.eml`` (an RFC 5322 message), ``.txt`` (other UTF-8 text) or ``.bin``."""
    if data.startswith(b"%PDF-"):
        return ".pdf"
    if _HEADER_LINE.match(data) and (b"\r\n\r\n" in data or b"\n\n" in data):
        return ".eml"
    try:
        json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return ".bin"
    except ValueError:
        return ".txt"
    return ".json"


def _earlier_checkpoints(
    before: list[Checkpoint], previous: Checkpoint | None, events: list[dict[str, Any]]
) -> list[Checkpoint]:
    """The previous checkpoint, and the one each earlier export of this case was proven against."""
    chosen: dict[int, Checkpoint] = {}
    if previous is not None:
        chosen[previous.id] = previous
    for event in events:
        if event["kind"] != EventKind.EXPORT.value:
            continue
        # An export signs the first checkpoint that covers its own event.
        covering = next((c for c in before if c.tree_size >= event["seq"]), None)
        if covering is not None:
            chosen[covering.id] = covering
    return sorted(chosen.values(), key=lambda c: c.tree_size)


def _checkpoint_files(folder: str, checkpoint: Checkpoint) -> dict[str, bytes]:
    files = {
        f"{folder}/statement.txt": checkpoint.statement,
        f"{folder}/signature.p7s": checkpoint.signature,
        f"{folder}/signer.pem": checkpoint.certificate_pem.encode("ascii"),
    }
    if checkpoint.timestamp is not None:
        files[f"{folder}/timestamp.tst"] = checkpoint.timestamp
    return files


def _checkpoint_entry(folder: str, checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "id": checkpoint.id,
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "at": format_instant(checkpoint.at),
        "statement": f"{folder}/statement.txt",
        "signature": f"{folder}/signature.p7s",
        "certificate": f"{folder}/signer.pem",
        "timestamp": f"{folder}/timestamp.tst" if checkpoint.timestamp is not None else None,
    }


def _pack_files(
    case: Case,
    checkpoint: Checkpoint,
    earlier: list[tuple[Checkpoint, list[bytes]]],
    events: list[dict[str, Any]],
    artifacts: dict[str, dict[str, Any]],
    chronology: bytes,
    origin: str,
    now: datetime,
    actor: str,
) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    files.update(_checkpoint_files("checkpoint", checkpoint))
    consistency = []
    for old, proof in earlier:
        folder = f"checkpoints/{old.id}"
        files.update(_checkpoint_files(folder, old))
        consistency.append({"from": _checkpoint_entry(folder, old), "proof": [node.hex() for node in proof]})
    for event in events:
        files[f"events/{event['seq']:08d}.json"] = event["body"]
    for _, entry in sorted(artifacts.items()):
        files[entry["file"]] = entry["data"]
    files["chronology.pdf"] = chronology
    files["README.txt"] = readme_text(case.label, checkpoint, events, origin, earlier, artifacts).encode(
        "utf-8"
    )
    # Every file above in the format `sha256sum -c` reads; the manifest lists it too, so it is signed.
    files["SHA256SUMS"] = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
    ).encode("utf-8")
    manifest = {
        "format": PACK_FORMAT,
        "case": {
            "label": case.label,
            "customer": {"id": case.customer, "name": case.customer_name},
            "invoice": case.invoice,
        },
        "origin": origin,
        "exported_at": format_instant(now),
        "exported_by": actor,
        "checkpoint": _checkpoint_entry("checkpoint", checkpoint),
        "consistency": consistency,
        "events": [
            {
                "seq": e["seq"],
                "kind": e["kind"],
                "file": f"events/{e['seq']:08d}.json",
                "body": e["parsed"],  # the event in full; the file holds the exact bytes that were hashed
                "content_hash": e["content_hash"],
                "chain_hash": e["chain_hash"],
                "leaf_hash": e["leaf_hash"],
                "leaf_index": e["seq"] - 1,
                "inclusion_proof": e["proof"],
            }
            for e in events
        ],
        "artifacts": [
            {
                "sha256": digest,
                "file": entry["file"],
                "size": len(entry["data"]),
                "names": sorted(entry["names"]),
                "named_by": entry["named_by"],
            }
            for digest, entry in sorted(artifacts.items())
        ],
        "chronology": "chronology.pdf",
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    files["manifest.json"] = (
        json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    ).encode()
    return files


def _write_zip(out: Path, files: dict[str, bytes]) -> tuple[str, int]:
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for name, data in files.items():
                info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o444 << 16
                archive.writestr(info, data)
        with open(temporary, "rb") as stream:
            data = stream.read()
            os.fsync(stream.fileno())
        os.link(temporary, out)  # never overwrite: fails if someone created the file meanwhile
    finally:
        Path(temporary).unlink(missing_ok=True)
    return hashlib.sha256(data).hexdigest(), len(data)
