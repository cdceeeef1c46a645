"""LLMService end to end over a fake Ollama: coalescing, cancellation, cache, events."""

from __future__ import annotations

import asyncio

import pytest

from libra.errors import EmptyInput, InputError, ModelMissing, StreamCut
from libra.events import CacheFlushed
from libra.llm.api import Token
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.llm_stack import llm_stack, request

LONG = ("Libra answers in the language of the channel, and it streams every reply "
        "as the model writes it, so nobody stares at a silent bot.")


async def test_reply_is_streamed_in_coalesced_pieces(fake_ollama: FakeOllama) -> None:
    fake_ollama.default_answer = LONG
    async with llm_stack(servers=(fake_ollama.url,), coalesce_chars=30, coalesce_ms=10_000,
                         cache_ttl=0) as stack:
        text, tokens = await stack.ask("tell me")
    pieces = [t.text for t in tokens if t.text]
    assert text == LONG
    assert len(pieces[0]) < 30  # the first word is not held back
    assert all(len(p) >= 30 for p in pieces[1:-1])
    assert len(pieces) < len(LONG.split()) / 2  # far fewer edits than model tokens


async def test_cancelling_the_caller_stops_the_server(fake_ollama: FakeOllama) -> None:
    fake_ollama.tokens_per_second = 40
    fake_ollama.default_answer = " ".join(["word"] * 400)
    async with llm_stack(servers=(fake_ollama.url,), cache_ttl=0) as stack:
        first = asyncio.Event()

        async def consume() -> None:
            async for token in stack.service.stream(request("go on forever")):
                if token.text:
                    first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await fake_ollama.wait_disconnect(timeout=2)
        await stack.bus.drain()
        assert fake_ollama.completed == 0 and fake_ollama.disconnects == 1
        assert stack.calls[-1].error_code == "llm_cancelled"
        assert stack.service.pool.active == 0  # the slot was given back


async def test_closing_the_stream_early_stops_the_server(fake_ollama: FakeOllama) -> None:
    fake_ollama.tokens_per_second = 40
    fake_ollama.default_answer = " ".join(["word"] * 400)
    async with llm_stack(servers=(fake_ollama.url,), cache_ttl=0) as stack:
        stream = stack.service.stream(request("stop me"))
        assert (await anext(stream)).text
        await stream.aclose()  # type: ignore[attr-defined]
        await fake_ollama.wait_disconnect(timeout=2)


async def test_same_question_is_answered_from_the_cache(fake_ollama: FakeOllama) -> None:
    fake_ollama.default_answer = LONG
    async with llm_stack(servers=(fake_ollama.url,), cache_ttl=60) as stack:
        first, _ = await stack.ask("What is Libra?", language="en")
        again, tokens = await stack.ask("  What is   Libra? ", language="en")
        other_language, _ = await stack.ask("What is Libra?", language="fr")
        await stack.bus.drain()
    chats = [r for r in fake_ollama.requests if r.path == "/api/chat"]
    assert first == again == other_language == LONG
    assert len(chats) == 2  # the whitespace variant was a hit, the other language was not
    assert len([t for t in tokens if t.text]) == 1  # a hit arrives in one piece
    assert [c.cache_hit for c in stack.calls] == [False, True, False]
    hit = stack.calls[1]
    assert hit.completion_tokens == stack.calls[0].completion_tokens
    assert hit.first_token_ms is not None and hit.first_token_ms < 50


async def test_flush_makes_the_next_answer_come_from_the_model(fake_ollama: FakeOllama) -> None:
    async with llm_stack(servers=(fake_ollama.url,), cache_ttl=60) as stack:
        flushed: list[CacheFlushed] = []

        async def on_flush(event: CacheFlushed) -> None:
            flushed.append(event)

        stack.bus.subscribe(CacheFlushed, on_flush)
        await stack.ask("hi")
        assert await stack.service.flush_cache() == 1
        await stack.ask("hi")
        await stack.bus.drain()
    assert len([r for r in fake_ollama.requests if r.path == "/api/chat"]) == 2
    assert [e.namespace for e in flushed] == ["libra:llm:"]


async def test_a_cut_answer_is_not_cached(fake_ollama: FakeOllama) -> None:
    fake_ollama.disconnect_after = 2
    async with llm_stack(servers=(fake_ollama.url,), cache_ttl=60) as stack:
        with pytest.raises(StreamCut):
            await stack.ask("hi")
        fake_ollama.disconnect_after = None
        text, _ = await stack.ask("hi")
        await stack.bus.drain()
    assert text == fake_ollama.default_answer
    assert [c.error_code for c in stack.calls] == ["llm_stream_cut", None]
    assert not stack.calls[1].cache_hit


async def test_call_event_has_sane_numbers(fake_ollama: FakeOllama) -> None:
    fake_ollama.first_token_delay = 0.1
    fake_ollama.tokens_per_second = 100
    async with llm_stack(servers=(fake_ollama.url,), cache_ttl=0) as stack:
        _, tokens = await stack.ask("numbers please", language="en")
        await stack.bus.drain()
    (call,) = stack.calls
    done: Token = tokens[-1]
    assert call.model == "llama3:8b-instruct-q4_K_M" and call.language == "en"
    assert call.server == fake_ollama.url and not call.cache_hit and call.error_code is None
    assert call.completion_tokens == done.completion_tokens == 11
    assert call.prompt_tokens == done.prompt_tokens and call.prompt_tokens > 0
    assert call.first_token_ms is not None and 100 <= call.first_token_ms < 1000
    assert call.latency_ms >= call.first_token_ms + 50  # ten more tokens at 100/s


async def test_errors_are_reported_with_their_code(fake_ollama: FakeOllama) -> None:
    async with llm_stack(servers=(fake_ollama.url,), cache_ttl=0) as stack:
        with pytest.raises(ModelMissing):
            await stack.ask("hi", model="not-pulled:1b")
        await stack.bus.drain()
    assert stack.calls[-1].error_code == "llm_model_missing"
    assert stack.calls[-1].model == "not-pulled:1b"


async def test_requests_without_text_or_model_are_refused_clearly(
        fake_ollama: FakeOllama) -> None:
    async with llm_stack(servers=(fake_ollama.url,)) as stack:
        with pytest.raises(EmptyInput):
            await stack.ask("   ")
        with pytest.raises(InputError, match="model"):
            await stack.ask("hi", model="")
    assert fake_ollama.requests == []
