"""Edge cases of the HTTP backends and the service that users would notice."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from libra.errors import LLMServerError, LLMUnreachable
from libra.llm.backends.http import HTTPTimeouts
from libra.llm.backends.ollama import OllamaBackend
from libra.llm.backends.openai import OpenAIBackend
from tests.fakes.fake_openai import FakeOpenAI
from tests.fakes.llm_stack import request


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port whose listen queue is full: new connections never complete."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = int(server.getsockname()[1])
    held = []
    for _ in range(4):  # never accepted: they fill the backlog
        client = socket.socket()
        client.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            client.connect(("127.0.0.1", port))
        held.append(client)
    yield port
    for client in held:
        client.close()
    server.close()


async def test_a_server_that_never_accepts_is_unreachable_not_slow(
    unanswered_port: int,
) -> None:
    # A firewalled or powered-off host: the TCP connect times out. That is an
    # unreachable server (check llm.servers), not a model that answers slowly.
    backend = OllamaBackend(f"http://127.0.0.1:{unanswered_port}",
                            timeouts=HTTPTimeouts(connect=0.3, first_token=30, idle=30))
    try:
        with pytest.raises(LLMUnreachable) as caught:
            tokens: AsyncIterator[object] = backend.stream(request("hi"))
            async for _ in tokens:
                pass
        assert "30s" not in caught.value.message
    finally:
        await backend.close()


async def test_a_llama_cpp_error_event_is_a_failure_not_an_empty_answer(
    fake_openai: FakeOpenAI,
) -> None:
    # llama.cpp's server (also the embedded backend) reports a failure found after
    # the headers as an `error:` SSE line followed by `data: [DONE]`.
    fake_openai.answers["a very long prompt"] = ""
    fake_openai.stream_error = {"code": 400, "type": "exceed_context_size_error",
                                "message": "the request exceeds the available context size"}
    backend = OpenAIBackend(fake_openai.url, timeouts=HTTPTimeouts(first_token=2, idle=2))
    try:
        with pytest.raises(LLMServerError, match="exceeds the available context size"):
            async for _ in backend.stream(request("a very long prompt")):
                pass
    finally:
        await backend.close()


async def test_a_finished_answer_without_done_marker_is_complete(
    fake_openai: FakeOpenAI,
) -> None:
    # The answer said finish_reason "stop": a server that then just closes the
    # stream (no [DONE]) finished it; it was not cut off.
    fake_openai.sends_done = False
    fake_openai.answers["2+2?"] = "Two plus two is four."
    backend = OpenAIBackend(fake_openai.url, timeouts=HTTPTimeouts(first_token=2, idle=2))
    try:
        tokens = [t async for t in backend.stream(request("2+2?"))]
    finally:
        await backend.close()
    assert "".join(t.text for t in tokens) == "Two plus two is four."
    assert tokens[-1].done
