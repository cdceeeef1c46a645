"""Memories stay where they were made: a server, the DMs, or everywhere when asked.

Asserted on what reaches the model (the fake Ollama's requests), since a memory in a
prompt can end up in a reply that everyone in that channel reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.discord.libra_harness import LibraBot, StartLibra
from tests.fakes.fake_discord import FakeChannel, FakeDiscord, add_guild, build_default_world
from tests.fakes.fake_ollama import FakeOllama


@pytest.fixture
async def two_guilds() -> AsyncIterator[FakeDiscord]:
    """The default world (guild A, alice's DM) plus a second guild B alice is in too."""
    world = build_default_world()
    add_guild(world, "Guild B")
    fake = FakeDiscord(world)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


# Global commands (no ``guild_ids``), as in production: guild commands are absent in DMs.


def guild_b(fake: FakeDiscord) -> FakeChannel:
    return fake.world.guilds[1].channels[0]


async def original_text(fake: FakeDiscord, token: str) -> str:
    """Wait for the interaction's original response to show some text."""
    await fake.wait_until(lambda: bool(getattr(fake.original_response(token), "content", "")))
    message = fake.original_response(token)
    assert message is not None
    return message.content


async def remember(fake: FakeDiscord, text: str, *, channel: FakeChannel,
                   scope: str | None = None) -> str:
    options = {"text": text} | ({"scope": scope} if scope else {})
    token = await fake.slash_subcommand("memory", "remember", options, channel=channel)
    return await original_text(fake, token)


async def prompt_for(libra: LibraBot, text: str, channel: FakeChannel) -> str:
    """Send ``text`` in ``channel``, wait for the answer; return everything the model read."""
    fake, ollama = libra.fake, libra.ollama
    answered = len(fake.bot_messages(channel.id))
    await fake.user_message(text, channel=channel, mention_bot=channel.guild_id is not None)
    await fake.wait_until(lambda: len(fake.bot_messages(channel.id)) > answered and
                          fake.bot_messages(channel.id)[-1].content == ollama.default_answer)
    await libra.settle()
    request = next(r for r in reversed(ollama.requests) if r.path == "/api/chat"
                   and r.body["messages"][-1]["content"].endswith(text))
    return "\n".join(m["content"] for m in request.body["messages"])


async def test_a_memory_is_used_only_where_it_was_made(
    two_guilds: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    libra = await start_libra(two_guilds, fake_ollama, pg_url, guild_ids=[])
    guild_a, dm = two_guilds.text_channel, two_guilds.world.dm_channels[0]
    await remember(two_guilds, "My locker code is 4417.", channel=guild_a)
    await remember(two_guilds, "I am seeing a doctor about my anxiety.", channel=dm)

    in_b = await prompt_for(libra, "What do you know about me?", guild_b(two_guilds))
    in_dm = await prompt_for(libra, "What do you know about me, privately?", dm)
    in_a = await prompt_for(libra, "What is my locker code?", guild_a)

    assert "4417" not in in_b and "anxiety" not in in_b
    assert "4417" not in in_dm and "anxiety" in in_dm
    assert "4417" in in_a and "anxiety" not in in_a


async def test_an_everywhere_memory_is_used_in_every_server_and_in_dms(
    two_guilds: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    libra = await start_libra(two_guilds, fake_ollama, pg_url, guild_ids=[])
    answer = await remember(two_guilds, "Call me Ally.", channel=two_guilds.text_channel,
                            scope="everywhere")
    assert "everywhere" in answer

    assert "Call me Ally." in await prompt_for(libra, "Hi there!", guild_b(two_guilds))
    assert "Call me Ally." in await prompt_for(libra, "Hi in private!",
                                               two_guilds.world.dm_channels[0])
    assert "Call me Ally." in await prompt_for(libra, "Hi again!", two_guilds.text_channel)


async def test_memory_show_lists_every_memory_with_its_scope(
    two_guilds: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra
) -> None:
    await start_libra(two_guilds, fake_ollama, pg_url, guild_ids=[])
    guild_a, dm = two_guilds.text_channel, two_guilds.world.dm_channels[0]
    await remember(two_guilds, "likes tea", channel=guild_a)
    await remember(two_guilds, "vegetarian", channel=guild_a, scope="everywhere")
    await remember(two_guilds, "plays go", channel=guild_b(two_guilds))
    await remember(two_guilds, "night shift", channel=dm)

    token = await two_guilds.slash_subcommand("memory", "show", channel=guild_a)
    lines = (await original_text(two_guilds, token)).split("\n")

    shown = {line.split("] ", 1)[1]: line.split(" [", 1)[1].split("]")[0] for line in lines}
    assert shown == {"likes tea": "this server", "vegetarian": "everywhere",
                     "plays go": "server “Guild B”", "night shift": "DMs"}
    # Shown only to the caller: a list of memories is nobody else's business.
    callback = two_guilds.rest_calls("POST", "/interactions/{id}/{token}/callback")[-1]
    assert callback.json["data"]["flags"] & 64
