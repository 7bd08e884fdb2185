"""`dunbot evidence verify pack.zip`: check a pack with nothing but the pack.

Checked, each as one item of the report, in this order: the zip and its manifest; the manifest's
signature; every file against the SHA-256 the manifest lists (and no file unlisted); the checkpoint's
statement, signature and timestamp; every event (content hash, canonical form, seq, leaf hash and
inclusion proof against the checkpoint root); every artifact (present, named by its hash, named by an
event); every signed PDF; every consistency proof from an earlier checkpoint; with ``prior``,
that this pack's log extends the one an earlier pack showed; and that the manifest, every checkpoint
and every signed PDF share one signer certificate (with ``trust``, each must also be or chain to an
anchor given; without, the report says the signer was not checked against one). The first failure
is named; all are listed.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import InputError
from bot.evidence.anchors import Anchor, given_anchor
from bot.evidence.canonical import canonical_bytes
from bot.evidence.checkpoint import parse_statement, verify_checkpoint_signature
from bot.evidence.merkle import verify_consistency, verify_inclusion
from bot.evidence.pack import PACK_FORMAT
from bot.evidence.pack_reader import SIGNATURE_FILES, PackRefused
from bot.evidence.pack_reader import PackArchive as _Pack
from bot.evidence.timestamps import TimestampCheck
from bot.evidence.verify import NotCanonical, parse_body, referenced_artifacts

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509

# The certificates a signer must chain to (--trust), and those a timestamp authority must (--tsa-trust).
_Anchors = tuple[Sequence["asn1_x509.Certificate"], Sequence["asn1_x509.Certificate"]]


@dataclass(frozen=True, slots=True)
class PackItem:
    """One check: what, whether it passed, and why not."""

    item: str
    ok: bool
    detail: str = ""


@dataclass
class PackReport:
    """The outcome of verifying a pack."""

    path: str
    items: list[PackItem] = field(default_factory=list)
    events: int = 0
    artifacts: int = 0
    pdfs: int = 0
    checkpoint: dict[str, Any] = field(default_factory=dict)
    signer: str = ""
    signer_certificate_sha256: str = ""
    anchor: Anchor | None = None  # what the signers were checked against (--trust); None: nothing
    signed_by: dict[str, tuple[str, str]] = field(default_factory=dict)  # file -> (subject, SHA-256)
    timestamp: TimestampCheck | None = None  # the checkpoint's token, if it has one

    @property
    def ok(self) -> bool:
        """True when every item passed (and there was something to check)."""
        return bool(self.items) and all(item.ok for item in self.items)

    @property
    def failures(self) -> list[PackItem]:
        """The items that failed, in the order they were checked."""
        return [item for item in self.items if not item.ok]

    def add(self, item: str, ok: bool, detail: str = "") -> bool:
        """Record a check; returns ``ok``."""
        self.items.append(PackItem(item, ok, detail))
        return ok

    @property
    def signer_note(self) -> str:
        """Whom the signer was checked against, for people."""
        signer = f"signer {self.signer}, certificate SHA-256 {self.signer_certificate_sha256}"
        if self.anchor is None:
            return f"{signer} — not checked against an anchor; pass --trust CERT to check it"
        return f"{signer}, checked against the anchor {self.anchor.describe()}"

    def as_json(self) -> dict[str, Any]:
        """The report for machines."""
        first = self.failures[0] if self.failures else None
        return {
            "pack": self.path,
            "ok": self.ok,
            "first_failure": {"item": first.item, "detail": first.detail} if first else None,
            "events": self.events,
            "artifacts": self.artifacts,
            "signed_pdfs": self.pdfs,
            "checkpoint": self.checkpoint,
            "signer": self.signer,
            "signer_certificate_sha256": self.signer_certificate_sha256,
            "anchored": self.anchor is not None,
            "anchor": self.anchor.as_json() if self.anchor is not None else None,
            "signer_note": self.signer_note,
            "signers": {name: sha256 for name, (_, sha256) in sorted(self.signed_by.items())},
            "items": [{"item": i.item, "ok": i.ok, "detail": i.detail} for i in self.items],
        }


def verify_pack(
    path: Path,
    trust: Sequence[asn1_x509.Certificate] = (),
    prior: Path | None = None,
    *,
    tsa_trust: Sequence[asn1_x509.Certificate] = (),
) -> PackReport:
    """Verify the evidence pack at ``path``, offline.

    ``trust``: the certificates the signer must chain to (none: the pack's manifest, checkpoints and
    PDFs must share one signer, named by fingerprint). ``tsa_trust``: the CAs a checkpoint's timestamp
    authority must chain to for its time to count.
    """
    report = PackReport(path=str(path), anchor=given_anchor(trust))
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    try:
        pack = _Pack(path)  # read with bounds: a zip bomb is refused, see bot/evidence/pack_reader.py
    except PackRefused as exc:
        report.add("pack", False, str(exc))
        return report
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        report.add("pack", False, f"not a readable evidence pack (zip): {exc}")
        return report
    with pack:
        return _verify_opened(pack, report, trust, prior, tsa_trust)


def _verify_opened(
    pack: _Pack,
    report: PackReport,
    trust: Sequence[asn1_x509.Certificate],
    prior: Path | None,
    tsa_trust: Sequence[asn1_x509.Certificate],
) -> PackReport:
    report.add("pack", True, f"{len(pack.files)} files")
    manifest = _manifest(pack, report)
    if manifest is None:
        return report
    certificate = pack.files.get(str(manifest["checkpoint"].get("certificate", "")), b"").decode(
        "ascii", "replace"
    )
    _manifest_signature(pack, certificate, trust, report)
    _file_hashes(pack, manifest, report)
    root, size = _checkpoint(pack, manifest["checkpoint"], "checkpoint", (trust, tsa_trust), report)
    report.checkpoint = {
        "id": manifest["checkpoint"].get("id"),
        "tree_size": size,
        "root_hash": root.hex() if root else None,
        "timestamp": report.timestamp.as_json() if report.timestamp else None,
    }
    if root is not None:
        _events(pack, manifest, root, size, report)
        _consistency(pack, manifest, root, size, (trust, tsa_trust), report)
        if prior is not None:
            _prior(prior, manifest, root, size, report)
    _artifacts(pack, manifest, report)
    _pdfs(pack, manifest, trust, report)
    _one_signer(report)
    return report


def _manifest(pack: _Pack, report: PackReport) -> dict[str, Any] | None:
    missing = [name for name in SIGNATURE_FILES if name not in pack.files]
    if missing:
        report.add("manifest", False, f"{', '.join(missing)} missing from the pack")
        return None
    try:
        manifest = pack.json("manifest.json")
    except ValueError as exc:
        report.add("manifest", False, f"manifest.json is not valid JSON: {exc}")
        return None
    required = ("format", "checkpoint", "events", "artifacts", "files", "consistency")
    if not isinstance(manifest, dict) or any(key not in manifest for key in required):
        report.add("manifest", False, "manifest.json lacks the fields of an evidence pack")
        return None
    if manifest["format"] != PACK_FORMAT:
        report.add(
            "manifest", False, f"unknown pack format {manifest['format']!r} (this dunbot reads {PACK_FORMAT})"
        )
        return None
    report.add(
        "manifest",
        True,
        f"{manifest.get('case', {}).get('label', '?')}, exported {manifest.get('exported_at')}",
    )
    return manifest


def _manifest_signature(
    pack: _Pack, certificate: str, trust: Sequence[asn1_x509.Certificate], report: PackReport
) -> None:
    check = verify_checkpoint_signature(
        pack.files["manifest.json"], pack.files["manifest.p7s"], certificate, None, trust
    )
    report.signer, report.signer_certificate_sha256 = check.signer, check.certificate_sha256
    if check.certificate_sha256:
        report.signed_by["manifest.p7s"] = (check.signer, check.certificate_sha256)
    if check.problems:
        report.add("manifest.p7s", False, "; ".join(check.problems))
    else:
        report.add("manifest.p7s", True, f"signed by {check.signer}")


def _file_hashes(pack: _Pack, manifest: dict[str, Any], report: PackReport) -> None:
    listed: dict[str, str] = manifest["files"]
    bad = 0
    for name, expected in sorted(listed.items()):
        if name not in pack.files:
            bad += not report.add(name, False, "listed in the manifest but missing from the pack")
            continue
        digest = pack.sha256(name)  # streamed, within bounds
        if digest is None:
            bad += not report.add(name, False, pack.problem(name) or "cannot be read")
        elif digest != expected:
            bad += not report.add(
                name, False, "its SHA-256 differs from the manifest's: the file was altered"
            )
    for name in sorted(set(pack.files) - set(listed) - set(SIGNATURE_FILES)):
        bad += not report.add(name, False, "in the pack but not in the manifest (not read)")
    bad += not _sums_match(pack, listed, report)
    if not bad:
        report.add("files", True, f"{len(listed)} files match the manifest")


def _sums_match(pack: _Pack, listed: dict[str, str], report: PackReport) -> bool:
    """SHA256SUMS (for `sha256sum -c`, README.txt) must say what the manifest says, file for file."""
    sums = pack.files.get("SHA256SUMS")
    if "SHA256SUMS" not in listed or sums is None:
        return True  # a pack from before it was added, or reported missing above
    lines = {tuple(line.split("  ", 1)[::-1]) for line in sums.decode("utf-8", "replace").splitlines()}
    if lines == {(name, digest) for name, digest in listed.items() if name != "SHA256SUMS"}:
        return True
    return report.add("SHA256SUMS", False, "it does not list the files and hashes the manifest lists")


def _checkpoint(
    pack: _Pack, entry: dict[str, Any], label: str, anchors: _Anchors, report: PackReport
) -> tuple[bytes | None, int]:
    try:
        statement = pack.files[entry["statement"]]
        signature = pack.files[entry["signature"]]
        certificate = pack.files[entry["certificate"]].decode("ascii")
        timestamp = pack.files.get(entry["timestamp"]) if entry.get("timestamp") else None
    except (KeyError, TypeError, UnicodeDecodeError) as exc:
        report.add(label, False, f"its files are missing: {exc}")
        return None, 0
    fields = parse_statement(statement)
    if fields is None:
        report.add(label, False, "statement.txt is not a dunbot checkpoint statement")
        return None, 0
    if fields["tree_size"] != entry.get("tree_size") or fields["root_hash"] != entry.get("root_hash"):
        report.add(label, False, "the manifest's tree size or root differs from the signed statement")
        return None, 0
    trust, tsa_trust = anchors
    check = verify_checkpoint_signature(
        statement, signature, certificate, timestamp, trust, tsa_trust=tsa_trust
    )
    if check.certificate_sha256:
        report.signed_by[str(entry["signature"])] = (check.signer, check.certificate_sha256)
    if check.problems:
        report.add(label, False, "; ".join(check.problems))
        return None, 0
    if label == "checkpoint":
        report.timestamp = check.timestamp
    stamped = f", {check.timestamp.describe()}" if check.timestamp else ""
    report.add(label, True, f"{fields['tree_size']} events, root {fields['root_hash'][:16]}…{stamped}")
    return bytes.fromhex(fields["root_hash"]), int(fields["tree_size"])


def _events(pack: _Pack, manifest: dict[str, Any], root: bytes, size: int, report: PackReport) -> None:
    bad = 0
    for entry in manifest["events"]:
        seq = entry.get("seq")
        label = f"event {seq}"
        body = pack.files.get(str(entry.get("file")))
        if body is None:
            bad += not report.add(label, False, f"{entry.get('file')} is missing")
            continue
        problems = _event_problems(entry, body, root, size)
        if problems:
            bad += not report.add(label, False, "; ".join(problems))
    report.events = len(manifest["events"])
    if not bad:
        report.add("events", True, f"{report.events} events, each proven in the checkpoint's tree")


def _event_problems(entry: dict[str, Any], body: bytes, root: bytes, size: int) -> list[str]:
    problems = []
    if hashlib.sha256(body).hexdigest() != entry.get("content_hash"):
        problems.append("its content hash does not match its body")
    try:
        parsed = parse_body(body)
    except NotCanonical as exc:
        problems.append(f"its body is not canonical evidence: {exc}")
    except (ValueError, RecursionError):
        problems.append("its body is not JSON")
    else:
        if not isinstance(parsed, dict):
            problems.append("its body is not a JSON object")
        elif canonical_bytes(parsed) != body:
            problems.append("its body is not in canonical form")
        elif parsed.get("seq") != entry.get("seq"):
            problems.append("its body has another sequence number")
        elif entry.get("body") != parsed:
            problems.append("the manifest's copy of the event differs from the hashed body")
    leaf = hashlib.sha256(b"\x00" + body).digest()
    if leaf.hex() != entry.get("leaf_hash"):
        problems.append("its leaf hash is not SHA-256(0x00 ‖ body)")
    try:
        proof = [bytes.fromhex(node) for node in entry.get("inclusion_proof", [])]
        index = int(entry.get("seq", 0)) - 1
    except (ValueError, TypeError):
        return [*problems, "its inclusion proof is not hex"]
    if not verify_inclusion(index, size, leaf, proof, root):
        problems.append("its inclusion proof does not lead to the checkpoint's root")
    return problems


def _consistency(
    pack: _Pack,
    manifest: dict[str, Any],
    root: bytes,
    size: int,
    anchors: _Anchors,
    report: PackReport,
) -> None:
    for entry in manifest["consistency"]:
        old = entry.get("from", {})
        label = f"consistency from checkpoint {old.get('id')}"
        old_root, old_size = _checkpoint(pack, old, f"checkpoint {old.get('id')}", anchors, report)
        if old_root is None:
            report.add(label, False, "its earlier checkpoint does not verify")
            continue
        try:
            proof = [bytes.fromhex(node) for node in entry.get("proof", [])]
        except (ValueError, TypeError):
            report.add(label, False, "the proof is not hex")
            continue
        ok = verify_consistency(old_size, size, old_root, root, proof)
        report.add(label, ok, "" if ok else "the log of this pack does not extend that checkpoint")


def _prior(prior: Path, manifest: dict[str, Any], root: bytes, size: int, report: PackReport) -> None:
    label = f"prior {prior.name}"
    try:
        old_statement = _prior_statement(prior)
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as exc:
        report.add(label, False, f"cannot read the earlier pack's checkpoint: {exc}")
        return
    fields = parse_statement(old_statement)
    if fields is None:
        report.add(label, False, "the earlier pack's checkpoint statement is not one")
        return
    old_size, old_root = int(fields["tree_size"]), fields["root_hash"]
    if old_size == size:
        ok = old_root == root.hex()
        report.add(
            label, ok, "same checkpoint" if ok else "same tree size, different root: the log was rewritten"
        )
        return
    for entry in manifest["consistency"]:
        source = entry.get("from", {})
        if source.get("tree_size") == old_size and source.get("root_hash") == old_root:
            ok = verify_consistency(
                old_size,
                size,
                bytes.fromhex(old_root),
                root,
                [bytes.fromhex(n) for n in entry.get("proof", [])],
            )
            report.add(
                label, ok, f"this log extends its checkpoint of {old_size} events" if ok else "not extended"
            )
            return
    report.add(
        label,
        False,
        f"this pack carries no proof that its log extends the earlier checkpoint ({old_size} events, "
        f"root {old_root[:16]}…): that checkpoint is not one this log grew from",
    )


def _prior_statement(prior: Path) -> bytes:
    """The checkpoint statement of the earlier pack, read with the same bounds as the pack's own."""
    with _Pack(prior) as earlier:
        name = earlier.json("manifest.json")["checkpoint"]["statement"]
        statement = earlier.files.get(name)
        if statement is None:
            raise ValueError(earlier.problem(name) or f"{name} is missing")
        return statement


