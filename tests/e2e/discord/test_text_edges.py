"""Edge cases of the Discord bot: notices, refused input, commands, failures at start."""

from __future__ import annotations

import asyncio
import time

import hikari
import pytest
from loguru import logger

from libra.chat.messages import user_message
from libra.discord.onboarding import disallowed_intents_explanation
from libra.errors import PluginError
from tests.e2e.discord.libra_harness import StartLibra
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.freezable_proxy import FreezableProxy, proxied_url

ORIGINAL = "PATCH /webhooks/{app}/{token}/messages/{message}"


async def original_text(fake: FakeDiscord, token: str, final: str | None = None) -> str:
    """Wait for the interaction's original response to show some text (or ``final``)."""
    await fake.wait_until(lambda: bool(
        (m := fake.original_response(token)) is not None and m.content
        and (final is None or m.content == final)))
    message = fake.original_response(token)
    assert message is not None
    return message.content


async def test_a_language_change_notice_comes_first_on_its_own_line(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    libra = await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id
    said = ["What a lovely day it is today, shall we go for a walk?",
            "오늘 날씨가 정말 좋네요. 산책하러 갈까요?", "저녁에는 무엇을 먹으면 좋을까요?"]
    for n, text in enumerate(said, start=1):
        await fake_discord.user_message(text, mention_bot=True)
        await fake_discord.wait_until(lambda n=n: len(fake_discord.bot_messages(channel)) >= n)

    language = libra.language
    expected = language.change_notice("ko") + "\n" + fake_ollama.default_answer
    await fake_discord.wait_for_bot_content(channel, expected)


async def test_empty_and_too_long_messages_get_specific_answers(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, pg_url, user_burst=5)
    channel = fake_discord.text_channel.id

    await fake_discord.user_message("", mention_bot=True)
    await fake_discord.user_message("x" * 4500, mention_bot=True)

    await fake_discord.wait_for_bot_content(channel, user_message("input_empty", "en"))
    await fake_discord.wait_for_bot_content(
        channel, user_message("input_too_long", "en", length=4500, limit=4000))
    assert fake_ollama.model_calls == []


async def test_private_ask_is_ephemeral_and_an_unexpected_failure_answers_with_a_ref(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, pg_url)

    private = await fake_discord.slash_command("ask", {"prompt": "secret?", "private": True})
    await original_text(fake_discord, private, final=fake_ollama.default_answer)
    callback = fake_discord.rest_calls("POST", "/interactions/{id}/{token}/callback")[0]
    assert callback.json["data"]["flags"] & hikari.MessageFlag.EPHEMERAL

    fake_discord.limiter.inject(ORIGINAL, status=400)
    broken = await fake_discord.slash_command("ask", {"prompt": "and now?"})

    shown = await original_text(fake_discord, broken)
    prefix = user_message("unexpected", "en", ref="REF").split("REF")[0]
    assert shown.startswith(prefix)


async def test_private_asks_answer_in_their_language_without_moving_the_channel(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, pg_url)
    channel = fake_discord.text_channel.id
    for question in ("오늘 저녁에 뭘 먹으면 좋을까요?", "주말에 어디로 여행 가면 좋을까요?"):
        token = await fake_discord.slash_command("ask", {"prompt": question, "private": True})
        await original_text(fake_discord, token, final=fake_ollama.default_answer)

    fake_ollama.answers["What should I cook for dinner tonight?"] = "Try a risotto."
    await fake_discord.user_message("What should I cook for dinner tonight?", mention_bot=True)
    reply = await fake_discord.wait_for_bot_content(channel, lambda text: "risotto" in text)

    models = [r.body["model"] for r in fake_ollama.requests if r.path == "/api/chat"]
    assert models == ["qwen2.5:7b-instruct", "qwen2.5:7b-instruct", "llama3:8b-instruct-q4_K_M"]
    assert reply.content == "Try a risotto."  # no "switching to English" notice


async def test_memory_reset_lang_and_help_commands_answer(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(fake_discord, fake_ollama, pg_url)

    remembered = await fake_discord.slash_subcommand("memory", "remember", {"text": "I like tea"})
    assert (await original_text(fake_discord, remembered)).startswith("I'll remember that")
    shown = await fake_discord.slash_subcommand("memory", "show")
    assert "I like tea" in await original_text(fake_discord, shown)
    forgotten = await fake_discord.slash_subcommand("memory", "forget")
    assert await original_text(fake_discord, forgotten) == "Forgotten: 1 memory."
    reset = await fake_discord.slash_command("reset")
    assert (await original_text(fake_discord, reset)).startswith("Started a fresh")
    unknown = await fake_discord.slash_subcommand("lang", "set", {"language": "klingon"})
    assert "klingon" in await original_text(fake_discord, unknown)
    auto = await fake_discord.slash_subcommand("lang", "auto")
    assert "follows the conversation" in await original_text(fake_discord, auto)
    helped = await fake_discord.slash_command("help")
    assert "/ask" in await original_text(fake_discord, helped)


async def test_stats_shows_stage_latency_and_usage_to_admins(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    moderator = fake_discord.world.guilds[0].roles[1]
    libra = await start_libra(fake_discord, fake_ollama, pg_url, admin_role_ids=[moderator.id])
    await fake_discord.user_message("hello", mention_bot=True)
    await fake_discord.wait_for_bot_content(fake_discord.text_channel.id,
                                            fake_ollama.default_answer)
    await libra.settle()

    token = await fake_discord.slash_command("stats")

    report = await original_text(fake_discord, token)
    assert "first_token: median" in report
    assert "generate: median" in report
    assert "**LLM usage (last 24 h)**" in report


async def test_stats_answers_in_time_when_the_database_stops_answering(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    proxy = FreezableProxy(pg_url)
    port = await proxy.start()
    moderator = fake_discord.world.guilds[0].roles[1]
    await start_libra(fake_discord, fake_ollama, proxied_url(pg_url, port),
                      admin_role_ids=[moderator.id])
    try:
        proxy.frozen.set()  # the host goes dark: no reset, no answer
        started = time.monotonic()
        token = await fake_discord.slash_command("stats")
        report = await asyncio.wait_for(original_text(fake_discord, token), 15)
        took = time.monotonic() - started
    finally:
        proxy.thaw()
        await proxy.close()
    assert "unavailable: the database did not answer" in report
    assert took < 10  # database.query_timeout is 5 s


async def test_lightbulb_failing_to_start_is_fatal(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    fake_discord.limiter.inject("GET /applications/{app}/guilds/{guild}/commands", status=403)

    with pytest.raises(PluginError, match="cannot run without: discord"):
        await start_libra(fake_discord, fake_ollama, None)

    assert all(session.ws.closed for session in fake_discord.connections)


async def test_a_refused_message_content_intent_is_explained(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    fake_discord.world.message_content_allowed = False
    logged: list[str] = []
    sink = logger.add(lambda message: logged.append(str(message)), level="ERROR")
    try:
        with pytest.raises(PluginError):
            await start_libra(fake_discord, fake_ollama, None)
    finally:
        logger.remove(sink)

    assert any(disallowed_intents_explanation() in line for line in logged)


async def test_without_message_content_the_bot_still_connects(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    fake_discord.world.message_content_allowed = False

    await start_libra(fake_discord, fake_ollama, None, message_content=False)

    identify = fake_discord.gateway_ops(2)[-1].d
    assert not identify["intents"] & hikari.Intents.MESSAGE_CONTENT
    assert identify["intents"] & hikari.Intents.GUILD_MESSAGES
