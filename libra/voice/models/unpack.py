"""Unpacking a model archive without trusting it.

Even an archive whose checksum matched is unpacked defensively: a catalogue entry
may be wrong, and a zip can name ``../../etc/cron.d/x``, an absolute path, a
symlink, or expand to far more than it weighs. Each of those is refused before
anything is written, and the bytes actually written are counted too, since the
sizes in a zip's directory are only claims.
"""

from __future__ import annotations

import hashlib
import stat
import zipfile
from pathlib import Path, PurePosixPath

from libra.errors import ModelArchiveUnsafe
from libra.voice.models.state import InstalledFile

MAX_ENTRIES = 10_000
"""Most members an archive may have."""
EXPANSION_LIMIT = 20
"""An archive may unpack to at most this many times its own size."""
_CHUNK = 1 << 20


def unpack_zip(archive: Path, dest: Path, *, label: str) -> list[InstalledFile]:
    """Unpack ``archive`` into the existing, empty folder ``dest``.

    A single top-level folder shared by every member (``vosk-model-small-en-us-0.15/``)
    is dropped, so the model's files sit directly in ``dest``.

    Args:
        archive: the zip file.
        dest: an empty folder.
        label: names the archive in messages.

    Returns:
        The files written, with their sizes and SHA-256 digests.

    Raises:
        ModelArchiveUnsafe: a member escapes ``dest``, is a link or device, or the
            archive is damaged or expands too far.
    """
    budget = max(archive.stat().st_size * EXPANSION_LIMIT, 1 << 20)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            paths = _checked_paths(label, zf.infolist(), members, budget)
            written: list[InstalledFile] = []
            total = 0
            for member, relative in zip(members, paths, strict=True):
                target = dest.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                size = 0
                with zf.open(member) as source, target.open("xb") as out:
                    while block := source.read(_CHUNK):
                        size += len(block)
                        total += len(block)
                        if total > budget:
                            raise ModelArchiveUnsafe(
                                f"{label} expands beyond {budget} bytes")
                        digest.update(block)
                        out.write(block)
                written.append(InstalledFile(path=relative.as_posix(), size=size,
                                             sha256=digest.hexdigest()))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as err:
        raise ModelArchiveUnsafe(f"{label} is not a readable zip archive: {err}") from err
    if not written:
        raise ModelArchiveUnsafe(f"{label} holds no files")
    return written


def _checked_paths(archive: str, every: list[zipfile.ZipInfo], members: list[zipfile.ZipInfo],
                   budget: int) -> list[PurePosixPath]:
    if len(every) > MAX_ENTRIES:
        raise ModelArchiveUnsafe(f"{archive} has {len(every)} members (limit {MAX_ENTRIES})")
    if sum(m.file_size for m in members) > budget:
        raise ModelArchiveUnsafe(f"{archive} claims to expand beyond {budget} bytes")
    paths: list[PurePosixPath] = []
    for member in every:
        name = member.filename
        path = PurePosixPath(name.replace("\\", "/"))
        mode = member.external_attr >> 16
        if (not name or "\x00" in name or path.is_absolute() or name.startswith(("/", "\\"))
                or ":" in path.parts[0] or ".." in path.parts):
            raise ModelArchiveUnsafe(f"{archive} has a member outside its folder: {name!r}")
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no type recorded
            raise ModelArchiveUnsafe(f"{archive} has a link or special file: {name!r}")
        if not member.is_dir():
            paths.append(path)
    tops = {p.parts[0] for p in paths}
    if len(tops) == 1 and all(len(p.parts) > 1 for p in paths):
        paths = [PurePosixPath(*p.parts[1:]) for p in paths]
    if len(set(paths)) != len(paths):
        raise ModelArchiveUnsafe(f"{archive} names a file twice")
    return paths
