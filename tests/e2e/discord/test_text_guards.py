"""What the bot must not answer: system messages, and commands in threads of blocked channels."""

from __future__ import annotations

import asyncio
from typing import Any

from libra.chat.messages import user_message
from tests.e2e.discord.libra_harness import StartLibra
from tests.fakes.fake_discord import FakeDiscord, events
from tests.fakes.fake_ollama import FakeOllama

THREAD_CREATED = 18
CHANNEL_PINNED_MESSAGE = 6


async def test_system_messages_in_an_opt_in_channel_get_no_answer(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    channel = fake_discord.text_channel
    await start_libra(fake_discord, fake_ollama, None, chat_channel_ids=[channel.id])
    alice = fake_discord.user("alice")
    # Discord posts these in the channel, authored by the user who acted: a thread
    # was started (content = the thread's name) and a message was pinned (empty).
    for kind, content in ((THREAD_CREATED, "Weekend plans"), (CHANNEL_PINNED_MESSAGE, "")):
        payload = events.message_create(fake_discord.world, author=alice, channel=channel,
                                        content=content)
        payload["type"] = kind
        await fake_discord.dispatch("MESSAGE_CREATE", payload)
    await fake_discord.user_message("and a real question", channel=channel)

    await fake_discord.wait_for_bot_content(channel.id, fake_ollama.default_answer)
    await asyncio.sleep(0.3)
    assert [m.content for m in fake_discord.bot_messages(channel.id)] == [
        fake_ollama.default_answer]
    assert len(fake_ollama.model_calls) == 1


async def test_ask_in_a_thread_of_a_blocked_channel_is_refused(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, None,
                      blocked_channel_ids=[fake_discord.text_channel.id])
    thread = fake_discord.channel_named("a thread")

    token = await fake_discord.slash_command("ask", {"prompt": "hello?"}, channel=thread)

    await fake_discord.wait_until(lambda: (m := fake_discord.original_response(token))
                                  is not None and bool(m.content))
    refusal = fake_discord.original_response(token)
    assert refusal is not None and refusal.content == user_message("permission_denied", "en")
    assert fake_ollama.model_calls == []


async def test_ask_in_a_thread_of_an_allowed_channel_is_answered(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, None,
                      allowed_channel_ids=[fake_discord.text_channel.id])
    thread = fake_discord.channel_named("a thread")

    token = await fake_discord.slash_command("ask", {"prompt": "hello?"}, channel=thread)

    await fake_discord.wait_until(lambda: (m := fake_discord.original_response(token))
                                  is not None and m.content == fake_ollama.default_answer)


async def test_a_question_deleted_while_the_answer_is_written_still_gets_the_answer(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    fake_ollama.first_token_delay = 0.5
    await start_libra(fake_discord, fake_ollama, None)
    channel = fake_discord.text_channel.id
    question = await fake_discord.user_message("quick, then I delete this", mention_bot=True)

    # The user deletes the question before the first token arrives.
    fake_discord.world.messages[channel].remove(question)

    await fake_discord.wait_for_bot_content(channel, fake_ollama.default_answer)


async def test_mentioning_libras_managed_role_counts_as_mentioning_libra(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    """Discord's autocomplete offers the bot's role next to the bot; people pick it."""
    fake_ollama.answers["what time is it in Seoul?"] = "It is evening in Seoul."
    await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id

    await fake_discord.user_message("what time is it in Seoul?", mention_bot_role=True)

    await fake_discord.wait_for_bot_content(channel, "It is evening in Seoul.", timeout=15)
    # The role mention was stripped: the model saw only the question.
    users = [m for m in fake_ollama.model_calls[-1].body["messages"] if m["role"] == "user"]
    assert users[-1]["content"] == "what time is it in Seoul?"


async def test_an_answer_restarted_on_another_llm_server_shows_only_the_new_answer(
    fake_discord: FakeDiscord, fake_ollama_factory: Any, pg_url: str, start_libra: StartLibra
) -> None:
    """Failover mid-answer: the user sees a retry, never half of one answer glued to
    the whole of another."""
    answer = " ".join(f"step{i}" for i in range(30)) + "."
    servers = [await fake_ollama_factory(tokens_per_second=30, default_answer=answer)
               for _ in range(2)]
    await start_libra(fake_discord, servers[0], pg_url,
                      llm={"servers": [s.url for s in servers]})
    channel = fake_discord.text_channel.id

    await fake_discord.user_message("walk me through it", mention_bot=True)
    await fake_discord.wait_until(lambda: any(s.completed == 0 and s.streaming
                                              for s in servers), timeout=15)
    victim = next(s for s in servers if s.streaming)
    await asyncio.sleep(0.3)  # a few tokens are on screen before the server dies
    await victim.kill()

    await fake_discord.wait_for_bot_content(channel, answer, timeout=30)
    survivor = next(s for s in servers if s is not victim)
    assert survivor.completed == 1
