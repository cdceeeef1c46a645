"""Where models live on disk, what is installed, and checking it.

Layout under the models folder (``voice.models_dir``, default ``<data_dir>/models``)::

    <kind>/<name>/              an installed model (with its manifest)
    <kind>/.tmp-<name>-*/       being unpacked; never seen as installed
    .partial/<kind>/<name>/     downloads in progress (``*.part``), kept to resume
    .locks/<kind>-<name>.lock   one lock per model (``flock``)
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from libra.errors import ModelNotInstalled, ModelProvidedByPackage, ModelsFolderReadOnly
from libra.voice.models.catalogue import ModelSpec
from libra.voice.models.packaged import find_packaged
from libra.voice.models.state import Installation, read_manifest

_LOCK_POLL = 0.1
_HASH_CHUNK = 1 << 20
_NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file (blocking: call it in a thread for big files)."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(_HASH_CHUNK):
            digest.update(block)
    return digest.hexdigest()


class ModelStore:
    """The models folder: installed models, partial downloads, locks."""

    def __init__(self, root: Path) -> None:
        self.root = root
        """The models folder."""

    def folder(self, spec: ModelSpec) -> Path:
        """Where ``spec`` is (or would be) installed."""
        return self.root / spec.kind.value / spec.name

    def partial_folder(self, spec: ModelSpec) -> Path:
        """Where ``spec``'s unfinished downloads are kept."""
        return self.root / ".partial" / spec.kind.value / spec.name

    def temporary_folder(self, spec: ModelSpec) -> Path:
        """A fresh folder beside the final one (same filesystem, so the move is atomic)."""
        return self.root / spec.kind.value / f".tmp-{spec.name}-{uuid.uuid4().hex[:8]}"

    def downloaded(self, spec: ModelSpec) -> Installation | None:
        """The copy ``libra models pull`` installed, if any."""
        return read_manifest(self.folder(spec), spec)

    def installed(self, spec: ModelSpec) -> Installation | None:
        """The copy engines use: the downloaded one, else a package's."""
        return self.downloaded(spec) or find_packaged(spec)

    def partial_bytes(self, spec: ModelSpec) -> int:
        """Bytes already downloaded towards an unfinished pull."""
        folder = self.partial_folder(spec)
        try:
            return sum(p.stat().st_size for p in folder.glob("*.part"))
        except OSError:
            return 0

    def clean_temporary(self, spec: ModelSpec) -> None:
        """Delete unpack folders a killed pull of ``spec`` left behind (hold its lock)."""
        for stale in (self.root / spec.kind.value).glob(f".tmp-{spec.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        for stale in (self.root / spec.kind.value).glob(f".old-{spec.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)

    @asynccontextmanager
    async def lock(self, spec: ModelSpec,
                   on_wait: Callable[[], None] | None = None) -> AsyncIterator[None]:
        """Hold ``spec``'s lock, shared with every other Libra process on this folder.

        Polls rather than blocking a thread, so a waiting pull can be cancelled.
        """
        locks = self.root / ".locks"
        try:
            locks.mkdir(parents=True, exist_ok=True)
            fd = os.open(locks / f"{spec.kind.value}-{spec.name}.lock",
                         os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            # Every change (pull, remove) starts here, so a read-only folder (models
            # baked into a container image) is reported once, before any download.
            if err.errno in _NOT_WRITABLE:
                raise ModelsFolderReadOnly(
                    f"the models folder {self.root} cannot be written ({err.strerror}): "
                    "its models can be listed and used, not changed",
                    hint="pull into a writable folder (voice.models_dir, e.g. "
                         "LIBRA_VOICE__MODELS_DIR=/data/models) or rebuild the image with "
                         "the models in LIBRA_MODELS") from err
            raise
        try:
            waited = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not waited and on_wait is not None:
                        on_wait()
                    waited = True
                    await asyncio.sleep(_LOCK_POLL)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    async def verify(self, installation: Installation) -> list[str]:
        """What is wrong with an installed model's files (empty when all is well)."""
        return await asyncio.to_thread(_problems, installation)

    async def remove(self, spec: ModelSpec) -> Installation:
        """Delete the downloaded copy of ``spec`` (and any partial download of it).

        Returns:
            What was removed.

        Raises:
            ModelProvidedByPackage: only a package provides it.
            ModelNotInstalled: nothing to remove.
        """
        async with self.lock(spec):
            found = self.downloaded(spec)
            partial = self.partial_folder(spec)
            if partial.exists():
                shutil.rmtree(partial, ignore_errors=True)
            if found is None:
                packaged = find_packaged(spec)
                if packaged is not None and spec.package is not None:
                    raise ModelProvidedByPackage(
                        f"{spec.name} is provided by the Python package {packaged.package}, "
                        "which Libra does not remove",
                        hint=f"pip uninstall {spec.package.distribution}")
                raise ModelNotInstalled(f"{spec.name} is not installed")
            # Moved aside first, in one step: a remove cut short never leaves a
            # half-deleted folder that still looks installed.
            trash = self.root / spec.kind.value / f".old-{spec.name}-{uuid.uuid4().hex[:8]}"
            os.replace(self.folder(spec), trash)
            await asyncio.to_thread(shutil.rmtree, trash, True)
            return found


def _problems(installation: Installation) -> list[str]:
    problems: list[str] = []
    for file in installation.files:
        path = installation.path / file.path
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            problems.append(f"{file.path} is missing")
            continue
        if size != file.size:
            problems.append(f"{file.path} is {size} bytes, expected {file.size}")
        elif sha256_file(path) != file.sha256:
            problems.append(f"{file.path} has changed (its SHA-256 differs)")
    return problems
