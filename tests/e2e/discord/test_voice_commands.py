"""``/voice join|leave|status|mode|voice`` and the session lifecycle, through the real bot.

A whole Libra (storage on the test database, hikari + lightbulb) against the fake
Discord, which keeps members' voice states and refuses joins the bot has no
permission for, and one fake voice server per voice channel (DAVE included).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from libra.chat.messages import user_message
from tests.e2e.discord.libra_harness import LibraBot, StartLibra
from tests.e2e.voice.conftest import wait_until
from tests.e2e.voice.voice_call import VoiceServers
from tests.fakes.fake_discord import FakeDiscord, FakeMember, FakeUser
from tests.fakes.fake_discord.world import CONNECT, SPEAK, ChannelType, FakeChannel, FakeOverwrite
from tests.fakes.fake_ollama import FakeOllama


@pytest.fixture
async def voice_servers(fake_discord: FakeDiscord) -> AsyncIterator[VoiceServers]:
    servers = VoiceServers(fake_discord)
    yield servers
    await servers.close()


def add_voice_channel(fake: FakeDiscord, name: str, *,
                      overwrites: list[FakeOverwrite] | None = None) -> FakeChannel:
    """Another voice channel in the first guild (before the bot connects)."""
    guild = fake.world.guilds[0]
    channel = FakeChannel(id=fake.world.snowflakes.next(), name=name,
                          type=ChannelType.GUILD_VOICE, guild_id=guild.id,
                          overwrites=overwrites or [])
    guild.channels.append(channel)
    return channel


async def answer(fake: FakeDiscord, token: str) -> str:
    """The text of an interaction's (possibly deferred) answer."""
    await fake.wait_until(lambda: bool(getattr(fake.original_response(token), "content", "")))
    response = fake.original_response(token)
    assert response is not None
    return response.content


async def voice_row(libra: LibraBot) -> list[tuple[int, int, int | None]]:
    rows = await libra.query("SELECT guild_id, channel_id, text_channel_id FROM voice_channels")
    return [(r["guild_id"], r["channel_id"], r["text_channel_id"]) for r in rows]


def bot_in_voice(fake: FakeDiscord) -> int | None:
    state = fake.world.guilds[0].voice_states.get(fake.world.bot_user.id)
    return state.channel_id if state is not None else None


async def test_join_status_and_leave(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra,
    voice_servers: VoiceServers,
) -> None:
    libra = await start_libra(fake_discord, fake_ollama, pg_url)
    lounge, text = fake_discord.channel_named("Lounge"), fake_discord.text_channel
    guild_id = fake_discord.world.guilds[0].id
    await fake_discord.user_voice(fake_discord.user("alice"), lounge)

    token = await fake_discord.slash_subcommand("voice", "join")
    listening = user_message("voice_listening", "en", channel=f"<#{lounge.id}>")
    assert await answer(fake_discord, token) == listening
    # Said where the people in the call read: the voice channel's own text chat.
    await fake_discord.wait_for_bot_content(lounge.id, listening)
    assert voice_servers.connected(lounge) and bot_in_voice(fake_discord) == lounge.id
    assert await voice_row(libra) == [(guild_id, lounge.id, text.id)]

    server = voice_servers.by_channel[lounge.id]
    await server.add_peer(fake_discord.user("alice").id)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    status = await answer(fake_discord, await fake_discord.slash_subcommand("voice", "status"))
    assert f"**Voice in <#{lounge.id}>**" in status
    assert "connection: connected" in status and "transport `aead_" in status
    assert "end-to-end encryption (DAVE): v1, epoch" in status
    assert "privacy code: `" in status and "privacy code: none yet" not in status
    assert "decrypt failures: none" in status and "loss 0.0%" in status
    assert "mode: open; voice: default" in status

    left = await answer(fake_discord, await fake_discord.slash_subcommand("voice", "leave"))
    assert left == user_message("voice_left", "en", channel=f"<#{lounge.id}>")
    await fake_discord.wait_until(lambda: bot_in_voice(fake_discord) is None)
    assert await voice_row(libra) == []
    again = await answer(fake_discord, await fake_discord.slash_subcommand("voice", "leave"))
    assert again == user_message("voice_not_joined", "en")


