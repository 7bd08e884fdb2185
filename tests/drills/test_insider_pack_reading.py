"""Drill of issue 19, finding 7: a zip bomb made into a pack is an error, not a crash (DESIGN §6,
"a pack is read with bounds").

Each bomb is built here, byte by byte (a few MB at most), from a genuine pack exported by a real
cycle, and verified in its own process twice: by the real `dunbot evidence verify FILE` and by
``verify_pack``. Each must fail cleanly (exit 1, no traceback, no MemoryError), name the member, and
stay within :data:`BOUND` of peak memory above what verifying the genuine pack takes. The processes
run under an address-space limit of :data:`ADDRESS_SPACE`, so that the verifier of old (which
inflated every member whole: 2.2 GB for the 1.2 MB bomb) fails with a MemoryError instead of taking
the machine's memory.

The bombs:

* ``bomb_1_2mb``: the genuine pack plus one member of 1.2 MB inflating to 1.2 GB (finding 7);
* ``bomb_4_3mb``: plus four members of 1.1 MB, 4.3 GB in all (finding 7's MemoryError);
* ``hidden_artifact``: the 1.2 GB bomb as an artifact the manifest lists (files and artifacts);
* ``overlapping``: twelve entries sharing one compressed stream of 128 MiB (the "better zip bomb":
  each entry's data quotes the next entry's local header and goes on into the shared kernel);
* ``lying_header``: an artifact the manifest lists, whose central directory declares 4 KiB while its
  1.2 MB of deflate inflate to 1.2 GB.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.evidence.pack_reader import MAX_MEMBER, MAX_UNPACKED
from bot.store.engine import make_engine
from bot.store.migrate import upgrade
from tests.conftest import require_cjk_font
from tests.integration.test_evidence_pack import _cycle, _export, _seed, _settings

MiB = 1024 * 1024
ADDRESS_SPACE = 1536 * MiB  # the verifier's whole address space (it needs about 300-600 MiB)
BOUND = 100 * MiB  # peak RSS a bomb may cost beyond the genuine pack's verification
ZEROS = bytes(MiB)


@dataclass(frozen=True)
class _Entry:
    """A zip member as the central directory declares it, its data already at ``offset``."""

    name: str
    offset: int
    method: int
    crc: int
    compressed: int
    declared: int


def _local_header(name: str, method: int, crc: int, compressed: int, declared: int) -> bytes:
    encoded = name.encode()
    return (
        struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, compressed, declared, len(encoded), 0
        )
        + encoded
    )


def _finish_zip(path: Path, body: bytes, entries: list[_Entry]) -> Path:
    """``body`` (the local headers and data) followed by a central directory of ``entries``."""
    directory = bytearray()
    for entry in entries:
        encoded = entry.name.encode()
        directory += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            entry.method,
            0,
            0x21,
            entry.crc,
            entry.compressed,
            entry.declared,
            len(encoded),
            0,
            0,
            0,
            0,
            0,
            entry.offset,
        )
        directory += encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), len(body), 0)
    path.write_bytes(body + directory + end)
    return path


class _Zip:
    """A zip written member by member, each with the sizes and CRC the test chooses."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.entries: list[_Entry] = []

    def stored(self, name: str, data: bytes) -> None:
        self.raw(name, zipfile.ZIP_STORED, data, zlib.crc32(data), len(data))

    def raw(self, name: str, method: int, data: bytes, crc: int, declared: int) -> None:
        self.entries.append(_Entry(name, len(self.body), method, crc, len(data), declared))
        self.body += _local_header(name, method, crc, len(data), declared) + data

    def write(self, path: Path) -> Path:
        return _finish_zip(path, bytes(self.body), self.entries)


