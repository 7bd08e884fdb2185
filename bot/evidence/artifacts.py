"""A write-once, content-addressed artifact store: files named by their SHA-256.

Signed PDFs, raw e-mails, provider requests and responses are kept here; evidence events name
them by hash. A file is written once, atomically, made read-only, and never overwritten.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from bot.errors import EvidenceError

_HASH = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20  # read at a time when verifying: most artifacts (2–100 KB) in one read


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class ArtifactStore:
    """Artifacts under ``root/ab/cd/<sha256>``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = os.fspath(root)
        self._durable: set[Path] = set()  # folders of the tree whose own name is synced
        self._noatime = getattr(os, "O_NOATIME", 0)  # Linux only; cleared when refused

    def path_of(self, digest: str) -> Path:
        """Where the artifact with this SHA-256 (lower-case hex) lives."""
        if not _HASH.match(digest):
            raise EvidenceError(f"{digest!r} is not a SHA-256 hex digest")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Store ``data`` (idempotent) and return its SHA-256, its name durable on disk."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_of(digest)
        folder = target.parent
        if target.exists():  # perhaps just renamed by another thread that has not synced it yet
            self._sync_names(folder, [])
            return digest
        created: list[Path] = []  # the folders mkdir makes, deepest first
        missing = folder
        while not missing.is_dir():
            created.append(missing)
            missing = missing.parent
        folder.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename: a crash never leaves a half-written artifact
        # under its final name.
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o444)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._sync_names(folder, created)
        return digest

    def _sync_names(self, folder: Path, created: list[Path]) -> None:
        # A name is durable only once the folder holding it is synced: the file's in ``folder``,
        # each new folder's in its parent. The evidence event naming the artifact is committed
        # after put() returns. Folders of the store's tree are synced into their parents once per
        # store (another thread may have made one and not synced it yet: whoever gets here first
        # syncs it; a second sync is harmless).
        _fsync_folder(folder)
        synced = {folder}
        for new in created:
            if new.parent not in synced:
                _fsync_folder(new.parent)
                synced.add(new.parent)
            self._durable.add(new)
        for known in (folder, folder.parent, self.root):
            if known not in self._durable:
                if known.parent not in synced:
                    _fsync_folder(known.parent)
                    synced.add(known.parent)
                self._durable.add(known)

    def put_file(self, path: Path) -> str:
        """Store a file's bytes and return its SHA-256."""
        return self.put(path.read_bytes())

    def exists(self, digest: str) -> bool:
        """True when the artifact is present (its content is not checked)."""
        return self.path_of(digest).exists()

    def get(self, digest: str) -> bytes:
        """The artifact's bytes, checked against its name."""
        path = self.path_of(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise EvidenceError(f"artifact {digest} is missing from {self.root}") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise EvidenceError(f"artifact {digest} does not match its hash: the file was altered")
        return data

    def verify(self, digest: str) -> str | None:
        """None when the artifact is present and intact, else what is wrong with it."""
        return self.verify_all([digest])[0][1]

    def verify_all(self, digests: Iterable[str]) -> list[tuple[str, str | None]]:
        """Each digest with None when its artifact is present and intact, else what is wrong with it.

        Every file is read to its end and hashed whole. Verification reads every artifact of the log
        (half a million small files for a million events), so this is the lean way: plain strings,
        a descriptor rather than a file object (which costs an fstat, an isatty and a buffer of its
        own per file), and one buffer for all the reads.
        """
        buffer = bytearray(_CHUNK)
        view = memoryview(buffer)
        return [(digest, self._check(digest, buffer, view)) for digest in digests]

    def _check(self, digest: str, buffer: bytearray, view: memoryview) -> str | None:
        if not _HASH.match(digest):
            return "not a SHA-256 digest"
        path = os.path.join(self._root, digest[:2], digest[2:4], digest)
        try:
            descriptor = self._open(path)
        except FileNotFoundError:
            return "missing"
        except OSError as exc:
            return f"cannot be read: {exc.strerror or exc}"
        try:
            hashed = hashlib.sha256()
            while read := os.readv(descriptor, (buffer,)):  # to the end of the file, whatever its size
                hashed.update(view[:read])
        except IsADirectoryError:
            return "not a file"
        except OSError as exc:
            return f"cannot be read: {exc.strerror or exc}"
        finally:
            os.close(descriptor)
        return None if hashed.hexdigest() == digest else "content does not match its SHA-256"

    def _open(self, path: str) -> int:
        # Without touching the access time: relatime would write each file's inode back once a day,
        # half a million inode writes for a daily verify. Only the files' owner (or root) may ask so;
        # anyone else is refused once and then reads them as usual.
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC | self._noatime)
        except PermissionError as exc:
            if not (self._noatime and exc.errno == errno.EPERM):
                raise
            self._noatime = 0
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