async def test_join_needs_a_voice_channel_and_the_permissions(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra,
    voice_servers: VoiceServers,
) -> None:
    guild = fake_discord.world.guilds[0]
    bot_role = next(r for r in guild.roles if r.bot_id == fake_discord.world.bot_user.id)
    locked = add_voice_channel(fake_discord, "Locked", overwrites=[
        FakeOverwrite(id=bot_role.id, deny=CONNECT | SPEAK)])
    libra = await start_libra(fake_discord, fake_ollama, pg_url)

    nowhere = await answer(fake_discord, await fake_discord.slash_subcommand("voice", "join"))
    assert nowhere == user_message("voice_channel_required", "en")

    refused = await answer(fake_discord, await fake_discord.slash_subcommand(
        "voice", "join", {"channel": locked}))
    assert refused == user_message("voice_permission_missing", "en", channel=f"<#{locked.id}>",
                                   missing="Connect / Speak")
    assert "Connect / Speak permission" in refused
    assert fake_discord.gateway_ops(4) == []  # it never tried: Discord would ignore it
    assert await voice_row(libra) == []


async def test_mode_and_voice_are_admin_only_and_stored(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra,
) -> None:
    moderator = fake_discord.world.guilds[0].roles[1]
    libra = await start_libra(fake_discord, fake_ollama, pg_url, admin_role_ids=[moderator.id])
    guild_id = fake_discord.world.guilds[0].id
    owner = fake_discord.user("owner")

    refused = await answer(fake_discord, await fake_discord.slash_subcommand(
        "voice", "mode", {"mode": "wake-word"}, user=owner))
    assert refused == user_message("admin_only", "en")
    refused = await answer(fake_discord, await fake_discord.slash_subcommand(
        "voice", "voice", {"name": "en_US-joe-medium"}, user=owner))
    assert refused == user_message("admin_only", "en")
    assert await libra.query("SELECT 1 FROM guild_settings") == []

    mode = await answer(fake_discord, await fake_discord.slash_subcommand(
        "voice", "mode", {"mode": "wake-word"}))
    assert mode.startswith("Voice mode in this server: **wake-word** (I answer only what")
    voice = await answer(fake_discord, await fake_discord.slash_subcommand(
        "voice", "voice", {"name": "en_US-joe-medium"}))
    assert voice == user_message("voice_voice_set", "en", voice="en_US-joe-medium")
    rows = await libra.query("SELECT guild_id, voice_mode, voice_name FROM guild_settings")
    assert [tuple(r) for r in rows] == [(guild_id, "wake-word", "en_US-joe-medium")]


async def test_leaves_when_only_bots_are_left(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra,
    voice_servers: VoiceServers,
) -> None:
    world = fake_discord.world
    music = FakeUser(id=world.snowflakes.next(), username="musicbot", bot=True)
    world.users[music.id] = music
    world.guilds[0].members.append(FakeMember(user=music))
    lounge, alice = fake_discord.channel_named("Lounge"), fake_discord.user("alice")
    libra = await start_libra(fake_discord, fake_ollama, pg_url,
                              voice={"leave_when_alone_s": 0.5})
    await fake_discord.user_voice(alice, lounge)
    await fake_discord.user_voice(music, lounge)
    await answer(fake_discord, await fake_discord.slash_subcommand("voice", "join"))
    assert await voice_row(libra) != []

    await fake_discord.user_voice(alice, None, guild_id=lounge.guild_id)

    alone = user_message("voice_left_alone", "en", channel=f"<#{lounge.id}>", seconds="0.5")
    await fake_discord.wait_for_bot_content(lounge.id, alone)
    await fake_discord.wait_until(lambda: bot_in_voice(fake_discord) is None)
    assert await voice_row(libra) == []


