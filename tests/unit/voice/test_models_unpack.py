"""Unpacking a model archive: whatever it names, nothing lands outside its folder."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from libra.errors import ModelArchiveUnsafe
from libra.voice.models.unpack import unpack_zip


def _zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def _symlink(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


@pytest.mark.parametrize("member", [
    ("model/../../escape.txt", b"x"),
    ("/etc/escape.txt", b"x"),
    ("C:/escape.txt", b"x"),
    ("model\\..\\..\\escape.txt", b"x"),
    _symlink("model/link", "/etc/passwd"),
])
def test_members_that_leave_the_folder_are_refused(tmp_path: Path,
                                                   member: tuple[str, bytes]) -> None:
    archive = _zip(tmp_path / "m.zip", [("model/am/final.mdl", b"ok"), member])
    dest = tmp_path / "out" / "model"
    dest.mkdir(parents=True)

    with pytest.raises(ModelArchiveUnsafe):
        unpack_zip(archive, dest, label="m.zip")

    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "out" / "escape.txt").exists()
    assert list(dest.iterdir()) == []  # refused before anything was written


def test_an_archive_expanding_far_beyond_its_size_is_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bomb.zip", [("model/zeros", bytes(30_000_000))])
    assert archive.stat().st_size < 100_000

    with pytest.raises(ModelArchiveUnsafe, match="expand beyond"):
        unpack_zip(archive, tmp_path, label="bomb.zip")


def test_a_damaged_archive_is_a_clear_error(tmp_path: Path) -> None:
    archive = tmp_path / "m.zip"
    archive.write_bytes(b"PK\x03\x04 not really a zip")

    with pytest.raises(ModelArchiveUnsafe, match="not a readable zip archive"):
        unpack_zip(archive, tmp_path, label="m.zip")


def test_the_single_top_folder_is_dropped_and_digests_recorded(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "m.zip", [("vosk-x/", b""), ("vosk-x/am/final.mdl", b"abc"),
                                        ("vosk-x/README", b"r")])
    dest = tmp_path / "out"
    dest.mkdir()

    files = unpack_zip(archive, dest, label="m.zip")

    assert sorted(f.path for f in files) == ["README", "am/final.mdl"]
    assert (dest / "am" / "final.mdl").read_bytes() == b"abc"
    assert next(f for f in files if f.path == "README").sha256 == (
        "454349e422f05297191ead13e21d3db520e5abef52055e4964b82fb213f593a1")
