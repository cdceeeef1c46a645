"""The OpenAI-compatible backend against a fake speaking SSE chat completions."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from libra.errors import LLMServerError, ModelMissing, StreamCut
from libra.llm.api import Token
from libra.llm.backends.http import HTTPTimeouts
from libra.llm.backends.openai import OpenAIBackend
from tests.fakes.fake_openai import FakeOpenAI
from tests.fakes.llm_stack import llm_stack, request


async def collect(stream: AsyncIterator[Token]) -> list[Token]:
    return [t async for t in stream]


@pytest.fixture
async def backend(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIBackend]:
    fake_openai.api_key = "sk-test-123"
    made = OpenAIBackend(fake_openai.url + "/v1", api_key="sk-test-123",
                         timeouts=HTTPTimeouts(first_token=2, idle=2))
    yield made
    await made.close()


async def test_streams_sse_with_usage_and_bearer_key(fake_openai: FakeOpenAI,
                                                    backend: OpenAIBackend) -> None:
    fake_openai.answers["2+2?"] = "Two plus two is four."
    tokens = await collect(backend.stream(request("2+2?", options={"num_predict": 32,
                                                                  "temperature": 0.1})))
    assert "".join(t.text for t in tokens) == "Two plus two is four."
    assert tokens[-1].done and tokens[-1].completion_tokens == 5
    sent = fake_openai.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == "Bearer sk-test-123"
    assert sent.body["stream"] is True and sent.body["max_tokens"] == 32
    assert sent.body["temperature"] == 0.1


async def test_wrong_key_is_a_server_error_with_a_hint(fake_openai: FakeOpenAI) -> None:
    fake_openai.api_key = "right"
    backend = OpenAIBackend(fake_openai.url, api_key="wrong")
    with pytest.raises(LLMServerError) as info:
        await collect(backend.stream(request("hi")))
    assert "llm.api_key" in str(info.value)
    await backend.close()


async def test_unknown_model_is_model_missing(backend: OpenAIBackend) -> None:
    with pytest.raises(ModelMissing):
        await collect(backend.stream(request("hi", model="gpt-nothing")))


async def test_crash_mid_answer_is_a_cut(fake_openai: FakeOpenAI,
                                         backend: OpenAIBackend) -> None:
    fake_openai.default_answer = "alpha beta gamma delta"
    fake_openai.disconnect_after = 2
    with pytest.raises(StreamCut) as info:
        await collect(backend.stream(request("hi")))
    assert info.value.partial == "alpha beta"


async def test_models_and_warm(fake_openai: FakeOpenAI, backend: OpenAIBackend) -> None:
    assert "llama3:8b-instruct-q4_K_M" in await backend.models()
    await backend.warm("qwen2.5:7b-instruct", "30m")
    assert fake_openai.requests[-1].body["max_tokens"] == 1
    assert "qwen2.5:7b-instruct" in fake_openai.loaded


async def test_the_service_runs_on_an_openai_server(fake_openai: FakeOpenAI) -> None:
    async with llm_stack(backend="openai", servers=(fake_openai.url,), cache_ttl=0) as stack:
        text, tokens = await stack.ask("hello")
        assert text == fake_openai.default_answer
        assert tokens[-1].done
