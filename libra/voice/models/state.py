"""What is installed: records for an installed model and its manifest file.

A downloaded model's folder holds :data:`MANIFEST`, written last before the folder
is moved into place: a folder without a readable manifest is never an installed
model.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from libra.voice.models.catalogue import ModelKind, ModelSpec

MANIFEST = "libra-model.json"
"""Name of the manifest in a downloaded model's folder."""
_FORMAT = 1


class Origin(StrEnum):
    """Where an installed model came from."""

    DOWNLOADED = "downloaded"
    PACKAGE = "package"


@dataclass(frozen=True, slots=True, kw_only=True)
class InstalledFile:
    """One file of an installed model, as it was when installed."""

    path: str
    """Relative to the model folder, with ``/`` separators."""
    size: int
    """Bytes."""
    sha256: str
    """Lower-case hex digest."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Installation:
    """An installed model."""

    name: str
    """The catalogue name."""
    kind: ModelKind
    """Its engine."""
    path: Path
    """The folder an engine loads."""
    origin: Origin
    """Downloaded by Libra, or provided by a package."""
    files: tuple[InstalledFile, ...]
    """Every file, with the digest it had when installed."""
    verified: bool
    """False when the catalogue had no digest and the one computed at download was kept."""
    package: str | None = None
    """``name version`` of the providing package."""

    @property
    def size(self) -> int:
        """Bytes on disk."""
        return sum(f.size for f in self.files)


def write_manifest(folder: Path, spec: ModelSpec, files: list[InstalledFile], *,
                   verified: bool) -> None:
    """Write the manifest into ``folder`` and flush it to disk."""
    data = {
        "format": _FORMAT, "name": spec.name, "kind": spec.kind.value,
        "languages": list(spec.languages), "verified": verified,
        "sources": [{"url": f.url, "size": f.size, "sha256": f.sha256} for f in spec.files],
        "files": [asdict(f) for f in sorted(files, key=lambda f: f.path)],
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = folder / MANIFEST
    with path.open("w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())


def read_manifest(folder: Path, spec: ModelSpec) -> Installation | None:
    """The installation recorded in ``folder``, or None if there is none (or a broken one)."""
    try:
        data: Any = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if data.get("format") != _FORMAT or data.get("name") != spec.name:
            return None
        files = tuple(InstalledFile(path=str(f["path"]), size=int(f["size"]),
                                    sha256=str(f["sha256"])) for f in data["files"])
        verified = bool(data.get("verified", False))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return Installation(name=spec.name, kind=spec.kind, path=folder,
                        origin=Origin.DOWNLOADED, files=files, verified=verified)
