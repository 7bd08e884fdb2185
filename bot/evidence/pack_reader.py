"""Reading an evidence pack's zip with bounds, so that a zip bomb is an error, not a crash (DESIGN §6).

A pack comes from outside (an expert, a court, an upload on the console), so nothing in its zip is
trusted before it is checked:

* before anything is inflated, the central directory must look like one dunbot writes: names relative,
  without ``..``, each once; members stored or deflated, not encrypted, not overlapping (the "better
  zip bomb" shares one compressed stream between many entries); each member's declared size within
  :data:`MAX_MEMBER` (:data:`MAX_MANIFEST` for ``manifest.json`` and ``manifest.p7s``) and all of
  them within :data:`MAX_UNPACKED`;
* ``manifest.json`` and ``manifest.p7s`` are read first; after that only the members the manifest
  lists in ``files`` are ever inflated, the others are only named;
* each read asks zipfile for no more than the member declares (plus one byte), or for a chunk of
  :data:`_CHUNK` when hashing, so that no call inflates more (``ZipFile.read`` inflates up to 2 GiB
  in one call whatever the member declares: 2.2 GB of memory for the 1.2 MB bomb of issue 19); what
  comes out is counted, and a member that inflates to other than it declares fails its CRC-32 or the
  count: an error naming it;
* hashes are streamed; members are kept in memory only up to :data:`_KEPT` bytes in all.

Real packs are far inside the caps: a 1,000-event case is 8 MB, its largest member an e-mail of a
few hundred KB. A refusal is a :class:`PackRefused`, whose message is the report's detail.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

MiB = 1024 * 1024
MAX_MANIFEST = 64 * MiB  # manifest.json (every event in full, with its proof) and manifest.p7s
MAX_MEMBER = 256 * MiB  # any other member: an event, a checkpoint file, an artifact, the chronology
MAX_UNPACKED = 2048 * MiB  # all members together
SIGNATURE_FILES = ("manifest.json", "manifest.p7s")
_CHUNK = MiB  # inflated per read: zipfile inflates at most this much per call
_KEPT = 64 * MiB  # members kept once read (a normal pack entirely), so each is inflated once
_LOCAL_HEADER = 30  # the fixed part of a zip local file header, before the name
_NOT_OURS = "not an evidence pack dunbot wrote"
_BOMB = f"{_NOT_OURS} (a zip bomb?)"


class PackRefused(ValueError):
    """The zip is not one dunbot could have written, or a member of it cannot be read within bounds."""


def _size(size: int) -> str:
    return f"{size / MiB:,.0f} MiB" if size >= MiB else f"{size:,} bytes"


class PackArchive:
    """An evidence pack's zip, open for bounded reading; use as a context manager.

    ``files`` maps each member's name to its bytes, read on access. A member that is not listed in the
    manifest, or cannot be read within bounds, is absent (``KeyError``, ``.get`` gives None) and
    :meth:`problem` says why; ``in`` and iteration name every member, read or not.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files: Mapping[str, bytes] = _Files(self)
        self._archive = zipfile.ZipFile(path)
        try:
            self._members = _checked_directory(self._archive)
            self._kept: dict[str, bytes] = {}
            self._kept_size = 0
            self._problems: dict[str, str] = {}
            self._parsed: dict[str, Any] = {}
            self._listed = frozenset(SIGNATURE_FILES)
            for name in SIGNATURE_FILES:  # read first; a refusal is the pack's failure
                if name in self._members:
                    self._kept[name] = self._read(name)
                    self._kept_size += len(self._kept[name])
            self._listed |= self._listed_in_manifest()
        except BaseException:
            self._archive.close()
            raise

    def _listed_in_manifest(self) -> frozenset[str]:
        """The names the manifest lists in ``files``: the only members ever inflated besides the
        manifest and its signature (none when the manifest is not one; the verifier reports that)."""
        try:
            manifest = self.json("manifest.json")
        except (KeyError, ValueError):
            return frozenset()
        files = manifest.get("files") if isinstance(manifest, dict) else None
        return frozenset(n for n in files if isinstance(n, str)) if isinstance(files, dict) else frozenset()

    def __enter__(self) -> PackArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the zip; members read so far stay readable."""
        self._archive.close()

    def json(self, name: str) -> Any:
        """The member ``name`` parsed as JSON (``KeyError`` when absent or unreadable, ``ValueError``
        when not JSON); parsed once."""
        if name not in self._parsed:
            try:
                self._parsed[name] = json.loads(self.files[name])
            except RecursionError as exc:
                raise ValueError(f"{name} nests too deeply") from exc
        return self._parsed[name]

    def problem(self, name: str) -> str | None:
        """Why the member ``name`` could not be read, once a read of it failed."""
        return self._problems.get(name)

    def sha256(self, name: str) -> str | None:
        """The SHA-256 (hex) of the member ``name``, streamed unless it is kept; None when it is not
        listed in the manifest or cannot be read (:meth:`problem` says why)."""
        if not self._readable(name):
            return None
        if name in self._kept or self._members[name].file_size <= _KEPT - self._kept_size:
            data = self.files.get(name)
            return None if data is None else hashlib.sha256(data).hexdigest()
        digest = hashlib.sha256()
        try:
            for chunk in self._chunks(name):
                digest.update(chunk)
        except PackRefused as exc:
            self._problems[name] = str(exc)
            return None
        return digest.hexdigest()

    def _readable(self, name: str) -> bool:
        return name in self._members and name in self._listed and name not in self._problems

    def _get(self, name: str) -> bytes:
        if name in self._kept:
            return self._kept[name]
        if not self._readable(name):
            raise KeyError(name)
        try:
            data = self._read(name)
        except PackRefused as exc:
            self._problems[name] = str(exc)
            raise KeyError(name) from exc
        if len(data) <= _KEPT - self._kept_size:
            self._kept[name] = data
            self._kept_size += len(data)
        return data

    def _read(self, name: str) -> bytes:
        """The member whole, in one read of at most its declared size (within its cap, checked with
        the directory) plus one byte, so that zipfile inflates no more than that."""
        info = self._members[name]
        with self._reading(name), self._archive.open(info) as stream:
            data = stream.read(info.file_size + 1)
        self._check_size(name, len(data))
        return data

    def _chunks(self, name: str) -> Iterator[bytes]:
        """The member in chunks of at most :data:`_CHUNK`, each inflated in one call of that size."""
        inflated = 0
        with self._reading(name), self._archive.open(self._members[name]) as stream:
            while chunk := stream.read(_CHUNK):
                inflated += len(chunk)
                self._check_size(name, inflated, at_end=False)
                yield chunk
        self._check_size(name, inflated)

    def _check_size(self, name: str, inflated: int, at_end: bool = True) -> None:
        # zipfile stops at the declared size (and then fails the CRC of a member that inflates
        # further); counted here too, so that no bound rests on zipfile alone.
        declared = self._members[name].file_size
        if inflated > declared:
            raise PackRefused(f"member {name} inflates beyond the {_size(declared)} it declares: {_BOMB}")
        if at_end and inflated != declared:
            raise PackRefused(
                f"member {name} inflates to {inflated:,} bytes, not the {declared:,} it declares"
            )

    @contextmanager
    def _reading(self, name: str) -> Iterator[None]:
        try:
            yield
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise PackRefused(
                f"member {name} cannot be read ({exc}): damaged, or it inflates to something else "
                f"than the {_size(self._members[name].file_size)} it declares"
            ) from exc


class _Files(Mapping[str, bytes]):
    """:attr:`PackArchive.files`: members by name, inflated (within bounds) on access."""

    def __init__(self, pack: PackArchive) -> None:
        self._pack = pack

    def __getitem__(self, name: str) -> bytes:
        return self._pack._get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._pack._members

    def __iter__(self) -> Iterator[str]:
        return iter(self._pack._members)

    def __len__(self) -> int:
        return len(self._pack._members)


def _checked_directory(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The pack's members by name, once the central directory looks like one dunbot writes (before
    anything is inflated); otherwise :class:`PackRefused` naming the first member that does not."""
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in archive.infolist():
        name = info.filename
        pure = PurePosixPath(name)
        if info.is_dir():
            continue
        if pure.is_absolute() or ".." in pure.parts or name in members:
            raise PackRefused(f"unsafe or duplicate entry {name!r}: {_NOT_OURS}")
        if info.flag_bits & 0x1:
            raise PackRefused(f"member {name} is encrypted: {_NOT_OURS}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise PackRefused(
                f"member {name} is compressed with method {info.compress_type} (dunbot deflates): {_NOT_OURS}"
            )
        cap = MAX_MANIFEST if name in SIGNATURE_FILES else MAX_MEMBER
        if info.file_size > cap:
            raise PackRefused(
                f"member {name} inflates beyond {_size(cap)} (it declares {_size(info.file_size)}): {_BOMB}"
            )
        total += info.file_size
        if total > MAX_UNPACKED:
            raise PackRefused(
                f"the members up to {name} inflate beyond {_size(MAX_UNPACKED)} in all: {_BOMB}"
            )
        members[name] = info
    _refuse_overlaps(archive.infolist())
    return members


def _refuse_overlaps(infos: list[zipfile.ZipInfo]) -> None:
    """Each member's compressed data must end before the next member's local header begins: the
    "better zip bomb" makes many entries share one compressed stream, each inflating it again."""
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for this, following in itertools.pairwise(ordered):
        name_size = len(this.filename.encode("utf-8" if this.flag_bits & 0x800 else "cp437", "replace"))
        if this.header_offset + _LOCAL_HEADER + name_size + this.compress_size > following.header_offset:
            raise PackRefused(f"members {this.filename} and {following.filename} overlap in the zip: {_BOMB}")


def declared_size(path: Path) -> int | None:
    """What the zip at ``path`` declares it unpacks to, in all (nothing inflated); None when it is not
    a readable zip (the verifier says so itself)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return None
