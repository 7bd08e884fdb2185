"""The write-once, content-addressed artifact store."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

import pytest

from bot.errors import EvidenceError
from bot.evidence.artifacts import ArtifactStore


def test_put_stores_by_hash_read_only_and_is_idempotent(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    data = "律师函 PDF bytes".encode()
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    path = tmp_path / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == data
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert store.put(data) == digest
    assert store.get(digest) == data and store.exists(digest)
    assert [p.name for p in path.parent.iterdir()] == [digest]  # no temporary files left behind


def test_put_makes_the_name_durable_before_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut cannot be staged here: record what put() fsyncs and renames (both still run)."""
    calls: list[object] = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(descriptor: int) -> None:
        calls.append(os.fstat(descriptor).st_ino)
        fsync(descriptor)

    def recording_replace(source: str, target: object) -> None:
        replace(source, target)  # type: ignore[arg-type]
        calls.append("replace")

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    root = tmp_path / "artifacts"
    store = ArtifactStore(root)
    path = store.path_of(store.put(b"first"))
    inodes = [p.stat().st_ino for p in (path.parent, path.parent.parent, root, tmp_path)]
    # the bytes, the rename, then the folder holding the name and each new folder's parent
    assert calls == [path.stat().st_ino, "replace", *inodes]
    calls.clear()
    second = store.path_of(store.put(b"second"))
    assert calls[:3] == [second.stat().st_ino, "replace", second.parent.stat().st_ino]
    assert tmp_path.stat().st_ino not in calls  # the store's root was made durable already
    calls.clear()
    store.put(b"second")  # stored already: nothing written, its folder synced again (cheap)
    assert calls == [second.parent.stat().st_ino]
    calls.clear()
    # a store opened on an existing tree syncs each folder into its parent once
    ArtifactStore(root).put(b"first")
    assert calls == inodes


def test_verify_reports_missing_and_altered(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    digest = store.put(b"provider response")
    assert store.verify(digest) is None
    path = store.path_of(digest)
    path.chmod(0o644)
    path.write_bytes(b"provider response!")
    assert store.verify(digest) not in (None, "missing")
    path.unlink()
    assert store.verify(digest) == "missing"


def test_a_digest_must_be_a_sha256(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="not a SHA-256"):
        ArtifactStore(tmp_path).path_of("../../etc/passwd")


def test_verify_hashes_every_byte_of_a_file_larger_than_one_read(tmp_path: Path) -> None:
    """An artifact of several read buffers is hashed to its last byte: a change there is found."""
    store = ArtifactStore(tmp_path)
    data = os.urandom(3 << 20) + b"tail"  # three 1 MiB reads and a short one
    digest = store.put(data)
    assert store.verify_all([digest]) == [(digest, None)]
    path = store.path_of(digest)
    path.chmod(0o644)
    path.write_bytes(data[:-1] + b"T")
    assert store.verify(digest) == "content does not match its SHA-256"
    path.write_bytes(data[:-1])  # cut short by one byte
    assert store.verify(digest) == "content does not match its SHA-256"


def test_verify_all_answers_each_digest_in_order(tmp_path: Path) -> None:
    """One call checks many artifacts with one buffer; each answer is that artifact's own."""
    store = ArtifactStore(tmp_path)
    intact, altered, missing, folder = (store.put(f"artifact {i}".encode()) for i in range(4))
    store.path_of(altered).chmod(0o644)
    store.path_of(altered).write_bytes(b"artifact 1!")
    store.path_of(missing).unlink()
    store.path_of(folder).unlink()
    store.path_of(folder).mkdir()
    empty = hashlib.sha256(b"").hexdigest()
    store.put(b"")
    assert store.verify_all([intact, altered, missing, folder, "nothex", empty]) == [
        (intact, None),
        (altered, "content does not match its SHA-256"),
        (missing, "missing"),
        (folder, "not a file"),
        ("nothex", "not a SHA-256 digest"),
        (empty, None),
    ]


@pytest.mark.skipif(
    not hasattr(os, "O_NOATIME") or os.geteuid() != 0, reason="needs Linux and root to be another user"
)
def test_verify_by_someone_not_owning_the_files_reads_them_all_the_same() -> None:
    """Reading without the access time is the owner's privilege: another user's verify is refused that
    once, then reads as usual and still tells intact from altered."""
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        os.chmod(folder, 0o755)
        store = ArtifactStore(Path(folder))
        intact, altered = store.put(b"signed notice"), store.put(b"raw e-mail")
        store.path_of(altered).chmod(0o644)
        store.path_of(altered).write_bytes(b"raw e-mail, altered")
        reading, writing = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through the pipe
            try:
                os.setuid(65534)  # nobody: owns none of the files, which are root's
                answer = ArtifactStore(Path(folder)).verify_all([intact, altered])
                os.write(writing, repr(answer).encode())
            finally:
                os._exit(0)
        os.close(writing)
        with os.fdopen(reading) as pipe:
            answer = pipe.read()
        os.waitpid(child, 0)
    assert answer == repr([(intact, None), (altered, "content does not match its SHA-256")])


@pytest.mark.skipif(not hasattr(os, "O_NOATIME"), reason="Linux only")
def test_verify_leaves_the_access_time_alone(tmp_path: Path) -> None:
    """A verify by the files' owner writes no inode: a day-old access time stays as it was (relatime
    would otherwise renew it, half a million inode writes for a daily verify of a large log)."""
    store = ArtifactStore(tmp_path)
    digest = store.put(b"provider request")
    path = store.path_of(digest)
    days_ago = path.stat().st_mtime_ns - 3 * 86_400 * 10**9
    os.utime(path, ns=(days_ago, path.stat().st_mtime_ns))
    assert store.verify(digest) is None
    assert path.stat().st_atime_ns == days_ago
