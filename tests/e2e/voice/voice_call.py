"""A whole Libra in a voice call: fake Discord, a fake voice server with DAVE peers.

Shared by the voice conversation tests and ``bench/voice_conversation.py``. Libra is
built as ``libra run`` builds it (``build_graph``), except that the speech engines are
handed in, so Whisper and Piper load once per module rather than once per app.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from libra.app import LibraApp, Mode, build_graph
from libra.config import Settings
from libra.discord.voice_conversation import DiscordVoiceConversations
from libra.voice.audio import stereo48k_to_mono16k
from libra.voice.engines import LocalSpeechEngines
from libra.voice.models.store import ModelStore
from libra.voice.pipeline import transcribe
from tests.e2e.discord.libra_harness import LibraBot, libra_settings
from tests.fakes.audio_fixtures import pcm_to_mono, speech
from tests.fakes.fake_discord import FakeDiscord, FakeUser
from tests.fakes.fake_discord.world import FakeChannel
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_voice import CallIdentity, FakeVoiceServer
from tests.fakes.fake_voice.peer import FakePeer

FRAME_BYTES = 3840
"""20 ms of 48 kHz stereo s16le."""


def shared_engines(models: Path) -> LocalSpeechEngines:
    """English engines over the packaged models only (Whisper tiny.en, Piper joe)."""
    settings = Settings.model_validate({"voice": {"languages": ["en"]}})
    return LocalSpeechEngines(settings.voice, ModelStore(models))


class VoiceServers:
    """A fake voice server per voice channel, handed to the bot in VOICE_SERVER_UPDATE."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.by_channel: dict[int, FakeVoiceServer] = {}
        fake.voice_servers = self.endpoint

    async def endpoint(self, guild_id: int, channel_id: int, session_id: str, token: str) -> str:
        identity = CallIdentity(guild_id=guild_id, channel_id=channel_id,
                                user_id=self.fake.world.bot_user.id, session_id=session_id,
                                token=token)
        server = self.by_channel.get(channel_id)
        if server is None:
            server = self.by_channel[channel_id] = FakeVoiceServer(identity, heartbeat_ms=1000)
            await server.start()
        server.identity = identity  # a restarted bot has a new gateway session
        return server.endpoint

    def connected(self, channel: FakeChannel) -> bool:
        """Whether the bot is in ``channel``'s call."""
        server = self.by_channel.get(channel.id)
        return server is not None and server.bot_session is not None

    async def close(self) -> None:
        for server in self.by_channel.values():
            await server.stop()


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord) -> AsyncIterator[FakeDiscord]:
    """``fake`` started for the test, then stopped; a broken rate limit fails the test."""
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
    assert not fake.broken_limits(), fake.broken_limits()


async def start_libra(fake: FakeDiscord, ollama: FakeOllama, pg_url: str | None, data_dir: Path,
                      engines: LocalSpeechEngines, *, voice: dict[str, Any] | None = None,
                      **discord: Any) -> LibraBot:
    """Libra as ``libra run`` builds it, on the shared engines."""
    settings = libra_settings(fake, ollama, pg_url, data_dir,
                              voice={"languages": ["en"], **(voice or {})}, **discord)
    app = LibraApp.of(build_graph(settings, Mode.RUN, speech_engines=engines))
    assert app.graph is not None and app.graph.discord is not None
    bot = LibraBot(app, app.graph.discord, fake, ollama, pg_url)
    await app.start()
    return bot


