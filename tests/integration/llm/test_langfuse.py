"""Langfuse tracing through the real SDK, over the real wire, into a fake Langfuse.

The ``llm`` plugin runs against the fake Ollama with ``[langfuse]`` keys pointing
at :class:`~tests.fakes.fake_langfuse.FakeLangfuse`, which decodes the OTLP
protobuf the SDK sends. Skipped (with the reason) only when the ``langfuse``
extra is not installed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import pytest
import pytest_asyncio
from loguru import logger
from pydantic import SecretStr

pytest.importorskip("langfuse", reason="the langfuse extra is not installed "
                                       "(pip install 'libra[langfuse]')")

from libra.config import LangfuseSettings
from libra.errors import ModelMissing
from libra.llm.api import ChatMessage, LLMRequest
from libra.llm.tracing import CLOSE_TIMEOUT_S, TracedCall, langfuse_tracer
from libra.logging import setup_logging
from tests.fakes.fake_langfuse import FakeLangfuse, RecordedSpan
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.llm_stack import llm_stack

PUBLIC_KEY = "pk-lf-libra-test"
SECRET_KEY = "sk-lf-9f2c71d0e4b84a6f"
BASIC_TOKEN = base64.b64encode(f"{PUBLIC_KEY}:{SECRET_KEY}".encode()).decode()
OBS = "langfuse.observation."


def keys(host: str) -> LangfuseSettings:
    """Langfuse settings with the test keys, pointing at ``host``."""
    return LangfuseSettings(public_key=PUBLIC_KEY, secret_key=SecretStr(SECRET_KEY), host=host)


def closed_port_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest_asyncio.fixture
async def fake_langfuse() -> AsyncIterator[FakeLangfuse]:
    """A started fake Langfuse expecting the test keys."""
    server = FakeLangfuse(public_key=PUBLIC_KEY, secret_key=SECRET_KEY)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Libra's real logging setup writing JSON lines into a buffer (restored afterwards)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    setup_logging(level="DEBUG", fmt="json", stream=stream)
    yield stream
    logger.remove()
    logger.add(sys.stderr)
    root.handlers[:] = handlers
    root.setLevel(level)


class LoopWatch:
    """Measures the event loop's longest stall while in use (``async with``)."""

    def __init__(self) -> None:
        self.worst_stall_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst_stall_s = max(self.worst_stall_s, time.perf_counter() - before - 0.005)

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick(), name="loop-watch")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def completion_start_ms(span: RecordedSpan) -> float:
    """Time to first token as Langfuse derives it: completion start minus span start."""
    stamp = datetime.fromisoformat(span.json(OBS + "completion_start_time"))
    return (stamp.timestamp() * 1e9 - span.start_ns) / 1e6


async def test_each_call_is_one_generation_with_prompt_answer_usage_and_timing(
        fake_ollama: FakeOllama, fake_langfuse: FakeLangfuse) -> None:
    fake_ollama.first_token_delay = 0.05
    fake_ollama.tokens_per_second = 200
    fake_ollama.answers["Say hi"] = "Hi there, my friend."
    fake_ollama.answers["And in Korean?"] = "안녕하세요, 친구."
    async with LoopWatch() as watch, llm_stack(
            servers=(fake_ollama.url,), langfuse=keys(fake_langfuse.url), cache_ttl=0) as stack:
        first, _ = await stack.ask("Say hi")
        second, _ = await stack.ask("And in Korean?", model="qwen2.5:7b-instruct",
                                    language="ko")
        await stack.bus.drain()
        stopping = time.perf_counter()
    stop_s = time.perf_counter() - stopping
    assert watch.worst_stall_s < 0.5  # recording and flushing never block the loop

    # Delivered by the plugin's stop (the SDK's own schedule would wait 5 s).
    generations = fake_langfuse.generations
    assert [g.attributes[OBS + "model.name"] for g in generations] == [
        "llama3:8b-instruct-q4_K_M", "qwen2.5:7b-instruct"]
    assert stop_s < CLOSE_TIMEOUT_S
    by_id = {e.correlation_id: e for e in stack.calls}
    for generation, prompt, answer in zip(generations, ("Say hi", "And in Korean?"),
                                          (first, second), strict=True):
        event = by_id[generation.json(OBS + "metadata.correlation_id")]
        assert generation.name == "llm-call"
        assert generation.json(OBS + "input") == [{"role": "user", "content": prompt}]
        assert generation.attributes[OBS + "output"] == answer
        assert generation.json(OBS + "usage_details") == {
            "input": event.prompt_tokens, "output": event.completion_tokens}
        assert event.completion_tokens > 0
        # Langfuse shows end - start as latency, completion start as time to first token.
        assert generation.duration_ms == pytest.approx(event.latency_ms, abs=2.0)
        assert generation.duration_ms >= 50  # the fake's first-token delay
        assert event.first_token_ms is not None
        assert completion_start_ms(generation) == pytest.approx(event.first_token_ms, abs=2.0)
        assert generation.attributes[OBS + "level"] == "DEFAULT"
        assert generation.status_code == "STATUS_CODE_UNSET"
        assert generation.json(OBS + "model.parameters")["temperature"] == pytest.approx(0.7)
        assert generation.json(OBS + "metadata.server") == fake_ollama.url
    assert generations[1].json(OBS + "metadata.language") == "ko"
    assert generations[0].trace_id != generations[1].trace_id  # one trace per call
    assert fake_langfuse.rejected == 0 and fake_langfuse.unexpected == []
    assert {e.headers["x-langfuse-public-key"] for e in fake_langfuse.exports} == {PUBLIC_KEY}


