"""Issue 19, finding 10: the pack's README.txt must let a court expert check every piece by hand.

On main the README's `sha256sum` line left out `checkpoints/<id>/*`, `chain_hash` was not explained,
no reference of event kinds and fields, artifacts had no file extension, no worked consistency
proof, and nothing said what a pack cannot prove. Each is checked here on a real pack, and the
README's worked numbers are recomputed.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.evidence.log import EventKind
from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from tests.conftest import require_cjk_font, require_tool
from tests.integration.test_evidence_pack import NOON, _cycle, _export, _seed, _settings

_STEP = re.compile(
    r"printf '01%s%s' ([0-9a-f]{64}) \\\n\s+([0-9a-f]{64}) \| xxd -r -p \| sha256sum\n\s+= ([0-9a-f]{64})"
)


@pytest.fixture
def packed(sqlite_url: str, tmp_path: Path, trial_certificate: Any) -> Iterator[tuple[Path, Engine]]:
    """A second pack of customer C1, whose log grew since the first: it carries a consistency proof."""
    require_cjk_font()
    engine = make_engine(sqlite_url)
    upgrade(engine)
    settings: Settings = _settings(tmp_path, trial_certificate)
    _seed(engine)
    _cycle(engine, settings)
    _export(engine, settings, tmp_path / "first.zip", customer="C1")
    _cycle(engine, settings, NOON + timedelta(days=1))
    _export(engine, settings, tmp_path / "second.zip", customer="C1")
    folder = tmp_path / "second"
    with zipfile.ZipFile(tmp_path / "second.zip") as archive:
        archive.extractall(folder)
    yield folder, engine
    engine.dispose()


def _section(readme: str, number: int) -> str:
    start = re.search(rf"^{number}\. ", readme, re.M)
    assert start is not None, f"section {number} is missing"
    end = re.search(rf"^{number + 1}\. ", readme[start.end() :], re.M)
    return readme[start.start() : start.end() + end.start()] if end else readme[start.start() :]


def test_finding_10_the_pack_readme_lets_an_expert_check_everything(packed: tuple[Path, Engine]) -> None:
    sha256sum = require_tool("sha256sum")
    folder, _ = packed
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_bytes())
    assert manifest["consistency"], "the second pack should carry a consistency proof"

    # sha256sum covers every file, checkpoints/<id>/* included, and passes
    assert "sha256sum -c SHA256SUMS" in readme
    checked = subprocess.run(
        [sha256sum, "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True, check=True
    ).stdout
    ok = {line.removesuffix(": OK") for line in checked.splitlines() if line.endswith(": OK")}
    assert ok == set(manifest["files"]) - {"SHA256SUMS"}
    assert any(name.startswith("checkpoints/") and name.endswith("/signature.p7s") for name in ok)
    assert hashlib.sha256((folder / "SHA256SUMS").read_bytes()).hexdigest() == manifest["files"]["SHA256SUMS"]

    # chain_hash explained, and its worked example recomputes
    chain = _section(readme, 5)
    assert "SHA-256(previous event's chain_hash ‖ this event's content_hash)" in chain
    assert "32 zero bytes" in chain and "other customers' events" in chain
    worked = re.search(
        r"printf '%s%s' ([0-9a-f]{64}) \\\n\s+([0-9a-f]{64}) \| xxd -r -p \| sha256sum\n\s+= ([0-9a-f]{64})",
        chain,
    )
    assert worked is not None
    previous, content, result = (bytes.fromhex(worked[i]) for i in (1, 2, 3))
    assert hashlib.sha256(previous + content).digest() == result
    assert result.hex() in {e["chain_hash"] for e in manifest["events"]}

    # every kind of event, with its fields
    kinds = _section(readme, 9)
    for kind in EventKind:
        assert re.search(rf"^   {kind.value}: .+\n      data: ", kinds, re.M), kind.value

    # artifacts carry an extension from their content, still named by their hash
    for artifact in manifest["artifacts"]:
        assert re.fullmatch(rf"artifacts/{artifact['sha256']}\.(pdf|eml|json|txt|bin)", artifact["file"])
        data = (folder / artifact["file"]).read_bytes()
        if "message.eml" in artifact["names"]:
            assert artifact["file"].endswith(".eml")
        if data.startswith(b"%PDF-"):
            assert artifact["file"].endswith(".pdf")

    # a worked consistency proof from this pack's own numbers, every step recomputed
    consistency = _section(readme, 6)
    entry = manifest["consistency"][-1]
    old, new = entry["from"], manifest["checkpoint"]
    assert f"m = {old['tree_size']}, FR = {old['root_hash']}" in consistency
    assert f"n = {new['tree_size']}, SR = {new['root_hash']}" in consistency
    steps = _STEP.findall(consistency)
    assert steps
    for left, right, value in steps:
        assert hashlib.sha256(b"\x01" + bytes.fromhex(left) + bytes.fromhex(right)).hexdigest() == value
    for node in entry["proof"]:
        assert node in consistency
    fr = re.search(r"^   fr = ([0-9a-f]{64}) = FR", consistency, re.M)
    sr = re.search(r"^   sr = ([0-9a-f]{64}) = SR", consistency, re.M)
    assert fr is not None and sr is not None
    assert fr[1] == old["root_hash"] and sr[1] == new["root_hash"]
    assert fr[1] in {value for *_, value in steps} | {old["root_hash"]}
    assert sr[1] == steps[-1][2]  # the last hash computed is the new root
    for name, statement in ((old["statement"], old), (new["statement"], new)):
        assert f"root_hash: {statement['root_hash']}" in (folder / name).read_text(encoding="utf-8")

    # the worked inclusion proof still checks out
    inclusion = _section(readme, 4)
    steps = _STEP.findall(inclusion)
    for left, right, value in steps:
        assert hashlib.sha256(b"\x01" + bytes.fromhex(left) + bytes.fromhex(right)).hexdigest() == value
    assert steps[-1][2] == new["root_hash"]

    # what the pack cannot prove
    limits = _section(readme, 10)
    assert "CANNOT PROVE" in limits
    assert "complete" in limits and "after the newest checkpoint" in limits.replace("\n     ", " ")
    assert "clock" in limits and "RFC 3161" in limits and "fingerprint" in limits
    assert f"checkpoint {new['id']}" in limits
