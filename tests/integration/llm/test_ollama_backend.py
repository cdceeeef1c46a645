"""The Ollama backend against a fake Ollama speaking the real NDJSON protocol."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from libra.errors import LLMServerError, LLMTimeout, LLMUnreachable, ModelMissing, StreamCut
from libra.llm.api import Token
from libra.llm.backends.http import HTTPTimeouts
from libra.llm.backends.ollama import OllamaBackend
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.llm_stack import request

MODEL = "llama3:8b-instruct-q4_K_M"


@pytest.fixture
async def backend(fake_ollama: FakeOllama) -> AsyncIterator[OllamaBackend]:
    made = OllamaBackend(fake_ollama.url, keep_alive="7m",
                         timeouts=HTTPTimeouts(connect=2, first_token=2, idle=2))
    yield made
    await made.close()


async def collect(stream: AsyncIterator[Token]) -> list[Token]:
    return [t async for t in stream]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_streams_the_answer_with_usage(fake_ollama: FakeOllama,
                                             backend: OllamaBackend) -> None:
    fake_ollama.answers["capital of France?"] = "The capital of France is Paris."
    tokens = await collect(backend.stream(request("capital of France?")))
    assert "".join(t.text for t in tokens) == "The capital of France is Paris."
    assert len(tokens) > 3  # streamed, not one blob
    assert tokens[-1].done and tokens[-1].completion_tokens == 6
    assert tokens[-1].prompt_tokens is not None and tokens[-1].prompt_tokens > 0


async def test_sends_options_and_keep_alive(fake_ollama: FakeOllama,
                                            backend: OllamaBackend) -> None:
    options = {"num_ctx": 2048, "num_predict": 64, "temperature": 0.2, "num_thread": 2,
               "num_batch": 32, "stop": ["</s>"], "unknown_option": 1}
    await collect(backend.stream(request("hi", options=options)))
    body = fake_ollama.requests[-1].body
    assert fake_ollama.requests[-1].path == "/api/chat"
    assert body["stream"] is True and body["keep_alive"] == "7m"
    assert body["options"] == {"num_ctx": 2048, "num_predict": 64, "temperature": 0.2,
                               "num_thread": 2, "num_batch": 32, "stop": ["</s>"]}
    assert body["messages"] == [{"role": "user", "content": "hi"}]


async def test_connection_refused_is_unreachable() -> None:
    backend = OllamaBackend(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(LLMUnreachable) as info:
        await collect(backend.stream(request("hi")))
    assert info.value.code == "llm_unreachable"
    assert "llm.servers" in str(info.value)
    await backend.close()


async def test_a_password_in_the_server_url_stays_out_of_names_and_errors() -> None:
    backend = OllamaBackend(f"http://libra:s3cret-llm@127.0.0.1:{free_port()}")
    assert backend.name.startswith("http://") and "s3cret-llm" not in backend.name
    with pytest.raises(LLMUnreachable) as info:
        await collect(backend.stream(request("hi")))
    assert "s3cret-llm" not in str(info.value) and "s3cret-llm" not in (info.value.hint or "")
    await backend.close()


async def test_unknown_host_is_unreachable() -> None:
    backend = OllamaBackend("http://no-such-host.invalid:11434",
                            timeouts=HTTPTimeouts(connect=3))
    with pytest.raises(LLMUnreachable):
        await collect(backend.stream(request("hi")))
    await backend.close()


async def test_missing_model_says_how_to_pull_it(backend: OllamaBackend) -> None:
    with pytest.raises(ModelMissing) as info:
        await collect(backend.stream(request("hi", model="mistral:7b")))
    assert info.value.code == "llm_model_missing"
    assert "ollama pull mistral:7b" in str(info.value)


async def test_server_error_is_typed(fake_ollama: FakeOllama, backend: OllamaBackend) -> None:
    fake_ollama.fail_status = 500
    fake_ollama.fail_message = "CUDA out of memory"
    with pytest.raises(LLMServerError) as info:
        await collect(backend.stream(request("hi")))
    assert info.value.code == "llm_server_error"
    assert "CUDA out of memory" in str(info.value)


async def test_slow_first_token_times_out(fake_ollama: FakeOllama) -> None:
    fake_ollama.first_token_delay = 1.0
    backend = OllamaBackend(fake_ollama.url, timeouts=HTTPTimeouts(first_token=0.2, idle=5))
    with pytest.raises(LLMTimeout) as info:
        await collect(backend.stream(request("hi")))
    assert info.value.code == "llm_timeout"
    await backend.close()


async def test_idle_stream_counts_as_cut_with_partial_text(fake_ollama: FakeOllama) -> None:
    fake_ollama.tokens_per_second = 2  # 0.5 s between tokens
    backend = OllamaBackend(fake_ollama.url, timeouts=HTTPTimeouts(first_token=5, idle=0.2))
    received: list[str] = []
    with pytest.raises(StreamCut) as info:
        async for token in backend.stream(request("hi")):
            received.append(token.text)
    assert info.value.code == "llm_stream_cut"
    assert info.value.partial == "".join(received) != ""
    await backend.close()


async def test_server_crash_mid_answer_is_a_cut_with_partial(fake_ollama: FakeOllama,
                                                            backend: OllamaBackend) -> None:
    fake_ollama.default_answer = "one two three four five six seven"
    fake_ollama.disconnect_after = 3
    with pytest.raises(StreamCut) as info:
        await collect(backend.stream(request("hi")))
    assert info.value.partial == "one two three"


async def test_warm_loads_the_model_and_ps_shows_it(fake_ollama: FakeOllama,
                                                   backend: OllamaBackend) -> None:
    assert await backend.loaded() == []
    await backend.warm(MODEL, "1h")
    warm_request = fake_ollama.requests[-1]
    assert warm_request.path == "/api/generate"
    assert warm_request.body == {"model": MODEL, "prompt": "", "keep_alive": "1h",
                                 "stream": False}
    assert await backend.loaded() == [MODEL]
    with pytest.raises(ModelMissing):
        await backend.warm("absent:1b", "1h")


async def test_models_lists_tags(backend: OllamaBackend) -> None:
    assert sorted(await backend.models()) == [MODEL, "qwen2.5:7b-instruct"]


async def test_closing_the_stream_disconnects_the_server(fake_ollama: FakeOllama,
                                                         backend: OllamaBackend) -> None:
    fake_ollama.tokens_per_second = 50
    fake_ollama.default_answer = " ".join(["word"] * 200)
    stream = backend.stream(request("hi"))
    assert (await anext(stream)).text
    await stream.aclose()  # type: ignore[attr-defined]
    await fake_ollama.wait_disconnect(timeout=2)
    assert fake_ollama.disconnects == 1 and fake_ollama.completed == 0