async def test_a_failed_call_is_an_error_generation_with_the_stable_code(
        fake_ollama: FakeOllama, fake_langfuse: FakeLangfuse) -> None:
    host = fake_langfuse.url + "/"  # as people write it; the SDK would post to //api/...
    async with llm_stack(servers=(fake_ollama.url,), langfuse=keys(host), cache_ttl=0) as stack:
        with pytest.raises(ModelMissing):
            await stack.ask("Hello?", model="mistral:7b")
    [generation] = fake_langfuse.generations
    assert generation.attributes[OBS + "model.name"] == "mistral:7b"
    assert generation.attributes[OBS + "level"] == "ERROR"
    assert generation.attributes[OBS + "status_message"] == ModelMissing.code
    assert (generation.status_code, generation.status_message) == (
        "STATUS_CODE_ERROR", ModelMissing.code)
    assert generation.json(OBS + "metadata.error_code") == ModelMissing.code
    assert fake_langfuse.unexpected == []


async def test_chat_streams_and_stop_is_quick_when_langfuse_is_down(
        fake_ollama: FakeOllama) -> None:
    async with LoopWatch() as watch, llm_stack(
            servers=(fake_ollama.url,), langfuse=keys(closed_port_url()), cache_ttl=0) as stack:
        asking = time.perf_counter()
        text, tokens = await stack.ask("Are you there?")
        ask_s = time.perf_counter() - asking
        stopping = time.perf_counter()
    assert text == fake_ollama.default_answer and tokens[-1].done
    assert ask_s < 1.0
    assert time.perf_counter() - stopping < CLOSE_TIMEOUT_S + 0.5
    assert watch.worst_stall_s < 0.5  # the failing export retries off the loop


async def test_stop_is_bounded_when_langfuse_accepts_and_never_answers(
        fake_ollama: FakeOllama, fake_langfuse: FakeLangfuse) -> None:
    fake_langfuse.hang = True
    async with LoopWatch() as watch, llm_stack(
            servers=(fake_ollama.url,), langfuse=keys(fake_langfuse.url), cache_ttl=0) as stack:
        text, _ = await stack.ask("Still answering?")
        stopping = time.perf_counter()
    assert text == fake_ollama.default_answer
    assert time.perf_counter() - stopping < CLOSE_TIMEOUT_S + 0.5
    assert watch.worst_stall_s < 0.5


async def test_close_gives_up_after_its_timeout_and_says_traces_were_dropped(
        fake_langfuse: FakeLangfuse, log_text: io.StringIO) -> None:
    fake_langfuse.hang = True
    tracer = langfuse_tracer(keys(fake_langfuse.url), close_timeout=0.3)
    assert tracer is not None
    request = LLMRequest(model="llama3", messages=(ChatMessage(role="user", content="hi"),))
    tracer.record(TracedCall(request=request, output="hello", prompt_tokens=1,
                             completion_tokens=1, first_token_ms=5.0, latency_ms=9.0,
                             cache_hit=False, error_code=None, server=None))
    closing = time.perf_counter()
    await tracer.close()
    assert time.perf_counter() - closing < 0.6
    assert "dropped" in log_text.getvalue()


async def test_the_secret_key_never_reaches_the_logs(
        fake_ollama: FakeOllama, fake_langfuse: FakeLangfuse, log_text: io.StringIO) -> None:
    fake_langfuse.secret_key = "sk-lf-another-project"  # our key is refused with 401
    async with llm_stack(servers=(fake_ollama.url,), langfuse=keys(fake_langfuse.url),
                         cache_ttl=0) as stack:
        await stack.ask("Log this call")
    async with llm_stack(servers=(fake_ollama.url,), langfuse=keys(closed_port_url()),
                         cache_ttl=0) as stack:
        await stack.ask("And this one")
    logged = log_text.getvalue()
    messages = [json.loads(line)["message"] for line in logged.splitlines()]
    assert fake_langfuse.rejected == 1
    assert any("401" in m for m in messages)  # the refusal was logged ...
    assert any("Failed to export" in m for m in messages)
    assert SECRET_KEY not in logged and BASIC_TOKEN not in logged  # ... without the key


def sdk_threads() -> set[threading.Thread]:
    """Live threads other than the main one and the event loop's executor."""
    return {t for t in threading.enumerate()
            if t is not threading.main_thread() and not t.name.startswith("asyncio_")}


async def test_tracing_works_again_after_the_plugin_restarts_and_leaves_no_threads(
        fake_ollama: FakeOllama, fake_langfuse: FakeLangfuse) -> None:
    before = sdk_threads()
    for prompt in ("first run", "second run"):
        async with llm_stack(servers=(fake_ollama.url,), langfuse=keys(fake_langfuse.url),
                             cache_ttl=0) as stack:
            await stack.ask(prompt)
    assert [g.json(OBS + "input")[0]["content"] for g in fake_langfuse.generations] == [
        "first run", "second run"]
    assert sdk_threads() <= before