def _artifacts(pack: _Pack, manifest: dict[str, Any], report: PackReport) -> None:
    bad = 0
    named: set[str] = set()
    for event_entry in manifest["events"]:
        body = pack.files.get(str(event_entry.get("file")))
        if body is not None:
            try:
                parsed = parse_body(body)
            except (ValueError, RecursionError):
                continue  # reported with the event
            if isinstance(parsed, dict):
                named.update(referenced_artifacts(parsed.get("data")))
    listed = {entry["sha256"]: entry for entry in manifest["artifacts"]}
    for digest in sorted(named - set(listed)):
        bad += not report.add(f"artifact {digest}", False, "named by an event but missing from the pack")
    for digest, entry in sorted(listed.items()):
        data = pack.files.get(str(entry.get("file")))
        if data is None:
            bad += not report.add(f"artifact {digest}", False, "missing from the pack")
        elif hashlib.sha256(data).hexdigest() != digest:
            bad += not report.add(f"artifact {digest}", False, "its content does not match its SHA-256")
        elif digest not in named:
            bad += not report.add(f"artifact {digest}", False, "no event of the pack names it")
    report.artifacts = len(listed)
    if not bad:
        report.add("artifacts", True, f"{len(listed)} artifacts, each named by an event and intact")


def _customer_document(manifest: dict[str, Any], artifact: dict[str, Any]) -> bool:
    """An artifact only replies name (a customer's attachment, say a remittance advice PDF): the
    customer's document, kept intact (its hash is checked) but never signed by the company."""
    replies = {e.get("seq") for e in manifest["events"] if e.get("kind") == "reply_received"}
    named_by = set(artifact.get("named_by") or ())
    return bool(named_by) and named_by <= replies