def _deflated_zeros(mib: int, final: bool = True) -> bytes:
    """Raw deflate of ``mib`` MiB of zeros, about 1 KB per MiB: one MiB compressed once and flushed
    to a byte boundary with no back-reference across it, repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = compressor.compress(ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    return one * mib + (b"\x03\x00" if final else b"")  # 03 00: an empty final block


def _zeros_crc(mib: int, crc: int = 0) -> int:
    for _ in range(mib):
        crc = zlib.crc32(ZEROS, crc)
    return crc


def _genuine_files(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _with_listed_artifact(files: dict[str, bytes], name: str, digest: str, size: int) -> dict[str, bytes]:
    """The genuine pack's files with the manifest listing ``name`` as an artifact (in ``files`` and
    ``artifacts``), as a forger who rewrites the manifest would."""
    manifest = json.loads(files["manifest.json"])
    manifest["files"][name] = digest
    manifest["artifacts"].append({"sha256": digest, "file": name, "size": size, "names": [], "named_by": []})
    return {**files, "manifest.json": json.dumps(manifest).encode()}


def bomb_1_2mb(genuine: Path, out: Path) -> tuple[Path, str]:
    archive = _Zip()
    for name, data in _genuine_files(genuine).items():
        archive.stored(name, data)
    archive.raw("attachment.bin", zipfile.ZIP_DEFLATED, _deflated_zeros(1200), 0, 1200 * MiB)
    return archive.write(out), "attachment.bin"


def bomb_4_3mb(genuine: Path, out: Path) -> tuple[Path, str]:
    archive = _Zip()
    for name, data in _genuine_files(genuine).items():
        archive.stored(name, data)
    kernel = _deflated_zeros(1050)
    for part in range(4):
        archive.raw(f"part{part}.bin", zipfile.ZIP_DEFLATED, kernel, 0, 1050 * MiB)
    return archive.write(out), "part0.bin"


def hidden_artifact(genuine: Path, out: Path) -> tuple[Path, str]:
    name = f"artifacts/{'b' * 64}"
    archive = _Zip()
    for member, data in _with_listed_artifact(_genuine_files(genuine), name, "b" * 64, 1200 * MiB).items():
        archive.stored(member, data)
    archive.raw(name, zipfile.ZIP_DEFLATED, _deflated_zeros(1200), 0, 1200 * MiB)
    return archive.write(out), name


def lying_header(genuine: Path, out: Path) -> tuple[Path, str]:
    name = f"artifacts/{'c' * 64}"
    archive = _Zip()
    for member, data in _with_listed_artifact(_genuine_files(genuine), name, "c" * 64, 4096).items():
        archive.stored(member, data)
    archive.raw(name, zipfile.ZIP_DEFLATED, _deflated_zeros(1200), 0, 4096)  # declares 4 KiB
    return archive.write(out), name


def overlapping(genuine: Path, out: Path) -> tuple[Path, str]:
    """Twelve entries listed in the manifest whose compressed data overlap: entry i's data is a stored
    deflate block quoting entry i+1's local header, then the same from there on, then one kernel of
    128 MiB of zeros. Every entry inflates the kernel again; the CRCs are right, so a reader without
    bounds keeps them all (1.5 GB)."""
    count, kernel_mib = 12, 128
    names = [f"artifacts/{index:064x}" for index in range(count)]
    files = _genuine_files(genuine)
    for name in names:
        files = _with_listed_artifact(files, name, "0" * 64, kernel_mib * MiB)
    archive = _Zip()
    for member, data in files.items():
        archive.stored(member, data)
    kernel = _deflated_zeros(kernel_mib)
    # From the last entry back: its local header (CRC and sizes there are not read by zipfile; the
    # central directory's are), and what each entry before it inflates to.
    headers = [_local_header(name, zipfile.ZIP_DEFLATED, 0, 0, 0) for name in names]
    quotes = [struct.pack("<BHH", 0, len(h), len(h) ^ 0xFFFF) for h in headers]  # non-final, stored
    start = len(archive.body)
    # Each entry i (but the last) is: header_i, then a quote of header_{i+1}; the last: header, kernel.
    layout = bytearray()
    offsets = []
    for index, header in enumerate(headers):
        offsets.append(start + len(layout))
        layout += header
        if index + 1 < count:
            layout += quotes[index + 1]
    layout += kernel
    end = start + len(layout)
    entries = []
    for index, name in enumerate(names):
        data_start = offsets[index] + len(headers[index])
        inflated = b"".join(headers[index + 1 :])
        crc = _zeros_crc(kernel_mib, zlib.crc32(inflated))
        entries.append(
            _Entry(
                name,
                offsets[index],
                zipfile.ZIP_DEFLATED,
                crc,
                end - data_start,
                len(inflated) + kernel_mib * MiB,
            )
        )
    archive.body += layout
    archive.entries += entries
    return archive.write(out), names[0]


def prior_manifest_bomb(genuine: Path, out: Path) -> tuple[Path, str]:
    """An earlier pack (for ``--prior``) whose manifest.json is the 1.2 GB bomb."""
    archive = _Zip()
    archive.raw("manifest.json", zipfile.ZIP_DEFLATED, _deflated_zeros(1200), 0, 1200 * MiB)
    return archive.write(out), "manifest.json"


BOMBS = {
    "bomb_1_2mb": bomb_1_2mb,
    "prior_manifest_bomb": prior_manifest_bomb,
    "bomb_4_3mb": bomb_4_3mb,
    "hidden_artifact": hidden_artifact,
    "overlapping": overlapping,
    "lying_header": lying_header,
}


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
    peak_rss: int  # bytes


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _measured(args: list[str], folder: Path, label: str, timeout: float = 120) -> _Run:
    """``args`` in a child process under the address-space limit, with its peak RSS (from wait4)."""
    out, err = folder / f"{label}.stdout", folder / f"{label}.stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen(
            args,
            cwd=folder,
            stdout=stdout,
            stderr=stderr,
            env={"PATH": "/usr/bin:/bin", "HOME": str(folder), "COLUMNS": "250"},
            preexec_fn=_limit_address_space,
        )
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.02)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return _Run(child.returncode, out.read_text(), err.read_text(), usage.ru_maxrss * 1024)


_VERIFY_PACK = """
import json, sys
from pathlib import Path
from bot.evidence.pack_verify import verify_pack
prior = Path(sys.argv[2]) if len(sys.argv) > 2 else None
print(json.dumps(verify_pack(Path(sys.argv[1]), prior=prior).as_json()))
"""


def _verified(pack: Path, prior: Path | None = None) -> tuple[_Run, _Run]:
    """The pack verified in two processes at once: by `dunbot evidence verify FILE [--prior FILE]`,
    as a user types it, and by ``verify_pack``, as the console and the demo call it."""
    earlier = [str(prior)] if prior else []
    cli = [
        sys.executable,
        "-m",
        "bot",
        "evidence",
        "verify",
        str(pack),
        *(["--prior", *earlier] if prior else []),
    ]
    library = [sys.executable, "-c", _VERIFY_PACK, str(pack), *earlier]
    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(_measured, args, pack.parent, f"{pack.stem}-{label}")
            for label, args in (("cli", cli), ("library", library))
        ]
        return runs[0].result(), runs[1].result()


@pytest.fixture(scope="module")
def baseline(genuine_pack: Path) -> dict[str, int]:
    """Peak RSS of verifying the genuine pack (it must be ok), by the CLI and by verify_pack."""
    cli, library = _verified(genuine_pack)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert library.returncode == 0 and json.loads(library.stdout)["ok"], library.stdout + library.stderr
    return {"cli": cli.peak_rss, "library": library.peak_rss}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_finding_7_a_zip_bomb_made_into_a_pack_is_a_clean_failure_within_bounded_memory(
    bomb: str, genuine_pack: Path, baseline: dict[str, int], tmp_path: Path
) -> None:
    pack, member = BOMBS[bomb](genuine_pack, tmp_path / f"{bomb}.zip")
    assert pack.stat().st_size < 5 * MiB  # a few MB on disk, gigabytes declared or inflated

    # The earlier pack of --prior is read with the same bounds as the pack's own.
    cli, library = _verified(genuine_pack, prior=pack) if bomb.startswith("prior") else _verified(pack)
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
    assert MAX_UNPACKED >= 8 * MAX_MEMBER  # the total cap leaves room for several large members


def bomb_300mib(genuine: Path, out: Path) -> tuple[Path, str]:
    """The genuine pack plus one member of 300 KB inflating to 300 MiB: past the verifier's cap on a
    member, within the console's cap on an upload's total."""
    archive = _Zip()
    for name, data in _genuine_files(genuine).items():
        archive.stored(name, data)
    archive.raw("attachment.bin", zipfile.ZIP_DEFLATED, _deflated_zeros(300), _zeros_crc(300), 300 * MiB)
    return archive.write(out), "attachment.bin"


@pytest.mark.parametrize("bomb", ["lying_header", "bomb_300mib"])
def test_finding_7_the_console_verifies_an_uploaded_bomb_within_the_same_bounds(
    bomb: str, genuine_pack: Path, console_server: Any, tmp_path: Path
) -> None:
    """`POST /evidence/verify`: an upload within the console's 500 MiB refusal is verified by the
    same bounded reader, and the page shows its failure naming the member."""
    from bot.web.console.evidence_page import MAX_UNPACKED as CONSOLE_MAX_UNPACKED
    from tests.integration.test_console_evidence_limits import _multipart, _post, _session

    pack, member = {"lying_header": lying_header, "bomb_300mib": bomb_300mib}[bomb](
        genuine_pack, tmp_path / f"{bomb}.zip"
    )
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
    assert ("zip bomb" if bomb == "bomb_300mib" else "Bad CRC-32") in failure, failure
