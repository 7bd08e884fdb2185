"""The verifier written from README.txt alone (tests/support/independent_verifier.py) passes a fresh
pack and fails each kind of tampering, exactly as dunbot's own verifier does.

Most tamperings here re-sign the manifest with the company key (after updating its file hashes), as
an insider holding the key could: the signature and the file hashes then hold, and the deeper check
— canonical form, leaf, inclusion or consistency proof, artifact name, PDF signature — must fail.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.evidence.pack_verify import verify_pack
from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from tests.conftest import require_cjk_font, require_tool
from tests.integration.test_evidence_pack import NOON, _cycle, _export, _flip, _seed, _settings
from tests.support.independent_verifier import verify

Change = Callable[[dict[str, bytes], dict[str, Any]], None]


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory, trial_certificate: Any) -> Iterator[Path]:
    """A second pack of C1 (made once; the tests only read it): it carries an earlier checkpoint
    and a consistency proof."""
    require_cjk_font()
    require_tool("openssl")
    folder = tmp_path_factory.mktemp("independent")
    engine = make_engine(f"sqlite:///{folder}/dunbot.db")
    upgrade(engine)
    settings = _settings(folder, trial_certificate)
    _seed(engine)
    _cycle(engine, settings)
    _export(engine, settings, folder / "first.zip", customer="C1")
    _cycle(engine, settings, NOON + timedelta(days=1))
    _export(engine, settings, folder / "pack.zip", customer="C1")
    yield folder / "pack.zip"
    engine.dispose()


def _tampered(pack: Path, out: Path, change: Change, signer: Any, *, resign: bool = True) -> Path:
    with zipfile.ZipFile(pack) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    sums = files["SHA256SUMS"]
    change(files, manifest)
    if resign and files["SHA256SUMS"] == sums:  # kept in step, unless it is what was changed
        files["SHA256SUMS"] = "".join(
            f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n"
            for name in sorted(manifest["files"])
            if name != "SHA256SUMS"
        ).encode()
    if resign:
        for name in list(manifest["files"]):
            if name in files:
                manifest["files"][name] = hashlib.sha256(files[name]).hexdigest()
    if manifest != json.loads(files["manifest.json"]):
        files["manifest.json"] = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    if resign:
        files["manifest.p7s"] = signer.sign_detached(files["manifest.json"])
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out


def _hex_flip(value: str) -> str:
    return ("0" if value[0] != "0" else "1") + value[1:]


def _event_file(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    name = manifest["events"][1]["file"]
    files[name] = files[name].replace(b'"actor":"', b'"actor":"x', 1)
    manifest["events"][1]["body"] = json.loads(files[name])


def _inclusion(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    proof = manifest["events"][0]["inclusion_proof"]
    proof[0] = _hex_flip(proof[0])


def _consistency(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    proof = manifest["consistency"][0]["proof"]
    proof[-1] = _hex_flip(proof[-1])


def _manifest_copy(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    manifest["events"][0]["body"]["actor"] = "user:somebody-else"


def _artifact(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    entry = next(a for a in manifest["artifacts"] if not files[a["file"]].startswith(b"%PDF-"))
    files[entry["file"]] = files[entry["file"]] + b" "


def _sums(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    files["SHA256SUMS"] = files["SHA256SUMS"].replace(b"  README.txt\n", b"  README.TXT\n")


def _statement(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    name = manifest["consistency"][0]["from"]["statement"]
    files[name] = files[name].replace(b"time: 20", b"time: 19")


def _earlier_signature(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    name = manifest["consistency"][0]["from"]["signature"]
    files[name] = _flip(files[name], len(files[name]) - 20)  # inside the RSA signature


def _pdf(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    chronology = files["chronology.pdf"]
    files["chronology.pdf"] = _flip(chronology, chronology.index(b"stream", 200) + 40)


def _unlisted(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    files["artifacts/extra.txt"] = b"not named by any event"


TAMPERINGS: dict[str, tuple[Change, bool]] = {
    "a byte of the manifest, not re-signed": (
        lambda files, manifest: manifest.update({"exported_by": "user:legam"}),
        False,
    ),
    "an event file, its hash updated": (_event_file, True),
    "an inclusion proof": (_inclusion, True),
    "a consistency proof": (_consistency, True),
    "the manifest's copy of an event": (_manifest_copy, True),
    "an artifact, its hash in the file list updated": (_artifact, True),
    "SHA256SUMS": (_sums, True),
    "an earlier checkpoint's statement": (_statement, True),
    "an earlier checkpoint's signature": (_earlier_signature, True),
    "the chronology PDF": (_pdf, True),
    "a file the manifest does not list": (_unlisted, False),
}


def test_a_fresh_pack_passes_both_verifiers(pack: Path) -> None:
    independent = verify(pack)
    assert independent.ok, independent.problems
    assert verify_pack(pack).ok
    manifest = json.loads(zipfile.ZipFile(pack).read("manifest.json"))
    assert manifest["consistency"] and f"{len(manifest['events'])} events" in independent.checked


@pytest.mark.parametrize("what", sorted(TAMPERINGS))
def test_each_kind_of_tampering_fails_both_verifiers(
    pack: Path, tmp_path: Path, notice_signer: Any, what: str
) -> None:
    change, resign = TAMPERINGS[what]
    tampered = _tampered(pack, tmp_path / "tampered.zip", change, notice_signer, resign=resign)
    independent = verify(tampered)
    dunbot = verify_pack(tampered)
    assert not independent.ok, f"the independent verifier passed a pack with a changed {what}"
    assert not dunbot.ok, f"dunbot passed a pack with a changed {what}"
    if resign:  # the re-signed manifest holds: a deeper check caught it
        assert not any(p.startswith("manifest.p7s") for p in independent.problems), independent.problems
        assert "manifest.p7s" not in {i.item for i in dunbot.failures}
