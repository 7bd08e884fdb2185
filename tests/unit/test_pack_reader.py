"""The bounded reader of evidence packs (bot/evidence/pack_reader.py) on small zips made here: what it
refuses from the central directory alone, and that members the manifest does not list are never
inflated."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from bot.evidence import pack_reader
from bot.evidence.pack_reader import PackArchive, PackRefused, declared_size


def _zip(path: Path, files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _manifest(*listed: str) -> bytes:
    return json.dumps({"files": {name: "0" * 64 for name in listed}}).encode()


def test_members_are_read_on_access_and_those_not_listed_never(tmp_path: Path) -> None:
    pack = _zip(
        tmp_path / "p.zip", {"manifest.json": _manifest("a.txt"), "a.txt": b"a" * 5000, "b.txt": b"b"}
    )
    # b.txt's data is made unreadable: a reader that inflated it would fail on it.
    data = bytearray(pack.read_bytes())
    at = data.index(b"b.txt") + len(b"b.txt")
    data[at : at + 3] = b"\xff\xff\xff"
    pack.write_bytes(bytes(data))
    with PackArchive(pack) as archive:
        assert sorted(archive.files) == ["a.txt", "b.txt", "manifest.json"] and "b.txt" in archive.files
        assert archive.files["a.txt"] == b"a" * 5000
        assert archive.sha256("a.txt") is not None
        assert archive.files.get("b.txt") is None and archive.sha256("b.txt") is None
        assert archive.problem("b.txt") is None  # not read, so no read failed
        assert archive.json("manifest.json") == json.loads(_manifest("a.txt"))


@pytest.mark.parametrize(
    ("files", "compression", "refusal"),
    [
        ({"../x": b""}, zipfile.ZIP_STORED, "unsafe or duplicate entry '../x'"),
        ({"/etc/x": b""}, zipfile.ZIP_STORED, "unsafe or duplicate entry '/etc/x'"),
        ({"a": b"x" * 100}, zipfile.ZIP_BZIP2, "member a is compressed with method 12 (dunbot deflates)"),
        ({"a": b"x" * 100}, zipfile.ZIP_LZMA, "member a is compressed with method 14 (dunbot deflates)"),
    ],
)
def test_the_directory_is_refused_before_anything_is_inflated(
    tmp_path: Path, files: dict[str, bytes], compression: int, refusal: str
) -> None:
    with pytest.raises(PackRefused, match="not an evidence pack dunbot wrote") as refused:
        PackArchive(_zip(tmp_path / "p.zip", files, compression))
    assert str(refused.value).startswith(refusal)


def test_caps_on_a_member_the_manifest_and_the_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pack_reader, "MAX_MEMBER", 1000)
    monkeypatch.setattr(pack_reader, "MAX_MANIFEST", 2000)
    monkeypatch.setattr(pack_reader, "MAX_UNPACKED", 3000)
    ok = {"manifest.json": b" " * 2000, "a": b"a" * 1000}
    with PackArchive(_zip(tmp_path / "ok.zip", ok)) as archive:
        assert len(archive.files) == 2
    for files, refusal in (
        ({"a": b"a" * 1001}, "member a inflates beyond 1,000 bytes (it declares 1,001 bytes)"),
        ({"manifest.json": b" " * 2001}, "member manifest.json inflates beyond 2,000 bytes"),
        (
            {"a": b"a" * 1000, "b": b"b" * 1000, "c": b"c" * 1000, "d": b"d"},
            "the members up to d inflate beyond",
        ),
    ):
        with pytest.raises(PackRefused, match=r"\(a zip bomb\?\)$") as refused:
            PackArchive(_zip(tmp_path / "p.zip", files))
        assert str(refused.value).startswith(refusal)


def test_a_member_that_inflates_to_other_than_it_declares_is_an_error_naming_it(tmp_path: Path) -> None:
    pack = _zip(tmp_path / "p.zip", {"manifest.json": _manifest("a"), "a": b"a" * 10_000})
    data = bytearray(pack.read_bytes())
    central = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 1)  # a's entry
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")  # declares 100 bytes
    pack.write_bytes(bytes(data))
    with PackArchive(pack) as archive:
        assert archive.files.get("a") is None
        assert "member a cannot be read (Bad CRC-32" in (archive.problem("a") or "")
        assert archive.sha256("a") is None  # not read again


def test_declared_size_reads_only_the_directory(tmp_path: Path) -> None:
    assert declared_size(_zip(tmp_path / "p.zip", {"a": b"a" * 300, "b": b"b" * 200})) == 500
    (tmp_path / "not.zip").write_bytes(b"not a zip")
    assert declared_size(tmp_path / "not.zip") is None