def _pdfs(
    pack: _Pack, manifest: dict[str, Any], trust: Sequence[asn1_x509.Certificate], report: PackReport
) -> None:
    from bot.render.verification import verify_notice_bytes

    candidates = [str(manifest.get("chronology", "chronology.pdf"))]
    candidates += [str(e.get("file")) for e in manifest["artifacts"] if not _customer_document(manifest, e)]
    for name in candidates:
        data = pack.files.get(name)
        if data is None or not data.startswith(b"%PDF-"):
            if name == candidates[0]:
                report.add(name, False, "the chronology is missing or not a PDF")
            continue
        result = verify_notice_bytes(data, name, trust)
        report.pdfs += 1
        if result.signer_certificate_sha256:
            report.signed_by[name] = (result.signer_subject or "", result.signer_certificate_sha256)
        label = name if name == candidates[0] else f"signed PDF {name}"
        if result.problems:
            report.add(label, False, "; ".join(result.problems))
        elif name == candidates[0]:
            report.add(label, True, f"signed by {result.signer}, whole file covered")
    if report.pdfs > 1 and all(i.ok for i in report.items if i.item.startswith("signed PDF")):
        report.add("signed PDFs", True, f"{report.pdfs - 1} notices: signatures intact, whole files covered")


def _one_signer(report: PackReport) -> None:
    """Without an anchor, the manifest, every checkpoint and every signed PDF must be signed with one
    certificate: a pack assembled from files of several signers is not one signer's record. With
    one (``--trust``), each file's signer was checked against it, so several certificates — the
    company's, renewed — may sign one pack."""
    files_of: dict[str, list[str]] = {}
    subject_of: dict[str, str] = {}
    for name, (subject, sha256) in report.signed_by.items():
        files_of.setdefault(sha256, []).append(name)
        subject_of[sha256] = subject
    if not files_of:
        return
    if len(files_of) > 1 and report.anchor is not None:
        report.add(
            "signers",
            True,
            f"{len(files_of)} certificates sign the pack's files, each checked against the anchor: "
            + "; ".join(f"{subject_of[sha256]} (SHA-256 {sha256})" for sha256 in sorted(files_of)),
        )
        return
    if len(files_of) > 1:
        ordered = sorted(files_of.items(), key=lambda pair: "manifest.p7s" not in pair[1])
        report.add(
            "signers",
            False,
            "the pack's files have different signers: "
            + "; ".join(
                f"{', '.join(sorted(names))} signed by {subject_of[sha256]} (certificate SHA-256 {sha256})"
                for sha256, names in ordered
            )
            + ". Without --trust a pack must be signed by one certificate throughout; if the company "
            "renewed its certificate, pass --trust with its CA (or with every certificate it used)",
        )
        return
    (sha256,) = files_of
    detail = f"{len(report.signed_by)} signed files, one certificate: {subject_of[sha256]} (SHA-256 {sha256})"
    report.add("signers", True, detail)
