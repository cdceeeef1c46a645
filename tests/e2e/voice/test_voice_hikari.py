"""Through hikari itself: ``bot.voice.connect_to(..., voice_connection_type=LibraVoiceConnection)``.

A real ``hikari.GatewayBot`` talks to the fake Discord (main gateway: voice state and
voice server updates) and our connection to the fake voice server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import hikari
import pytest

from libra.config import Settings
from libra.discord.voice.connection import LibraVoiceConnection
from libra.events import VoiceConnected, VoiceDisconnected
from libra.voice.api import AudioChunk
from tests.e2e.discord.conftest import BotRunner
from tests.e2e.voice.conftest import Harness, snr_db, tone, wait_until
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_discord.world import ChannelType
from tests.fakes.fake_voice import CallIdentity, FakeVoiceServer


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def test_connect_to_hear_and_disconnect_through_hikari(
    harness: Harness, fake_discord: FakeDiscord
) -> None:
    runner = BotRunner(fake_discord)
    bot, _client = await runner.start()
    try:
        world = fake_discord.world
        guild = world.guilds[0]
        voice_channel = next(c for c in guild.channels if c.type is ChannelType.GUILD_VOICE)
        session = fake_discord.connections[-1]
        identity = CallIdentity(
            guild_id=guild.id, channel_id=voice_channel.id, user_id=world.bot_user.id,
            session_id=f"voice-{session.session_id}", token=f"voice-token-{guild.id}",
        )
        async with FakeVoiceServer(identity, heartbeat_ms=1000) as voice_server:
            fake_discord.voice_endpoint = voice_server.endpoint
            alice = await voice_server.add_peer(1001)
            conn = await bot.voice.connect_to(
                guild.id, voice_channel.id, LibraVoiceConnection,
                bus=harness.bus, settings=Settings(),
            )
            assert bot.voice.connections[hikari.Snowflake(guild.id)] is conn
            harness.listen(conn)
            await voice_server.wait_for(voice_server.dave_settled, what="DAVE settled")
            speech = tone(0.5, 440)
            await alice.speak(speech)
            await wait_until(
                lambda: harness.recorder.frames_heard() >= 25, what="audio"
            )
            heard = b"".join(e.pcm for e in harness.recorder.of(AudioChunk))
            assert snr_db(speech, heard) > 10
            await bot.voice.disconnect(guild.id)
            await asyncio.wait_for(conn.join(), 5)
            assert not bot.voice.connections
            await harness.bus.drain()
            assert len(harness.recorder.of(VoiceConnected)) == 1
            assert len(harness.recorder.of(VoiceDisconnected)) == 1
    finally:
        await runner.stop_all()
