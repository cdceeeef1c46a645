"""Fixtures for voice end-to-end tests: the fake voice server and a connected client.

The client is created through hikari's interface (``VoiceConnection.initialize`` and
``notify``) exactly as ``bot.voice.connect_to`` would, pointed at the fake server's
endpoint in the shape hikari hands it (``"wss://" + raw endpoint``). The whole-Libra
call tests share ``engines`` (loaded once per module) and ``servers`` (over their
``fake_discord``) from here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import hikari
import numpy as np
import pytest
from hikari.events import voice_events

from libra.bus import EventBus
from libra.config import Settings, VoiceSettings
from libra.discord.voice.connection import LibraVoiceConnection
from libra.events import Event, VoiceEvent
from libra.voice.api import AudioChunk, VoiceLink
from libra.voice.audio import FRAME_BYTES
from libra.voice.engines import LocalSpeechEngines
from tests.e2e.voice.voice_call import VoiceServers, shared_engines
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_voice import CallIdentity, FakeVoiceServer

GUILD_ID = 4242
CHANNEL_ID = 777_000_111
BOT_ID = 9001
IDENTITY = CallIdentity(
    guild_id=GUILD_ID, channel_id=CHANNEL_ID, user_id=BOT_ID,
    session_id="voice-session", token="voice-token",
)


@dataclass
class Recorder:
    """Collects every voice event published on the bus and every chunk heard.

    Audio does not travel on the bus: :meth:`listen` reads each speaker's stream
    from the connection (``VoiceLink.speakers`` / ``audio``) as a voice pipeline would.
    """

    events: list[Event | AudioChunk] = field(default_factory=list)

    async def __call__(self, event: VoiceEvent) -> None:
        self.events.append(event)

    async def listen(self, link: VoiceLink) -> None:
        """Record every speaker's chunks until the connection closes."""
        readers: list[asyncio.Task[None]] = []
        try:
            async for user_id in link.speakers():
                readers.append(asyncio.create_task(
                    self._record(link, user_id), name=f"voice-recorder-{user_id}"
                ))
            await asyncio.gather(*readers)
        finally:
            for reader in readers:
                reader.cancel()

    async def _record(self, link: VoiceLink, user_id: int) -> None:
        async for chunk in link.audio(user_id):
            self.events.append(chunk)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def frames_heard(self) -> int:
        """20 ms frames of received audio so far (events carry several)."""
        return sum(len(e.pcm) for e in self.of(AudioChunk)) // FRAME_BYTES


@dataclass
class Harness:
    bus: EventBus
    recorder: Recorder
    closes: list[LibraVoiceConnection]
    connections: list[LibraVoiceConnection]
    listeners: list[asyncio.Task[None]] = field(default_factory=list)

    async def connect(
        self,
        server: FakeVoiceServer,
        *,
        dave_max_version: int = 1,
        identity: CallIdentity = IDENTITY,
        voice: dict[str, Any] | None = None,
        listen: bool = True,
        **kwargs: Any,
    ) -> LibraVoiceConnection:
        settings = Settings(
            voice=VoiceSettings(dave_max_version=dave_max_version, **(voice or {}))
        )

        async def on_close(connection: LibraVoiceConnection) -> None:
            self.closes.append(connection)

        connection = await LibraVoiceConnection.initialize(
            channel_id=hikari.Snowflake(identity.channel_id),
            endpoint=f"wss://{server.endpoint}",
            guild_id=hikari.Snowflake(identity.guild_id),
            on_close=on_close,
            owner=None,  # type: ignore[arg-type]  # only stored; hikari's component
            session_id=identity.session_id,
            shard_id=0,
            token=identity.token,
            user_id=hikari.Snowflake(identity.user_id),
            bus=self.bus,
            settings=settings,
            **kwargs,
        )
        self.connections.append(connection)
        if listen:  # a test reading the streams itself must be their only consumer
            self.listen(connection)
        return connection

    def listen(self, link: VoiceLink) -> None:
        """Record ``link``'s received audio (``connect`` does this for its connections)."""
        self.listeners.append(asyncio.create_task(
            self.recorder.listen(link), name=f"voice-listener-{len(self.listeners)}"
        ))


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    bus = EventBus()
    recorder = Recorder()
    bus.subscribe(VoiceEvent, recorder, name="voice-recorder")
    h = Harness(bus, recorder, [], [])
    yield h
    for connection in h.connections:
        await asyncio.wait_for(connection.disconnect(), 5)
    for listener in h.listeners:  # they end when their connection closes
        await asyncio.wait_for(listener, 5)
    await bus.close()


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSpeechEngines]:
    """One engines object for the module: Whisper and Piper load once."""
    yield shared_engines(tmp_path_factory.mktemp("models"))


