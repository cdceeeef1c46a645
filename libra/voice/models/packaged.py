"""Models that an installed Python package provides (found without a download).

The package's own RECORD (written by pip from the wheel) names each file with its
size and SHA-256, so a packaged model can be located and verified without importing
the package.
"""

from __future__ import annotations

import base64
import importlib.metadata
from pathlib import Path

from libra.voice.models.catalogue import ModelSpec
from libra.voice.models.state import Installation, InstalledFile, Origin


def find_packaged(spec: ModelSpec) -> Installation | None:
    """The copy of ``spec`` an installed package provides, or None."""
    copy = spec.package
    if copy is None:
        return None
    try:
        dist = importlib.metadata.distribution(copy.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    prefix = copy.folder.rstrip("/") + "/"
    files: list[InstalledFile] = []
    for record in dist.files or ():
        path = record.as_posix()
        if not path.startswith(prefix) or record.hash is None or record.hash.mode != "sha256":
            continue
        files.append(InstalledFile(path=path[len(prefix):], size=record.size or 0,
                                   sha256=_hex(record.hash.value)))
    folder = Path(str(dist.locate_file(copy.folder)))
    if not files or not folder.is_dir():
        return None  # an install broken by hand: nothing usable there
    return Installation(
        name=spec.name, kind=spec.kind, path=folder, origin=Origin.PACKAGE,
        files=tuple(sorted(files, key=lambda f: f.path)), verified=True,
        package=f"{dist.metadata['Name']} {dist.version}",
    )


def _hex(record_digest: str) -> str:
    # RECORD writes digests as unpadded urlsafe base64.
    padded = record_digest + "=" * (-len(record_digest) % 4)
    return base64.urlsafe_b64decode(padded).hex()
