"""Drill of issue 19, finding 7: a zip bomb made into a pack is an error, not a crash (DESIGN §6,
"a pack is read with bounds").

Each bomb of tests/support/zip_bombs.py (a few MB at most, built from a genuine pack exported by a
real cycle) is verified in two processes: by `dunbot evidence verify FILE` and by ``verify_pack``.
Each must fail cleanly (exit 1, no traceback, no MemoryError), name the member, and stay within
:data:`BOUND` of peak memory (VmHWM, the process's own) above what verifying the genuine pack takes.
The processes run under an address-space limit of :data:`ADDRESS_SPACE`, so that a verifier without
bounds (today's main inflated every member whole: 2.2 GB for the 1.2 MB bomb) ends in a MemoryError
instead of taking the shared machine's memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.evidence.pack_reader import MAX_MEMBER
from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from tests.conftest import require_cjk_font
from tests.integration.test_evidence_pack import _cycle, _export, _seed, _settings
from tests.support.zip_bombs import BOMBS, MiB

ADDRESS_SPACE = 1536 * MiB  # the verifier's whole address space (it needs about 300-600 MiB)
BOUND = 100 * MiB  # peak RSS a bomb may cost beyond the genuine pack's verification
IN_CHILDREN = sorted(set(BOMBS) - {"bomb_300mib"})  # that one is the console's (below)


@pytest.fixture(scope="module")
def genuine_pack(tmp_path_factory: pytest.TempPathFactory, trial_certificate: Any) -> Path:
    """A pack exported by a real cycle: the customer C1's, verified ok."""
    require_cjk_font()
    folder = tmp_path_factory.mktemp("genuine")
    engine = make_engine(f"sqlite:///{folder / 'dunbot.db'}")
    upgrade(engine)
    settings = _settings(folder, trial_certificate)
    _seed(engine)
    _cycle(engine, settings)
    _export(engine, settings, folder / "c1.zip", customer="C1")
    engine.dispose()
    return folder / "c1.zip"


@dataclass(frozen=True)
class _Run:
    returncode: int
    stdout: str
    stderr: str
    peak_rss: int  # bytes: VmHWM, the child's own (ru_maxrss would carry over pytest's from fork)


