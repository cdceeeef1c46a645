"""Several fake Ollama servers: queueing, overload, least-busy choice and failover."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest

from libra.chat.messages import user_message
from libra.errors import LLMOverloaded, LLMRequestRejected, LLMUnreachable
from libra.health import Status
from libra.llm.api import Token
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.llm_stack import LLMStack, llm_stack, poll_until, request

Factory = Callable[..., Awaitable[FakeOllama]]


def dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


async def drain_stream(stack: LLMStack, text: str, cid: str) -> str:
    parts: list[str] = []
    async for token in stack.service.stream(request(text, correlation_id=cid)):
        parts.append(token.text)
    return "".join(parts)


async def test_callers_learn_their_queue_position(fake_ollama: FakeOllama) -> None:
    fake_ollama.tokens_per_second = 50
    async with llm_stack(servers=(fake_ollama.url,), max_concurrency=1, max_queue=5,
                         cache_ttl=0) as stack:
        tasks = [asyncio.create_task(drain_stream(stack, f"q{i}", f"c{i}")) for i in range(3)]
        await poll_until(lambda: stack.service.queue_position("c2") is not None)
        positions = [stack.service.queue_position(f"c{i}") for i in range(3)]
        assert positions == [0, 1, 2]
        assert all(a == fake_ollama.default_answer for a in await asyncio.gather(*tasks))
        assert stack.service.queue_position("c0") is None  # finished and forgotten


async def test_beyond_the_queue_callers_are_told_it_is_overloaded(
        fake_ollama: FakeOllama) -> None:
    fake_ollama.tokens_per_second = 50
    async with llm_stack(servers=(fake_ollama.url,), max_concurrency=1, max_queue=1,
                         cache_ttl=0) as stack:
        running = [asyncio.create_task(drain_stream(stack, f"q{i}", f"c{i}")) for i in range(2)]
        await poll_until(lambda: stack.service.queue_position("c1") == 1)
        with pytest.raises(LLMOverloaded):
            await drain_stream(stack, "one more", "c9")
        await asyncio.gather(*running)
        await stack.bus.drain()
    assert sorted(str(c.error_code) for c in stack.calls) == ["None", "None", "llm_overloaded"]


async def test_requests_go_to_the_least_busy_server(fake_ollama_factory: Factory) -> None:
    fakes = [await fake_ollama_factory(tokens_per_second=50) for _ in range(2)]
    async with llm_stack(servers=tuple(f.url for f in fakes), max_concurrency=2,
                         cache_ttl=0) as stack:
        await asyncio.gather(*(drain_stream(stack, f"q{i}", f"c{i}") for i in range(4)))
    assert [len([r for r in f.requests if r.path == "/api/chat"]) for f in fakes] == [2, 2]


async def test_a_dead_server_is_skipped_and_marked(fake_ollama: FakeOllama) -> None:
    async with llm_stack(servers=(dead_url(), fake_ollama.url), cache_ttl=0,
                         failover_backoff=60) as stack:
        first, tokens = await stack.ask("hi")
        assert first == fake_ollama.default_answer
        assert not any(t.retry for t in tokens)  # nothing was shown yet: no retry marker
        dead = stack.service.pool.servers[0]
        assert dead.last_error is not None and "cannot reach" in dead.last_error
        for _ in range(3):
            await stack.ask("hi")
        await stack.bus.drain()
    assert len([r for r in fake_ollama.requests if r.path == "/api/chat"]) == 4
    assert all(c.server == fake_ollama.url and c.error_code is None for c in stack.calls)


async def test_a_server_dying_mid_answer_restarts_it_elsewhere(
        fake_ollama_factory: Factory) -> None:
    answer = "one two three four five six seven eight nine ten eleven twelve"
    fakes = [await fake_ollama_factory(tokens_per_second=40, default_answer=answer)
             for _ in range(2)]
    async with llm_stack(servers=tuple(f.url for f in fakes), cache_ttl=0) as stack:
        tokens: list[Token] = []
        shown: list[str] = []
        async for token in stack.service.stream(request("count")):
            tokens.append(token)
            if token.retry:
                shown.clear()
            shown.append(token.text)
            if len(tokens) == 3:
                victim = next(f for f in fakes if f.streaming)
                await victim.kill()
        await stack.bus.drain()
    assert [t.retry for t in tokens].count(True) == 1
    assert "".join(shown) == answer
    survivor = next(f for f in fakes if f is not victim)
    assert stack.calls[-1].server == survivor.url and stack.calls[-1].error_code is None
    assert tokens[-1].done


async def test_when_every_server_is_down_the_caller_gets_unreachable() -> None:
    async with llm_stack(servers=(dead_url(), dead_url()), cache_ttl=0) as stack:
        with pytest.raises(LLMUnreachable) as info:
            await stack.ask("hi")
        await stack.bus.drain()
        assert stack.service.pool.active == 0
    assert "llm.servers" in str(info.value)
    assert stack.calls[-1].error_code == "llm_unreachable"


async def test_a_request_the_server_refuses_is_not_blamed_on_the_servers(
        fake_ollama_factory: Factory) -> None:
    fakes = [await fake_ollama_factory() for _ in range(2)]
    for fake in fakes:
        fake.fail_status = 400
        fake.fail_message = "the input length exceeds the context length"
    async with llm_stack(servers=tuple(f.url for f in fakes), cache_ttl=0) as stack:
        with pytest.raises(LLMRequestRejected) as info:
            await stack.ask("a very long paste")
        health = (await stack.health.run())[0]
    # The same request would fail on every server: one try, no server marked broken.
    assert sum(r.path == "/api/chat" for f in fakes for r in f.requests) == 1
    assert health.status is Status.OK
    assert "context length" in str(info.value)
    assert "/reset" in user_message(info.value.code, "en")
