"""The write-once, content-addressed artifact store."""

from __future__ import annotations

import hashlib
import os
import stat
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