class Call:
    """Libra joined to the Lounge, with people (``FakePeer``) who can speak and hear."""

    def __init__(self, libra: LibraBot, fake: FakeDiscord, server: FakeVoiceServer) -> None:
        self.libra = libra
        self.fake = fake
        self.server = server
        self.lounge = fake.channel_named("Lounge")
        self.guild_id = fake.world.guilds[0].id
        self.bot_id = fake.world.bot_user.id

    @classmethod
    async def join(cls, libra: LibraBot, fake: FakeDiscord, servers: VoiceServers) -> Call:
        """Alice is in the Lounge and runs ``/voice join``; Libra is in the call."""
        lounge = fake.channel_named("Lounge")
        await fake.user_voice(fake.user("alice"), lounge)
        await fake.slash_subcommand("voice", "join")
        await wait_until(lambda: lounge.id in servers.by_channel
                         and servers.by_channel[lounge.id].bot_session is not None,
                         what="Libra in the call", timeout=15)
        call = cls(libra, fake, servers.by_channel[lounge.id])
        await wait_until(lambda: call.conversations.conversation(call.guild_id) is not None,
                         what="the conversation")
        await call.conversations.warmed(call.guild_id)
        return call

    @property
    def conversations(self) -> DiscordVoiceConversations:
        conversations = self.libra.plugin.conversations
        assert isinstance(conversations, DiscordVoiceConversations)
        return conversations

    async def add(self, user: FakeUser) -> FakePeer:
        """``user`` joins the call (a new DAVE epoch) and can speak once keyed."""
        await self.fake.user_voice(user, self.lounge)
        peer = await self.server.add_peer(user.id)
        await self.server.wait_for(self.server.dave_settled, what="DAVE settled", timeout=10)
        return peer

    def heard_frames(self, peer: FakePeer) -> int:
        """Frames of Libra's voice ``peer`` decoded so far."""
        return len(peer.heard.get(self.bot_id, []))

    def heard(self, peer: FakePeer) -> bytes:
        """Libra's voice as ``peer`` decoded it (48 kHz stereo)."""
        return peer.heard_pcm(self.bot_id)

    def mirrored(self) -> list[str]:
        """Libra's messages in the voice channel's text chat."""
        return [m.content for m in self.fake.bot_messages(self.lounge.id)]

    async def speak(self, peer: FakePeer, text: str) -> float:
        """``peer`` says ``text`` (Piper) in real time; returns when its voice began."""
        pcm = speech(text)
        started = time.perf_counter() + onset_s(pcm)
        await peer.speak(pcm)
        return started

    async def interrupt(self, peer: FakePeer, text: str) -> tuple[float, float]:
        """``peer`` says ``text`` while Libra speaks: (its voice onset, Libra's last frame).

        Both ``perf_counter``; Libra's frames are watched every 5 ms as they arrive.
        """
        pcm = speech(text)
        count, last = self.heard_frames(peer), time.perf_counter()
        began = time.perf_counter() + onset_s(pcm)
        speaking = asyncio.create_task(peer.speak(pcm), name="peer-speaks")
        while not speaking.done() or time.perf_counter() - last < 1.0:
            await asyncio.sleep(0.005)
            now = self.heard_frames(peer)
            if now != count:
                count, last = now, time.perf_counter()
        await speaking
        return began, last

    async def until_quiet(self, peer: FakePeer, quiet_s: float = 1.0,
                          timeout: float = 30.0) -> float:
        """Wait until Libra's voice has stopped arriving at ``peer`` for ``quiet_s``.

        Returns when the last frame arrived (``perf_counter``).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        count, last = self.heard_frames(peer), time.perf_counter()
        while time.perf_counter() - last < quiet_s:
            if loop.time() > deadline:
                raise AssertionError("Libra kept talking")
            await asyncio.sleep(0.01)
            now = self.heard_frames(peer)
            if now != count:
                count, last = now, time.perf_counter()
        return last

    async def frames_stop(self, peer: FakePeer, quiet_s: float = 0.5) -> float:
        """When Libra's voice last arrived at ``peer``, once it has been silent ``quiet_s``."""
        return await self.until_quiet(peer, quiet_s)


def onset_s(pcm: bytes) -> float:
    """Where speech begins in Piper audio (its leading silence), in seconds."""
    mono = pcm_to_mono(pcm)
    blocks = mono[: mono.size // 480 * 480].reshape(-1, 480)
    power = 10 * np.log10(np.mean(blocks**2, axis=1) + 1e-9)
    active = np.flatnonzero(power > power.max() - 40)
    return float(active[0] * 480 / 48_000) if active.size else 0.0


async def recognised(engines: LocalSpeechEngines, pcm48: bytes) -> str:
    """What Whisper tiny.en hears in 48 kHz stereo audio."""
    recogniser = await engines.stt("en")

    async def pieces() -> AsyncIterator[bytes]:
        yield stereo48k_to_mono16k(pcm48)

    return (await transcribe(recogniser, pieces(), language="en")).text


async def wait_until(predicate: Any, *, what: str, timeout: float = 20.0) -> None:
    """Poll ``predicate`` every 20 ms."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
