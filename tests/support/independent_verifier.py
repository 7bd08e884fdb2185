"""An evidence pack verifier written from the pack's README.txt alone, as a court expert would.

It imports nothing of dunbot: the standard library, and the ``openssl`` and ``pdfsig`` commands the
README names. It checks what the README says to check, in its order: the manifest's CMS signature
(openssl cms -verify against checkpoint/signer.pem); every file against the manifest's "files" (and
SHA256SUMS against the manifest, and no file unlisted); every checkpoint's statement, CMS signature,
signer (one certificate for all) and RFC 3161 token (checked against the certificates it carries:
intact and for this statement); every event (content hash, canonical form, the manifest's copy,
leaf hash, inclusion proof, RFC 9162 §2.1.3.2); every consistency proof (§2.1.4.2); the artifacts
(present, named by their hash, named by an event); the signed PDFs (pdfsig, when installed).

The tests run it beside ``bot.evidence.pack_verify.verify_pack`` on every pack they make
(tests/conftest.py): the two must agree. Reading is bounded like dunbot's: a pack is refused when a
member is bigger than ``MAX_MEMBER`` or all together bigger than ``MAX_TOTAL``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

MAX_MEMBER = 64 << 20
MAX_TOTAL = 512 << 20
SIGNATURE_FILES = ("manifest.json", "manifest.p7s")
_STATEMENT = re.compile(
    r"\Adunbot evidence checkpoint v1\norigin: [^\n]*\ntree_size: (\d+)\nroot_hash: ([0-9a-f]{64})\n"
    r"time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\n\Z"
)


@dataclass
class Verdict:
    """Whether the pack holds, and every problem found."""

    pack: str
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, what: str) -> None:
        self.problems.append(what)


def verify(path: Path, *, pdfsig: bool = True) -> Verdict:
    """Verify the pack at ``path`` as README.txt says."""
    verdict = Verdict(str(path))
    try:
        files = _read(path)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError, ValueError) as exc:
        verdict.fail(f"not a readable pack: {type(exc).__name__}: {exc}")
        return verdict
    if any(name not in files for name in SIGNATURE_FILES):
        verdict.fail("manifest.json or manifest.p7s is missing")
        return verdict
    try:
        manifest = json.loads(files["manifest.json"])
        if not isinstance(manifest, dict):
            raise TypeError("not a JSON object")
        missing = [
            key
            for key in ("format", "checkpoint", "consistency", "events", "artifacts", "files")
            if key not in manifest
        ]
    except (ValueError, TypeError) as exc:
        verdict.fail(f"manifest.json is not a pack manifest: {exc}")
        return verdict
    if missing:
        verdict.fail(f"manifest.json lacks {', '.join(missing)}")
        return verdict
    if manifest["format"] != "dunbot-evidence-pack/1":
        verdict.fail(f"unknown format {manifest['format']!r}")
        return verdict
    try:
        with tempfile.TemporaryDirectory(prefix="independent-") as folder:
            _Check(Path(folder), files, manifest, verdict, pdfsig).run()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        verdict.fail(f"the manifest is malformed: {type(exc).__name__}: {exc}")
    return verdict


def _read(path: Path) -> dict[str, bytes]:
    """Every member, bounded: sizes are checked before reading and while reading."""
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(path) as archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if sum(info.file_size for info in infos) > MAX_TOTAL:
            raise ValueError("the members add up to more than a pack may hold")
        for info in infos:
            pure = PurePosixPath(info.filename)
            if pure.is_absolute() or ".." in pure.parts or info.filename in files:
                raise ValueError(f"unsafe or duplicate member {info.filename!r}")
            if info.file_size > MAX_MEMBER:
                raise ValueError(f"{info.filename} is too big")
            with archive.open(info) as stream:
                data = stream.read(MAX_MEMBER + 1)
            if len(data) > MAX_MEMBER:
                raise ValueError(f"{info.filename} is bigger than its header says")
            files[info.filename] = data
    return files


class _Check:
    def __init__(
        self, folder: Path, files: dict[str, bytes], manifest: dict[str, Any], verdict: Verdict, pdfsig: bool
    ) -> None:
        self.folder, self.files, self.manifest, self.verdict = folder, files, manifest, verdict
        self.pdfsig = shutil.which("pdfsig") if pdfsig else None
        self.signer = files.get(str(manifest["checkpoint"].get("certificate")))

    def run(self) -> None:
        self.file_hashes()
        if self.signer is None:
            self.verdict.fail("the checkpoint's signer certificate is missing")
            return
        self.cms("manifest.json", "manifest.p7s")
        root, size = self.checkpoint(self.manifest["checkpoint"])
        if root is not None:
            self.events(root, size)
            self.consistency(root, size)
        self.artifacts()
        self.pdfs()

    def fail(self, what: str) -> None:
        self.verdict.fail(what)

    # 1 and 2: the manifest's signature, and every file against it ------------------------------

    def file_hashes(self) -> None:
        listed: dict[str, str] = self.manifest["files"]
        for name, expected in listed.items():
            data = self.files.get(name)
            if data is None:
                self.fail(f"{name} is listed but missing")
            elif hashlib.sha256(data).hexdigest() != expected:
                self.fail(f"{name}: SHA-256 differs from the manifest's")
        for name in set(self.files) - set(listed) - set(SIGNATURE_FILES):
            self.fail(f"{name} is in the pack but not in the manifest")
        sums = self.files.get("SHA256SUMS")
        if "SHA256SUMS" in listed and sums is not None:
            lines = {tuple(line.split("  ", 1)[::-1]) for line in sums.decode("utf-8").splitlines()}
            wanted = {(name, digest) for name, digest in listed.items() if name != "SHA256SUMS"}
            if lines != wanted:
                self.fail("SHA256SUMS is not the manifest's list of files")
        self.verdict.checked.append(f"{len(listed)} files")

    def write(self, name: str) -> Path:
        target = self.folder / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.files[name])
        return target

    def cms(self, content: str, signature: str) -> bool:
        if content not in self.files or signature not in self.files:
            self.fail(f"{signature} or {content} is missing")
            return False
        result = subprocess.run(
            ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(self.write(signature)),
             "-content", str(self.write(content)), "-CAfile", str(self.write_signer()), "-purpose", "any",
             "-out", "/dev/null"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0 or "Verification successful" not in result.stderr:
            self.fail(f"{signature}: openssl cms -verify failed: {result.stderr.strip()[:200]}")
            return False
        return True

    def write_signer(self) -> Path:
        target = self.folder / "signer-of-checkpoint.pem"
        if not target.exists():
            assert self.signer is not None
            target.write_bytes(self.signer)
        return target

    # 3: the checkpoints ----------------------------------------------------------------------------

    def checkpoint(self, entry: dict[str, Any]) -> tuple[bytes | None, int]:
        label = f"checkpoint {entry.get('id')}"
        names = [entry.get("statement"), entry.get("signature"), entry.get("certificate")]
        if any(name not in self.files for name in names):
            self.fail(f"{label}: its files are missing")
            return None, 0
        statement, signature, certificate = (str(name) for name in names)
        match = _STATEMENT.match(self.files[statement].decode("utf-8", "replace"))
        if match is None:
            self.fail(f"{label}: {statement} is not a checkpoint statement")
            return None, 0
        size, root = int(match[1]), match[2]
        if size != entry.get("tree_size") or root != entry.get("root_hash"):
            self.fail(f"{label}: the manifest's tree size or root differs from the statement")
            return None, 0
        if _der(self.files[certificate]) != _der(self.signer or b""):
            self.fail(f"{label}: signed with another certificate than checkpoint/signer.pem")
            return None, 0
        if not self.cms(statement, signature):
            return None, 0
        timestamp = entry.get("timestamp")
        if timestamp and not self.timestamp(statement, str(timestamp), label):
            return None, 0
        return bytes.fromhex(root), size

    def timestamp(self, statement: str, token: str, label: str) -> bool:
        if token not in self.files:
            self.fail(f"{label}: {token} is missing")
            return False
        carried = subprocess.run(
            ["openssl", "pkcs7", "-inform", "DER", "-in", str(self.write(token)), "-print_certs"],
            capture_output=True, check=False,
        )  # fmt: skip
        authority = self.folder / f"{token}.certs.pem"
        authority.write_bytes(carried.stdout)
        result = subprocess.run(
            ["openssl", "ts", "-verify", "-data", str(self.write(statement)), "-in", str(self.write(token)),
             "-token_in", "-CAfile", str(authority), "-partial_chain"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if carried.returncode != 0 or "Verification: OK" not in result.stdout:
            self.fail(f"{label}: the timestamp token is damaged or not for this statement")
            return False
        return True

    # 4: the events ---------------------------------------------------------------------------------

    def events(self, root: bytes, size: int) -> None:
        for entry in self.manifest["events"]:
            seq, name = entry.get("seq"), str(entry.get("file"))
            label = f"event {seq}"
            body = self.files.get(name)
            if body is None:
                self.fail(f"{label}: {name} is missing")
                continue
            if hashlib.sha256(body).hexdigest() != entry.get("content_hash"):
                self.fail(f"{label}: content hash")
            try:
                parsed = json.loads(body.decode("utf-8"), parse_float=_no_float, parse_constant=_no_float)
            except ValueError as exc:
                self.fail(f"{label}: not canonical JSON ({exc})")
                parsed = None
            if parsed is not None:
                canonical = json.dumps(parsed, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                if not isinstance(parsed, dict) or canonical.encode("utf-8") != body:
                    self.fail(f"{label}: not in canonical form")
                elif parsed.get("seq") != seq or entry.get("body") != parsed:
                    self.fail(f"{label}: the manifest's copy or seq differs from the file")
            leaf = hashlib.sha256(b"\x00" + body).digest()
            if leaf.hex() != entry.get("leaf_hash"):
                self.fail(f"{label}: leaf hash")
            try:
                proof = [bytes.fromhex(node) for node in entry.get("inclusion_proof", [])]
                index = int(seq) - 1
            except (TypeError, ValueError):
                self.fail(f"{label}: the inclusion proof is not hex")
                continue
            if _inclusion_root(index, size, leaf, proof) != root:
                self.fail(f"{label}: the inclusion proof does not lead to the checkpoint's root")
        self.verdict.checked.append(f"{len(self.manifest['events'])} events")

    # 6: consistency --------------------------------------------------------------------------------

    def consistency(self, root: bytes, size: int) -> None:
        for entry in self.manifest["consistency"]:
            old = entry.get("from", {})
            old_root, old_size = self.checkpoint(old)
            if old_root is None:
                continue
            try:
                proof = [bytes.fromhex(node) for node in entry.get("proof", [])]
            except (TypeError, ValueError):
                self.fail(f"consistency from {old.get('id')}: the proof is not hex")
                continue
            if not _consistent(old_size, size, old_root, root, proof):
                self.fail(f"consistency from checkpoint {old.get('id')}: the proof does not hold")

    # artifacts and PDFs ----------------------------------------------------------------------------

    def artifacts(self) -> None:
        named: set[str] = set()
        for entry in self.manifest["events"]:
            try:
                body = json.loads(self.files.get(str(entry.get("file")), b"{}"))
            except ValueError:
                continue  # failed with the event
            if isinstance(body, dict):
                named.update(_named(body.get("data")))
        listed = {entry["sha256"]: entry for entry in self.manifest["artifacts"]}
        for digest in named - set(listed):
            self.fail(f"artifact {digest}: named by an event, missing from the pack")
        for digest, entry in listed.items():
            name = str(entry.get("file"))
            data = self.files.get(name)
            if data is None:
                self.fail(f"artifact {digest}: missing")
            elif hashlib.sha256(data).hexdigest() != digest or not name.startswith(f"artifacts/{digest}"):
                self.fail(f"artifact {digest}: its content or file name does not match its SHA-256")
            elif digest not in named:
                self.fail(f"artifact {digest}: no event of the pack names it")

    def pdfs(self) -> None:
        if self.pdfsig is None:
            return
        subject = subprocess.run(
            ["openssl", "x509", "-in", str(self.write_signer()), "-noout", "-subject",
             "-nameopt", "multiline,utf8,-esc_msb"],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
        common = re.search(r"commonName\s*=\s*(.+)", subject)
        names = [str(self.manifest.get("chronology", "chronology.pdf"))]
        # A PDF only replies name is the customer's own document (a remittance advice): not signed by us.
        replies = {e.get("seq") for e in self.manifest["events"] if e.get("kind") == "reply_received"}
        names += [
            str(e.get("file"))
            for e in self.manifest["artifacts"]
            if not (e.get("named_by") and set(e["named_by"]) <= replies)
        ]
        for name in names:
            data = self.files.get(name)
            if data is None or not data.startswith(b"%PDF-"):
                if name == names[0]:
                    self.fail("chronology.pdf is missing or not a PDF")
                continue
            shown = subprocess.run(
                [self.pdfsig, str(self.write(name))], capture_output=True, text=True, check=False
            ).stdout
            if "Signature is Valid." not in shown or "Total document signed" not in shown:
                self.fail(f"{name}: pdfsig does not find a valid signature over the whole file")
            elif common is None or f"Signer Certificate Common Name: {common[1].strip()}" not in shown:
                self.fail(f"{name}: signed by another signer than checkpoint/signer.pem")


def _der(pem: bytes) -> bytes:
    """The certificate a PEM file holds (line ends and armour aside)."""
    lines = pem.decode("ascii", "replace").split()
    body = "".join(line for line in lines if not line.startswith("-----") and "CERTIFICATE" not in line)
    try:
        return base64.b64decode(body, validate=False)
    except ValueError:
        return b""


def _no_float(text: str) -> Any:
    raise ValueError(f"{text} is not an integer")


def _named(data: Any) -> Iterator[str]:
    """The artifact hashes an event's data names (README section 0)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("_sha256") and isinstance(value, str):
                yield value
            elif key == "artifacts" and isinstance(value, list | dict):
                values = value.values() if isinstance(value, dict) else value
                yield from (v for v in values if isinstance(v, str))
            else:
                yield from _named(value)
    elif isinstance(data, list):
        for value in data:
            yield from _named(value)


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _inclusion_root(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes | None:
    """README section 4 (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0 or len(p) != 32:
            return None
        if fn % 2 == 1 or fn == sn:
            r = _node(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def _consistent(m: int, n: int, first: bytes, second: bytes, proof: list[bytes]) -> bool:
    """README section 6 (RFC 9162 §2.1.4.2)."""
    if m == n:
        return not proof and first == second
    if m == 0:
        return not proof
    if m > n or not proof or any(len(c) != 32 for c in proof):
        return False
    path = [first, *proof] if m & (m - 1) == 0 else list(proof)
    fn, sn = m - 1, n - 1
    while fn % 2 == 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first and sr == second and sn == 0