@pytest.fixture
async def servers(fake_discord: FakeDiscord) -> AsyncIterator[VoiceServers]:
    """A fake voice server per voice channel of the test's ``fake_discord``."""
    servers = VoiceServers(fake_discord)
    yield servers
    await servers.close()


@pytest.fixture
async def server() -> AsyncIterator[FakeVoiceServer]:
    async with FakeVoiceServer(IDENTITY, heartbeat_ms=1000) as fake:
        yield fake


def server_update(endpoint: str, token: str, guild_id: int = GUILD_ID) -> Any:
    """A VOICE_SERVER_UPDATE as hikari delivers it to ``notify``."""
    return voice_events.VoiceServerUpdateEvent(
        app=None,  # type: ignore[arg-type]
        shard=None,  # type: ignore[arg-type]
        guild_id=hikari.Snowflake(guild_id),
        token=token,
        raw_endpoint=endpoint,
    )


def state_update(channel_id: int | None, session_id: str, user_id: int = BOT_ID) -> Any:
    """A VOICE_STATE_UPDATE for ``user_id`` as hikari delivers it to ``notify``."""
    state = hikari.VoiceState(
        app=None,  # type: ignore[arg-type]
        channel_id=hikari.Snowflake(channel_id) if channel_id is not None else None,
        guild_id=hikari.Snowflake(GUILD_ID),
        is_guild_deafened=False, is_guild_muted=False, is_self_deafened=False,
        is_self_muted=False, is_streaming=False, is_suppressed=False,
        is_video_enabled=False, user_id=hikari.Snowflake(user_id), member=None,
        session_id=session_id, requested_to_speak_at=None,
    )
    return voice_events.VoiceStateUpdateEvent(
        shard=None,  # type: ignore[arg-type]
        old_state=None, state=state,
    )


def tone(seconds: float, freq: float, amplitude: int = 8000) -> bytes:
    """A 48 kHz stereo s16le test signal: a tone with a slow envelope (speech-ish)."""
    t = np.arange(int(seconds * 48000)) / 48000
    signal = amplitude * (0.7 + 0.3 * np.sin(2 * np.pi * 2 * t)) * np.sin(2 * np.pi * freq * t)
    return np.repeat(signal.astype("<i2"), 2).tobytes()


def snr_db(reference: bytes, decoded: bytes) -> float:
    """Best SNR of ``decoded`` against ``reference`` over alignments (left channel)."""
    ref = np.frombuffer(reference, "<i2")[::2].astype(np.float64)
    out = np.frombuffer(decoded, "<i2")[::2].astype(np.float64)
    if len(out) < len(ref) // 2:
        return float("-inf")
    n = min(len(ref), len(out)) - 2000
    ref_seg = ref[1000 : 1000 + n - 2000]
    # Correlate to find the codec/jitter offset, then measure.
    corr = np.correlate(out[: n + 1000], ref_seg, mode="valid")
    lag = int(np.argmax(corr))
    seg = out[lag : lag + len(ref_seg)]
    noise = float(np.sum((ref_seg - seg) ** 2))
    return float(10 * np.log10(float(np.sum(ref_seg**2)) / max(noise, 1e-9)))


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def pcm_source(pcm: bytes, chunk: int = 7777) -> AsyncIterator[bytes]:
    """PCM in odd-sized chunks, as a TTS engine would yield it."""
    for i in range(0, len(pcm), chunk):
        yield pcm[i : i + chunk]
        await asyncio.sleep(0)


async def tone_until(done: asyncio.Event, freq: float) -> AsyncIterator[bytes]:
    """A reply of unknown length: whole seconds of tone until ``done`` is set.

    The player pulls from it in real time, so the audio lasts as long as the test
    needs it to, however long a reconnect takes on a busy machine.
    """
    second = tone(1.0, freq)  # whole periods of tone and envelope: seconds join cleanly
    while not done.is_set():
        for i in range(0, len(second), 7680):  # 40 ms chunks, as a TTS engine yields
            yield second[i : i + 7680]


# Fixtures of the fake voice server itself: fake_voice_server, fake_peer, ...
from tests.fakes.fake_voice.fixtures import (  # noqa: E402, F401
    fake_peer,
    fake_voice_server,
    make_fake_voice_server,
    voice_identity,
)
