"""The chat service end to end: real plugins, real PostgreSQL, a fake Ollama."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from libra.chat.api import ChatTurn
from libra.errors import EmptyInput, InputTooLong, LLMUnreachable, ModelMissing, StreamCut
from libra.events import LanguageChanged, ReplyFinished
from libra.storage.api import MessageStatus, Place, Role
from tests.fakes.fake_ollama import FakeOllama


async def session_messages(harness: Any, user: int = 1001, channel: int = 2002) -> list[Any]:
    storage = harness.storage
    internal = await storage.ensure_user(user)
    session = await storage.open_session(internal.id, channel, 3003)
    return await storage.recent_messages(session, 50)


async def test_reply_streams_and_both_messages_are_stored(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    fake_ollama.default_answer = "Paris is the capital of France."
    harness = await make_chat(fake_ollama, pg_url)
    stream = await harness.start("What is the capital of France?")
    deltas = [delta async for delta in stream]
    assert len(deltas) > 1  # streamed, not delivered at once
    assert "".join(deltas) == "Paris is the capital of France."
    assert stream.result is not None and stream.result.status is MessageStatus.COMPLETE
    await harness.settle()
    stored = await session_messages(harness)
    assert [(m.role, m.content) for m in stored] == [
        (Role.USER, "What is the capital of France?"),
        (Role.ASSISTANT, "Paris is the capital of France."),
    ]
    assert stored[1].model == "llama3:8b-instruct-q4_K_M"
    assert stored[1].language == "en"
    finished = harness.of(ReplyFinished)[-1]
    assert finished.first_token_ms is not None
    assert {"language", "context", "generate"} <= finished.stages.keys()
    # The call is recorded for per-guild usage (/stats, the admin page).

    pool = harness.database.pool
    row = await pool.fetchrow("SELECT model, guild_id, language, cache_hit, error_code, "
                              "completion_tokens FROM llm_calls")
    assert dict(row) == {"model": "llama3:8b-instruct-q4_K_M", "guild_id": 3003,
                         "language": "en", "cache_hit": False, "error_code": None,
                         "completion_tokens": row["completion_tokens"]}
    assert row["completion_tokens"] > 0


async def test_history_memories_and_reset_shape_the_prompt(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    harness = await make_chat(fake_ollama, pg_url)
    await harness.chat.remember(1001, "My cat is called Miso.", place=Place.of(3003))
    await harness.ask("Hello there, how are you?")
    await harness.ask("What did I just say to you?")
    prompt = fake_ollama.requests[-1].body["messages"]
    assert prompt[0]["role"] == "system"
    assert "My cat is called Miso." in prompt[0]["content"]
    assert [m["content"] for m in prompt[1:]] == [
        "Hello there, how are you?", fake_ollama.default_answer, "What did I just say to you?"]
    assert await harness.chat.reset(1001, 2002) is True
    await harness.ask("Do you remember me?")
    prompt = fake_ollama.requests[-1].body["messages"]
    assert [m["role"] for m in prompt] == ["system", "user"]
    assert "Miso" in prompt[0]["content"]  # memories survive a reset
    assert await harness.chat.forget(1001) == 1
    assert await harness.chat.memories(1001) == []


async def test_history_respects_the_token_budget(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str, tmp_path: Any
) -> None:
    harness = await make_chat(fake_ollama, pg_url)
    for i in range(12):
        await harness.ask(f"message number {i} " + "padding words " * 40)
    prompt = fake_ollama.requests[-1].body["messages"]
    # 12 turns of ~600 bytes each cannot all fit into the 2,048-token default budget
    # together with the answers, but the newest turns must be there, oldest dropped.
    contents = [m["content"] for m in prompt]
    assert contents[-1].startswith("message number 11")
    assert not any(c.startswith("message number 0 ") for c in contents)
    assert sum(len(c.encode()) for c in contents) // 3 <= 2048 + 50


async def test_korean_switches_language_model_and_prompt_with_a_notice(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    harness = await make_chat(fake_ollama, pg_url)
    await harness.ask("Hi! Can you help me plan a trip?")
    first = await harness.ask("안녕하세요, 여행 계획을 도와줄 수 있나요?")
    assert first.language == "en" and first.notice is None  # one message is not enough
    second = await harness.ask("서울에서 부산까지 기차로 얼마나 걸려요?")
    assert second.language == "ko"
    assert second.model == "qwen2.5:7b-instruct"
    assert second.notice is not None and "한국어" in second.notice
    assert fake_ollama.requests[-1].body["model"] == "qwen2.5:7b-instruct"
    system = fake_ollama.requests[-1].body["messages"][0]["content"]
    assert "한국어" in system
    changed = harness.of(LanguageChanged)
    assert [(c.previous, c.language) for c in changed] == [("en", "ko")]
    third = await harness.ask("고마워요!")
    assert third.notice is None


async def test_stop_ends_the_reply_and_saves_what_was_delivered(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    fake_ollama.default_answer = " ".join(f"word{i}" for i in range(200))
    fake_ollama.tokens_per_second = 50
    harness = await make_chat(fake_ollama, pg_url)
    stream = await harness.start("Tell me a very long story please")
    seen = ""
    async for delta in stream:
        seen += delta
        if len(seen.split()) >= 5:
            assert await harness.chat.stop(2002) is True
    assert stream.result is not None and stream.result.status is MessageStatus.STOPPED
    assert 5 <= len(seen.split()) < 50
    await fake_ollama.wait_disconnect()  # the backend request was really cancelled
    await harness.settle()
    stored = await session_messages(harness)
    assert stored[-1].status is MessageStatus.STOPPED
    assert stored[-1].content == seen
    assert harness.of(ReplyFinished)[-1].stopped
    assert await harness.chat.stop(2002) is False


@pytest.mark.parametrize(("text", "error"), [("   \n", EmptyInput), ("x" * 4001, InputTooLong)])
async def test_bad_input_is_refused_and_nothing_is_stored(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str, text: str, error: type[Exception]
) -> None:
    harness = await make_chat(fake_ollama, pg_url)
    with pytest.raises(error):
        await harness.start(text)
    assert fake_ollama.requests == []
    assert await session_messages(harness) == []


async def test_exactly_the_limit_is_accepted(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    harness = await make_chat(fake_ollama, pg_url)
    stream = await harness.ask("y" * 4000)
    assert stream.result is not None and stream.result.status is MessageStatus.COMPLETE


async def test_a_message_longer_than_the_model_can_read_is_refused_in_characters(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    # Under the 4,000-character limit, but ~3,500 tokens: with num_ctx 4096 and
    # num_predict 512 the model would silently lose the start (system prompt too).
    korean = "오늘은날씨가정말좋네요. " * 300  # 3,900 characters
    harness = await make_chat(fake_ollama, pg_url)
    with pytest.raises(InputTooLong) as info:
        await harness.start(korean)
    shortened = await harness.ask(korean[:info.value.limit])  # the limit it named fits
    english = await harness.ask("It is a lovely day today. " * 150)  # 3,900 characters

    assert info.value.length == len(korean.strip()) > info.value.limit
    for answered in (shortened, english):
        assert answered.result is not None
        assert answered.result.status is MessageStatus.COMPLETE
    assert [r.body["messages"][-1]["content"][:5] for r in fake_ollama.requests
            if r.path == "/api/chat"] == ["오늘은날씨", "It is"]


async def test_cut_stream_keeps_and_marks_the_partial_answer(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    fake_ollama.default_answer = "one two three four five six seven eight"
    fake_ollama.disconnect_after = 3
    harness = await make_chat(fake_ollama, pg_url)
    stream = await harness.start("count for me")
    seen = ""
    with pytest.raises(StreamCut):
        async for delta in stream:
            seen += delta
    assert seen == "one two three"
    await harness.settle()
    stored = await session_messages(harness)
    assert (stored[-1].status, stored[-1].content) == (MessageStatus.CUT, "one two three")


async def test_missing_model_and_dead_server_are_typed_and_nothing_fake_is_stored(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    fake_ollama.models = {"qwen2.5:7b-instruct"}
    harness = await make_chat(fake_ollama, pg_url)
    stream = await harness.start("hello, is anyone there?")
    with pytest.raises(ModelMissing) as info:
        async for _ in stream:
            pass
    assert "ollama pull llama3:8b-instruct-q4_K_M" in str(info.value)
    await fake_ollama.kill()
    stream = await harness.start("hello again, anyone?")
    with pytest.raises(LLMUnreachable):
        async for _ in stream:
            pass
    await harness.settle()
    roles = [m.role for m in await session_messages(harness)]
    assert roles == [Role.USER, Role.USER]  # failed replies delivered nothing
    assert [e.error_code for e in harness.of(ReplyFinished)] == [
        "llm_model_missing", "llm_unreachable"]


async def test_without_a_database_chat_still_answers(
    make_chat: Any, fake_ollama: FakeOllama
) -> None:
    harness = await make_chat(fake_ollama, None, storage=False)
    stream = await harness.ask("are you there without a database?")
    assert stream.result is not None and stream.result.text == fake_ollama.default_answer
    from libra.errors import ServiceUnavailable

    with pytest.raises(ServiceUnavailable):
        await harness.chat.remember(1, "x", place=Place.of(None))


async def test_concurrent_replies_in_two_channels_stop_independently(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    fake_ollama.default_answer = " ".join(["tok"] * 60)
    fake_ollama.tokens_per_second = 100
    harness = await make_chat(fake_ollama, pg_url)
    a = await harness.chat.reply(ChatTurn(user_id=1, channel_id=10, guild_id=None,
                                          text="first channel question"))
    b = await harness.chat.reply(ChatTurn(user_id=2, channel_id=20, guild_id=None,
                                          text="second channel question"))

    async def drain(stream: Any) -> str:
        return "".join([d async for d in stream])

    task_a = asyncio.create_task(drain(a))
    task_b = asyncio.create_task(drain(b))
    await asyncio.sleep(0.1)
    await harness.chat.stop(10)
    text_a, text_b = await asyncio.gather(task_a, task_b)
    assert a.result is not None and a.result.status is MessageStatus.STOPPED
    assert b.result is not None and b.result.status is MessageStatus.COMPLETE
    assert len(text_a) < len(text_b)


async def test_finished_replies_leave_no_per_channel_state(
    make_chat: Any, fake_ollama: FakeOllama
) -> None:
    harness = await make_chat(fake_ollama, None, storage=False)
    for channel in range(1, 21):
        await harness.ask("hello from another channel", channel=channel)
    assert await harness.chat.stop(5) is False
    # One leftover entry per channel ever seen would grow without bound.
    assert len(harness.chat._active) == 0


async def test_an_abandoned_reply_is_stored_as_stopped_and_leaves_nothing_running(
    make_chat: Any, fake_ollama: FakeOllama, pg_url: str
) -> None:
    """A transport that dies mid-reply (Discord refused the send, shutdown) cancels its
    consumer; the reply must still end, be stored, and not linger as running."""
    fake_ollama.default_answer = " ".join(f"w{i}" for i in range(200))
    fake_ollama.tokens_per_second = 40
    harness = await make_chat(fake_ollama, pg_url)
    stream = await harness.start("write a lot please")
    seen: list[str] = []
    started = asyncio.Event()

    async def consume() -> None:
        async for delta in stream:
            seen.append(delta)
            if len(seen) >= 3:
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await harness.settle()
    assert stream.result is not None and stream.result.status is MessageStatus.STOPPED
    stored = await session_messages(harness)
    assert stored[-1].status is MessageStatus.STOPPED
    assert stored[-1].content.startswith("".join(seen))
    assert await harness.chat.stop(2002) is False  # nothing left running in the channel
    await fake_ollama.wait_disconnect()


async def test_a_failover_restart_is_counted_and_only_the_new_answer_is_stored(
    make_chat: Any, fake_ollama_factory: Any, pg_url: str
) -> None:
    answer = " ".join(f"part{i}" for i in range(30))
    servers = [await fake_ollama_factory(tokens_per_second=40, default_answer=answer)
               for _ in range(2)]
    harness = await make_chat(servers[0], pg_url, servers=[s.url for s in servers])
    stream = await harness.start("explain it slowly")
    after_restart: list[str] = []
    seen = 0
    async for delta in stream:
        seen += 1
        if stream.restarts:
            after_restart.append(delta)
        if seen == 3:
            await next(s for s in servers if s.streaming).kill()
    assert stream.restarts == 1
    assert "".join(after_restart) == answer
    await harness.settle()
    assert (await session_messages(harness))[-1].content == answer
