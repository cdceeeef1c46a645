"""The embedded model as a fallback for ``libra chat`` when no Ollama answers.

The LLM side owns how its servers are probed: a transport (the console) only learns
the outcome, through the settings it runs with and
:meth:`libra.llm.api.LLMService.backend_kind`.
"""

from __future__ import annotations

import aiohttp

from libra.config import Settings
from libra.config_urls import redact_url


async def ollama_answers(servers: tuple[str, ...]) -> bool:
    """Whether any of ``servers`` answers like an Ollama server (within 1.5 s)."""
    timeout = aiohttp.ClientTimeout(total=1.5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for server in servers:
            try:
                async with session.get(server.rstrip("/") + "/api/tags") as response:
                    if response.status < 500:
                        return True
            except (aiohttp.ClientError, TimeoutError):
                continue
    return False


async def with_llm_fallback(settings: Settings) -> tuple[Settings, str | None]:
    """Use the embedded model when Ollama is configured but nothing answers.

    Returns the settings to use and a notice for the user (``None`` if unchanged).
    """
    if settings.llm.backend != "ollama" or await ollama_answers(settings.llm.servers):
        return settings, None
    from libra.llm.backends.embedded import fallback_model  # noqa: PLC0415

    gguf = fallback_model(settings.llm.embedded_model_path)
    if gguf is None:
        return settings, None  # the first reply explains how to get a model
    # One file answers every language: route everything to it under its real name,
    # so the console never claims a model that is not running. A 135M model sampled
    # at chat temperatures answers "capital of France?" with invented towns 5 times
    # in 6 (measured); greedy decoding answers it right every time.
    llm = settings.llm.model_copy(update={"backend": "embedded", "embedded_model_path": gguf,
                                          "default_model": gguf.stem, "routes": {},
                                          "temperature": 0.0})
    servers = ", ".join(redact_url(server) for server in settings.llm.servers)
    notice = (f"No Ollama answered at {servers}: using the embedded "
              "SmolLM2 model (small, English only). For better answers start Ollama and "
              f"run `ollama pull {settings.llm.default_model}`.")
    return settings.model_copy(update={"llm": llm}), notice