async def test_rejoins_after_a_restart_follows_a_move_and_forgets_a_kick(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra,
    voice_servers: VoiceServers,
) -> None:
    lounge, text = fake_discord.channel_named("Lounge"), fake_discord.text_channel
    studio = add_voice_channel(fake_discord, "Studio")
    guild_id = fake_discord.world.guilds[0].id
    first = await start_libra(fake_discord, fake_ollama, pg_url)
    await fake_discord.user_voice(fake_discord.user("alice"), lounge)
    await answer(fake_discord, await fake_discord.slash_subcommand("voice", "join"))
    await first.app.stop()
    assert bot_in_voice(fake_discord) is None  # it left on the way out...
    assert await voice_row(first) == [(guild_id, lounge.id, text.id)]  # ...but remembers

    libra = await start_libra(fake_discord, fake_ollama, pg_url)
    rejoined = user_message("voice_rejoined", "en", channel=f"<#{lounge.id}>")
    await fake_discord.wait_for_bot_content(lounge.id, rejoined)
    assert bot_in_voice(fake_discord) == lounge.id
    sessions = libra.plugin.voice_sessions
    assert sessions is not None
    session = sessions.get(guild_id)
    assert session is not None
    link = session.link

    await fake_discord.move_bot(studio)
    await voice_servers.by_channel[lounge.id].close_bot(4014)
    await wait_until(lambda: voice_servers.connected(studio), what="the move to Studio")
    assert sessions.get(guild_id) is session and link.is_alive
    assert int(link.channel_id) == studio.id
    await wait_until(lambda: session.channel_id == studio.id, what="the session to follow")
    assert await voice_row(libra) == [(guild_id, studio.id, text.id)]

    await fake_discord.disconnect_bot_from_voice(guild_id)
    kicked = user_message("voice_kicked", "en", channel=f"<#{studio.id}>")
    await fake_discord.wait_for_bot_content(studio.id, kicked)
    assert sessions.get(guild_id) is None and not link.is_alive
    assert await voice_row(libra) == []


async def test_dave_refused_is_said_with_the_fix(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra,
    voice_servers: VoiceServers,
) -> None:
    lounge = fake_discord.channel_named("Lounge")
    libra = await start_libra(fake_discord, fake_ollama, pg_url,
                              voice={"dave_max_version": 0})
    await fake_discord.user_voice(fake_discord.user("alice"), lounge)

    refused = await answer(fake_discord, await fake_discord.slash_subcommand("voice", "join"))

    assert refused == user_message("voice_dave_required", "en", channel=f"<#{lounge.id}>")
    assert "voice.dave_max_version = 1" in refused
    await fake_discord.wait_until(lambda: bot_in_voice(fake_discord) is None)
    assert await voice_row(libra) == []


async def test_a_lost_connection_is_said_in_the_channel_language(
    fake_discord: FakeDiscord, fake_ollama: FakeOllama, pg_url: str, start_libra: StartLibra,
    voice_servers: VoiceServers,
) -> None:
    lounge = fake_discord.channel_named("Lounge")
    libra = await start_libra(fake_discord, fake_ollama, pg_url)
    await answer(fake_discord, await fake_discord.slash_subcommand(
        "lang", "set", {"language": "ko"}))
    await fake_discord.user_voice(fake_discord.user("alice"), lounge)
    joined = await answer(fake_discord, await fake_discord.slash_subcommand("voice", "join"))
    assert joined == user_message("voice_listening", "ko", channel=f"<#{lounge.id}>")

    # A fatal close: the voice server will not take this session back.
    await voice_servers.by_channel[lounge.id].close_bot(4011)

    lost = await fake_discord.wait_for_bot_content(
        lounge.id, lambda text: text.startswith(f"<#{lounge.id}> 연결이 끊겨"))
    assert "4011" in lost.content and "`/voice join`" in lost.content
    await fake_discord.wait_until(lambda: bot_in_voice(fake_discord) is None)
    assert await voice_row(libra) == []
