"""Fixtures for speech-model tests: a fake mirror and small models built per test."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from collections.abc import AsyncIterator

import pytest_asyncio

from libra.voice.models.catalogue import Catalogue, ModelFile, ModelKind, ModelSpec, Packing
from libra.voice.models.download import DownloadPolicy
from tests.fakes.fake_model_mirror import FakeModelMirror

HOST = "models.example"
"""Host of the test catalogue's official URLs; the mirror serves /models.example/..."""

FAST = DownloadPolicy(attempts=4, backoff=0.01, max_backoff=0.05, connect_timeout=5,
                      read_timeout=5)
"""Retries without the real pauses."""


@pytest_asyncio.fixture
async def mirror() -> AsyncIterator[FakeModelMirror]:
    """A started fake mirror."""
    server = FakeModelMirror()
    await server.start()
    yield server
    await server.stop()


def noise(size: int, seed: int = 1) -> bytes:
    """Incompressible bytes, so a zip weighs what its content does."""
    return random.Random(seed).randbytes(size)


def vosk_zip(top: str = "tiny-vosk-0.1", size: int = 300_000) -> bytes:
    """A zip laid out like a Vosk model: one top folder, am/ conf/ graph/."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{top}/", b"")
        zf.writestr(f"{top}/am/final.mdl", noise(size))
        zf.writestr(f"{top}/conf/model.conf", b"--sample-frequency=16000\n")
        zf.writestr(f"{top}/graph/phones.txt", b"SIL 1\n")
    return buffer.getvalue()


def sha(data: bytes) -> str:
    """Hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def zip_spec(name: str, data: bytes, *, digest: str | None = "auto") -> ModelSpec:
    """A Vosk-like catalogue entry for ``data``, served at /models.example/vosk/<name>.zip."""
    return ModelSpec(
        name=name, kind=ModelKind.VOSK, languages=("en",), packing=Packing.ZIP,
        files=(ModelFile(url=f"https://{HOST}/vosk/{name}.zip", size=len(data),
                         sha256=sha(data) if digest == "auto" else digest),))


def files_spec(name: str, files: dict[str, bytes]) -> ModelSpec:
    """A Piper-like entry: plain files at /models.example/piper/<name>/<file>."""
    return ModelSpec(
        name=name, kind=ModelKind.PIPER, languages=("en",), packing=Packing.FILES,
        files=tuple(ModelFile(url=f"https://{HOST}/piper/{name}/{file}", size=len(data),
                              sha256=sha(data)) for file, data in files.items()))


def mirror_path(spec: ModelSpec, index: int = 0) -> str:
    """Where the mirror serves a file of ``spec``."""
    return spec.files[index].url.removeprefix("https:/")


def catalogue(*specs: ModelSpec) -> Catalogue:
    """A catalogue of just these."""
    return Catalogue(specs)