# The child: under the address-space limit, `python -m bot ARGS` (mode cli) or verify_pack(PACK,
# prior=PRIOR) printed as JSON (mode library); its VmHWM written to PEAK whatever happens.
_CHILD = f"""
import json, resource, runpy, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))
peak, mode, *args = sys.argv[1:]
try:
    if mode == "cli":
        sys.argv = ["dunbot", *args]
        runpy.run_module("bot", run_name="__main__", alter_sys=True)
    else:
        from bot.evidence.pack_verify import verify_pack
        prior = Path(args[1]) if len(args) > 1 else None
        print(json.dumps(verify_pack(Path(args[0]), prior=prior).as_json()))
finally:
    status = Path("/proc/self/status").read_text().splitlines()
    Path(peak).write_text(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def _measured(mode: str, args: list[str], folder: Path) -> _Run:
    peak = folder / f"{mode}.peak"
    peak.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(peak), mode, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder), "COLUMNS": "250"},
    )
    return _Run(done.returncode, done.stdout, done.stderr, int(peak.read_text()) * 1024)


def _verified(pack: Path, folder: Path, prior: Path | None = None) -> tuple[_Run, _Run]:
    """The pack verified in two processes at once: by `dunbot evidence verify FILE [--prior FILE]`,
    as a user types it, and by ``verify_pack``, as the console and the demo call it."""
    earlier = [str(prior)] if prior else []
    cli = ["evidence", "verify", str(pack), *(["--prior", *earlier] if prior else [])]
    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(_measured, "cli", cli, folder),
            pool.submit(_measured, "library", [str(pack), *earlier], folder),
        ]
        return runs[0].result(), runs[1].result()


@pytest.fixture(scope="module")
def baseline(genuine_pack: Path) -> dict[str, int]:
    """Peak RSS of verifying the genuine pack (it must be ok), by the CLI and by verify_pack."""
    cli, library = _verified(genuine_pack, genuine_pack.parent)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert library.returncode == 0 and json.loads(library.stdout)["ok"], library.stdout + library.stderr
    return {"cli": cli.peak_rss, "library": library.peak_rss}


@pytest.mark.parametrize("bomb", IN_CHILDREN)
def test_finding_7_a_zip_bomb_made_into_a_pack_is_a_clean_failure_within_bounded_memory(
    bomb: str, genuine_pack: Path, baseline: dict[str, int], tmp_path: Path
) -> None:
    pack, member = BOMBS[bomb](genuine_pack, tmp_path / f"{bomb}.zip")
    assert pack.stat().st_size < 5 * MiB  # a few MB on disk, gigabytes declared or inflated

    # The earlier pack of --prior is read with the same bounds as the pack's own.
    if bomb.startswith("prior"):
        cli, library = _verified(genuine_pack, tmp_path, prior=pack)
    else:
        cli, library = _verified(pack, tmp_path)
    assert "Traceback" not in cli.stderr and "MemoryError" not in cli.stderr, cli.stderr[-2000:]
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert member in cli.stdout.replace("\n", "") or member in cli.stderr.replace("\n", ""), cli.stdout
    assert cli.peak_rss < baseline["cli"] + BOUND, f"{cli.peak_rss / MiB:.0f} MiB"

    assert "Traceback" not in library.stderr, library.stderr[-2000:]
    report = json.loads(library.stdout)
    assert report["ok"] is False
    failed = [item for item in report["items"] if not item["ok"]]
    assert any(member in f"{item['item']} {item['detail']}" for item in failed), failed
    assert library.peak_rss < baseline["library"] + BOUND, f"{library.peak_rss / MiB:.0f} MiB"


def test_finding_7_each_bomb_is_refused_for_what_it_is(genuine_pack: Path, tmp_path: Path) -> None:
    """In process: the refusal names the bound, and members the manifest does not list are never
    inflated (a bomb beside a pack's own files is refused from the directory alone)."""
    from bot.evidence.pack_verify import verify_pack

    def first(bomb: str) -> str:
        report = verify_pack(BOMBS[bomb](genuine_pack, tmp_path / f"{bomb}.zip")[0])
        return f"{report.failures[0].item}: {report.failures[0].detail}"

    assert first("bomb_1_2mb") == (
        f"pack: member attachment.bin inflates beyond {MAX_MEMBER // MiB} MiB (it declares 1,200 MiB): "
        "not an evidence pack dunbot wrote (a zip bomb?)"
    )
    assert "inflates beyond" in first("bomb_4_3mb")
    assert first("overlapping").startswith(f"pack: members artifacts/{0:064x} and artifacts/{1:064x} overlap")
    lying = verify_pack(BOMBS["lying_header"](genuine_pack, tmp_path / "lying.zip")[0])
    assert [f.item for f in lying.failures if "CRC" in f.detail] == [f"artifacts/{'c' * 64}"]


@pytest.mark.parametrize("bomb", ["lying_header", "bomb_300mib"])
def test_finding_7_the_console_verifies_an_uploaded_bomb_within_the_same_bounds(
    bomb: str, genuine_pack: Path, console_server: Any, tmp_path: Path
) -> None:
    """`POST /evidence/verify`: an upload within the console's 500 MiB refusal is verified by the
    same bounded reader, and the page shows its failure naming the member."""
    from bot.web.console.evidence_page import MAX_UNPACKED as CONSOLE_MAX_UNPACKED
    from tests.integration.test_console_evidence_limits import _multipart, _post, _session

    pack, member = BOMBS[bomb](genuine_pack, tmp_path / f"{bomb}.zip")
    with zipfile.ZipFile(pack) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    assert declared < CONSOLE_MAX_UNPACKED  # not refused by the console's own total
    cookie, csrf = _session(console_server, "lawyer@xinghe.com.cn", "legal")
    body, content_type = _multipart(
        [("csrf_token", csrf.encode(), None), ("pack", pack.read_bytes(), "b.zip")]
    )
    status, page = _post(console_server, "/evidence/verify", body, content_type, cookie)
    assert status == 200
    text = page.decode()
    failure = text[text.index(member) :][:600]
    expected = {
        "bomb_300mib": "inflates beyond 256 MiB (it declares 300 MiB): not an evidence pack dunbot wrote",
        "lying_header": "damaged, or it inflates to something else than the 4,096 bytes it declares",
    }
    assert expected[bomb] in failure, failure
