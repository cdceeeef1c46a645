"""``libra models list | pull | verify | remove | urls``.

The work is done by :class:`ModelsCommands`, built from a catalogue, a store and
two streams, so the same code runs for the CLI and in tests with their own catalogue.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from libra.commands import load
from libra.config import Settings
from libra.errors import ModelError, ModelUnknown
from libra.voice.models.catalogue import Catalogue, ModelKind, ModelSpec
from libra.voice.models.download import DownloadPolicy
from libra.voice.models.install import ModelInstaller, PullOutcome
from libra.voice.models.official import ALL_LANGUAGES, OFFICIAL_CATALOGUE
from libra.voice.models.progress import PullProgress, human_size, progress_for
from libra.voice.models.state import Installation
from libra.voice.models.store import ModelStore


class ModelsCommands:
    """What each ``libra models`` action does; returns the exit code."""

    def __init__(self, catalogue: Catalogue, store: ModelStore, *, mirror: str | None = None,
                 out: TextIO, err: TextIO, policy: DownloadPolicy | None = None,
                 progress: PullProgress | None = None) -> None:
        self.catalogue = catalogue
        self.store = store
        self._mirror = mirror
        self._out = out
        self._err = err
        self._policy = policy
        self._progress = progress

    @classmethod
    def from_settings(cls, settings: Settings, catalogue: Catalogue = OFFICIAL_CATALOGUE,
                      **kwargs: Any) -> ModelsCommands:
        """Built from the configuration: models folder and mirror."""
        root = settings.voice.models_dir or settings.app.data_dir / "models"
        return cls(catalogue, ModelStore(root.expanduser()), mirror=settings.voice.models_mirror,
                   **kwargs)

    def show(self, *, kind: str | None = None, language: str | None = None) -> int:
        """Every model with its kind, languages, size and whether it is installed."""
        rows = [("NAME", "KIND", "LANGUAGES", "SIZE", "STATUS")]
        for spec in self.catalogue:
            if kind and spec.kind.value != kind:
                continue
            if language and not any(code == language or code.startswith(f"{language}-")
                                    for code in spec.languages):
                continue
            found = self.store.installed(spec)
            size = found.size if found else spec.download_size
            rows.append((spec.name, spec.kind.value, _languages(spec), human_size(size),
                         self._status(spec, found)))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self._print("  ".join([*cells, row[4]]).rstrip())
        self._print(f"\nmodels folder: {self.store.root}")
        return 0

    async def pull(self, names: Sequence[str], *, force: bool = False,
                   allow_unverified: bool = False) -> int:
        """Download and install each named model; 1 if any failed."""
        specs = self._resolve(names)
        if specs is None:
            return 2
        installer = ModelInstaller(self.store, progress=self._progress or progress_for(self._err),
                                   mirror=self._mirror, policy=self._policy)
        failed = 0
        for spec in specs:
            try:
                result = await installer.pull(spec, force=force,
                                              allow_unverified=allow_unverified)
            except ModelError as err:
                self._fail(err)
                failed += 1
                continue
            where = result.installation.path
            if result.outcome is PullOutcome.INSTALLED:
                self._print(f"{spec.name}: installed in {where} "
                            f"({human_size(result.installation.size)})")
            elif result.outcome is PullOutcome.PROVIDED_BY_PACKAGE:
                self._print(f"{spec.name}: provided by the Python package "
                            f"{result.installation.package} ({where}); nothing to download")
            else:
                self._print(f"{spec.name}: already installed in {where}")
        return 1 if failed else 0

    async def verify(self, names: Sequence[str]) -> int:
        """Re-check installed models against their recorded digests; 1 if any is damaged."""
        specs = self._resolve(names) if names else list(self.catalogue)
        if specs is None:
            return 2
        checked = bad = 0
        for spec in specs:
            found = self.store.installed(spec)
            if found is None:
                if names:
                    self._print(f"MISSING {spec.name}: not installed")
                    bad += 1
                continue
            checked += 1
            problems = await self.store.verify(found)
            origin = f" (package {found.package})" if found.package else ""
            if problems:
                bad += 1
                self._print(f"FAIL    {spec.name}{origin}: {'; '.join(problems)}")
            else:
                self._print(f"OK      {spec.name}{origin}: {len(found.files)} files")
        if not checked and not names:
            self._print("no models installed (`libra models pull NAME` installs one)")
        if bad:
            self._print("fix: `libra models pull --force NAME` downloads a damaged model again")
        return 1 if bad else 0

    async def remove(self, names: Sequence[str]) -> int:
        """Delete downloaded models; 1 if any could not be removed."""
        specs = self._resolve(names)
        if specs is None:
            return 2
        failed = 0
        for spec in specs:
            try:
                removed = await self.store.remove(spec)
            except ModelError as err:
                self._fail(err)
                failed += 1
                continue
            line = f"{spec.name}: removed ({human_size(removed.size)} freed)"
            still = self.store.installed(spec)
            if still is not None:
                line += f"; the copy from the package {still.package} stays in use"
            self._print(line)
        return 1 if failed else 0

    def urls(self, names: Sequence[str]) -> int:
        """The official URL of every file (to fill a mirror), one per line."""
        specs = self._resolve(names) if names else list(self.catalogue)
        if specs is None:
            return 2
        for spec in specs:
            for file in spec.files:
                self._print(file.url)
        return 0

    def _resolve(self, names: Sequence[str]) -> list[ModelSpec] | None:
        try:
            return [self.catalogue.get(name) for name in dict.fromkeys(names)]
        except ModelUnknown as err:
            self._fail(err)
            return None

    def _status(self, spec: ModelSpec, found: Installation | None) -> str:
        if found is not None:
            if found.package is not None:
                return f"installed (package {found.package})"
            return "installed" if found.verified else "installed (unverified)"
        held = self.store.partial_bytes(spec)
        if held and spec.download_size:
            return f"partial ({held * 100 // spec.download_size}%)"
        if not spec.files and spec.package is not None:
            return f"pip install {spec.package.distribution}"
        return "available" if spec.verified else "available (no checksum)"

    def _print(self, line: str) -> None:
        self._out.write(line + "\n")

    def _fail(self, err: ModelError) -> None:
        self._err.write(f"libra: {err}\n")


def _languages(spec: ModelSpec) -> str:
    if set(spec.languages) >= set(ALL_LANGUAGES):
        return "all"
    return ",".join(spec.languages)


def _commands(args: argparse.Namespace) -> ModelsCommands:
    return ModelsCommands.from_settings(load(args), out=sys.stdout, err=sys.stderr)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``models`` and its actions."""
    models = sub.add_parser(
        "models", help="speech models: list, pull, verify, remove",
        description="Speech models for voice (Vosk, Piper, Whisper). None is downloaded "
                    "unless you pull it; models installed as Python packages are found.")
    actions = models.add_subparsers(dest="models_command", metavar="ACTION")
    listing = actions.add_parser("list", help="every known model: installed or available")
    listing.add_argument("--kind", choices=[k.value for k in ModelKind])
    listing.add_argument("--language", metavar="CODE", help="only models for this language")
    listing.set_defaults(handler=lambda a: _commands(a).show(kind=a.kind, language=a.language))
    pull = actions.add_parser("pull", help="download, check and install models")
    pull.add_argument("names", nargs="+", metavar="NAME")
    pull.add_argument("--force", action="store_true", help="download again even if installed")
    pull.add_argument("--allow-unverified", action="store_true",
                      help="accept a model without a known SHA-256 (records the one computed)")
    pull.set_defaults(handler=lambda a: asyncio.run(_commands(a).pull(
        a.names, force=a.force, allow_unverified=a.allow_unverified)))
    verify = actions.add_parser("verify", help="re-check installed models (all by default)")
    verify.add_argument("names", nargs="*", metavar="NAME")
    verify.set_defaults(handler=lambda a: asyncio.run(_commands(a).verify(a.names)))
    remove = actions.add_parser("remove", help="delete downloaded models")
    remove.add_argument("names", nargs="+", metavar="NAME")
    remove.set_defaults(handler=lambda a: asyncio.run(_commands(a).remove(a.names)))
    urls = actions.add_parser("urls", help="official URL of every file, to fill a mirror")
    urls.add_argument("names", nargs="*", metavar="NAME")
    urls.set_defaults(handler=lambda a: _commands(a).urls(a.names))
    models.set_defaults(handler=lambda _a: _usage(models))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2
