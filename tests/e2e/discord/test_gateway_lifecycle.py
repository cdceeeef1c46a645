"""The bot's connection over its life: reconnects, lost sessions, revoked tokens, sync refusals."""

from __future__ import annotations

import asyncio

import pytest
from loguru import logger

from libra.errors import PluginError
from libra.health import Status
from tests.e2e.discord.libra_harness import StartLibra
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_ollama import FakeOllama

OP_IDENTIFY, OP_RESUME = 2, 6


async def test_a_guild_without_the_commands_scope_is_named_with_the_fix(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """Invited with only the ``bot`` scope: Discord answers 403 on the guild's commands."""
    guild = fake_discord.world.guilds[0].id
    fake_discord.world.guilds_without_commands_scope.add(guild)
    logged: list[str] = []
    sink = logger.add(lambda message: logged.append(str(message)), level="ERROR")
    try:
        with pytest.raises(PluginError, match="cannot run without: discord"):
            await start_libra(fake_discord, fake_ollama, None)
    finally:
        logger.remove(sink)

    failure = next(line for line in logged if "plugin discord failed to start" in line)
    assert "applications.commands" in failure
    assert str(guild) in failure
    assert "scope=bot%20applications.commands" in failure


async def test_a_token_reset_while_running_marks_discord_down_and_says_why(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    libra = await start_libra(fake_discord, fake_ollama, None)
    assert (await libra.plugin._check_health()).status is Status.OK
    logged: list[str] = []
    sink = logger.add(lambda message: logged.append(str(message)), level="ERROR")
    try:
        await fake_discord.revoke_token()
        await fake_discord.wait_until(lambda: all(s.ws.closed for s in fake_discord.connections))
        await asyncio.sleep(1)  # hikari gives up on a 4004 without retrying
        health = await libra.plugin._check_health()
    finally:
        logger.remove(sink)

    assert health.status is Status.DOWN
    assert "4004" in health.detail
    assert any("Discord closed the gateway for good" in line for line in logged)
    assert not any(fake_discord.token.split(".", 1)[1] in line for line in logged)


async def test_an_answer_streaming_through_a_reconnect_is_finished(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    answer = " ".join(f"token{i}" for i in range(100))
    fake_ollama.answers["count slowly"] = answer
    fake_ollama.tokens_per_second = 20
    await start_libra(fake_discord, fake_ollama, None)
    channel = fake_discord.text_channel.id
    await fake_discord.user_message("count slowly", mention_bot=True)
    await fake_discord.wait_for_bot_content(channel, lambda text: "token3" in text)

    await fake_discord.request_reconnect()
    await fake_discord.wait_until(lambda: bool(fake_discord.gateway_ops(OP_RESUME)))
    assert not fake_discord.bot_messages(channel)[-1].content.endswith("token99")

    await fake_discord.wait_for_bot_content(channel, lambda text: text.endswith("token99"))


async def test_an_invalid_session_re_identifies_and_keeps_answering(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    libra = await start_libra(fake_discord, fake_ollama, None)
    identifies = len(fake_discord.gateway_ops(OP_IDENTIFY))

    await fake_discord.session.invalidate_session(resumable=False)
    await fake_discord.wait_until(
        lambda: len(fake_discord.gateway_ops(OP_IDENTIFY)) > identifies, timeout=15)
    await fake_discord.wait_ready()
    await fake_discord.wait_until(lambda: any(
        s.identified.is_set() and not s.ws.closed for s in fake_discord.connections))

    await fake_discord.user_message("hello again", mention_bot=True)
    await fake_discord.wait_for_bot_content(fake_discord.text_channel.id,
                                            fake_ollama.default_answer)
    assert (await libra.plugin._check_health()).status is Status.OK


async def test_removed_from_a_guild_mid_answer_stops_quietly_and_frees_the_guild(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    """Kicked while writing: stop generating, no error storm, the guild slot is freed."""
    fake_ollama.answers["count slowly"] = " ".join(f"token{i}" for i in range(200))
    fake_ollama.tokens_per_second = 20
    await start_libra(fake_discord, fake_ollama, None, guild_concurrency=1)
    channel = fake_discord.text_channel.id
    guild = fake_discord.world.guilds[0].id
    await fake_discord.user_message("count slowly", mention_bot=True)
    await fake_discord.wait_for_bot_content(channel, lambda text: "token3" in text)
    logged: list[str] = []
    sink = logger.add(lambda message: logged.append(str(message)), level="ERROR")
    try:
        await fake_discord.remove_bot_from_guild(guild)
        await asyncio.wait_for(fake_ollama.disconnected.wait(), 5)
        await asyncio.sleep(1)
    finally:
        logger.remove(sink)
    refused = [c for c in fake_discord.rest_calls() if c.status == 403]
    assert 1 <= len(refused) <= 2, [f"{c.method} {c.route}" for c in refused]
    assert logged == []

    await fake_discord.add_bot_to_guild(guild)
    fake_ollama.tokens_per_second = 0
    await fake_discord.user_message("welcome back", mention_bot=True)
    await fake_discord.wait_for_bot_content(channel, fake_ollama.default_answer)


async def test_a_channel_deleted_mid_answer_stops_generating_quietly(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, start_libra: StartLibra
) -> None:
    fake_ollama.answers["count slowly"] = " ".join(f"token{i}" for i in range(200))
    fake_ollama.tokens_per_second = 20
    await start_libra(fake_discord, fake_ollama, None)
    channel = fake_discord.text_channel
    await fake_discord.user_message("count slowly", mention_bot=True)
    await fake_discord.wait_for_bot_content(channel.id, lambda text: "token3" in text)
    logged: list[str] = []
    sink = logger.add(lambda message: logged.append(str(message)), level="ERROR")
    try:
        await fake_discord.delete_channel(channel)
        await asyncio.wait_for(fake_ollama.disconnected.wait(), 5)
        await asyncio.sleep(1)
    finally:
        logger.remove(sink)
    assert logged == []
    assert len([c for c in fake_discord.rest_calls() if c.status == 404]) == 1
