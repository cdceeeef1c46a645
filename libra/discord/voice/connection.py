"""Libra's ``hikari.api.VoiceConnection``: gateway v8 + UDP + DAVE, sending and receiving.

Created by hikari through ``bot.voice.connect_to(guild, channel,
voice_connection_type=LibraVoiceConnection, bus=bus, settings=settings)``. It is the
Discord implementation of :class:`~libra.voice.api.VoiceLink`: received audio streams
per speaker through :meth:`speakers` / :meth:`audio`, :meth:`play` sends PCM, and
control facts (connected, speaking, failures, disconnected) go on the bus. This
module is the hikari-facing shell (lifecycle, moves, ``on_close``); the protocol and
media live in :mod:`~libra.discord.voice.session`, the diagnostics watch in
:mod:`~libra.discord.voice.monitor`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any, Self

import hikari
from hikari.events import voice_events
from loguru import logger

from libra.bus import EventBus
from libra.config import Settings
from libra.discord.voice.crypto import TransportMode
from libra.discord.voice.dave import DaveDriver
from libra.discord.voice.diagnostics import VoiceDiagnostics
from libra.discord.voice.monitor import VoiceMonitor
from libra.discord.voice.player import PlaybackHandle
from libra.discord.voice.protocol import GatewayExit, VoiceServer
from libra.discord.voice.registry import VoiceConnectionRegistry
from libra.discord.voice.session import SessionOptions, VoiceSession
from libra.errors import LibraError, VoiceError, VoiceNotConnected
from libra.events import VoiceDisconnected, VoiceFailed
from libra.tasks import TaskGroup
from libra.voice.api import AudioChunk
from libra.voice.audio import FRAME_MS
from libra.voice.streams import DEFAULT_BUFFER_MS, ReceivedAudio

_TICK_SECONDS = 0.1


class LibraVoiceConnection(hikari.api.VoiceConnection):
    """One guild's voice connection.

    Extra ``initialize`` keyword arguments: ``bus`` (:class:`EventBus`, required),
    ``settings`` (:class:`Settings`, required), ``registry``
    (:class:`VoiceConnectionRegistry`, optional: lists the connection for metrics),
    and for tests and tuning ``preferred_mode``, ``connect_timeout``, ``move_grace``,
    ``silence_timeout``, ``max_reconnects``, ``receive_buffer_chunks`` (received
    chunks buffered per speaker for a slow consumer; default 5 s of audio).
    """

    def __init__(
        self,
        *,
        server: VoiceServer,
        shard_id: int,
        owner: hikari.api.VoiceComponent,
        on_close: Callable[[Any], Awaitable[None]],
        bus: EventBus,
        options: SessionOptions,
        log_interval: float = 60.0,
        registry: VoiceConnectionRegistry | None = None,
        receive_buffer_chunks: int | None = None,
    ) -> None:
        self._server = server
        self._shard_id = shard_id
        self._owner = owner
        self._on_close = on_close
        self._bus = bus
        self._tasks = TaskGroup(f"voice-{server.guild_id}")
        self.diagnostics = VoiceDiagnostics(server.guild_id)
        if receive_buffer_chunks is None:
            chunk_ms = options.receive_chunk_frames * FRAME_MS
            receive_buffer_chunks = -(-DEFAULT_BUFFER_MS // chunk_ms)
        self._received = ReceivedAudio(server.guild_id, receive_buffer_chunks)
        self._registry = registry
        self._session = VoiceSession(
            server, self.diagnostics, self._tasks, publish=bus.publish,
            on_failure=self._on_failure, sink=self._received, options=options,
        )
        self._gateway = self._session.gateway
        self.monitor = VoiceMonitor(
            self.diagnostics, self._session.dave, bus.publish, self._status,
            log_interval=log_interval,
        )
        self._exit: GatewayExit | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._closed = False
        self._registered = False
        """Whether hikari holds us (``initialize`` returned): only then is on_close due."""

    # --- hikari.api.VoiceConnection -------------------------------------------------

    @classmethod
    async def initialize(  # noqa: PLR0917 (hikari's abstract signature)
        cls,
        channel_id: hikari.Snowflake,
        endpoint: str,
        guild_id: hikari.Snowflake,
        on_close: Callable[[Self], Awaitable[None]],
        owner: hikari.api.VoiceComponent,
        session_id: str,
        shard_id: int,
        token: str,
        user_id: hikari.Snowflake,
        **kwargs: object,
    ) -> Self:
        """Connect and wait for the handshake (op 4) to finish.

        Raises:
            VoiceError: a required keyword argument is missing, the handshake timed out,
                or the server refused the session (e.g. ``VoiceDaveRequired`` on 4017).
        """
        bus, settings = kwargs.pop("bus", None), kwargs.pop("settings", None)
        if not isinstance(bus, EventBus) or not isinstance(settings, Settings):
            raise VoiceError("LibraVoiceConnection needs bus= and settings= keyword arguments")
        preferred, registry = kwargs.pop("preferred_mode", None), kwargs.pop("registry", None)
        timeout = float(kwargs.pop("connect_timeout", 10.0))  # type: ignore[arg-type]
        buffer_chunks = kwargs.pop("receive_buffer_chunks", None)
        server = VoiceServer(
            endpoint=endpoint, token=token, guild_id=int(guild_id), user_id=int(user_id),
            session_id=session_id, channel_id=int(channel_id),
        )
        connection = cls(
            server=server, shard_id=shard_id, owner=owner, on_close=on_close, bus=bus,
            options=SessionOptions(
                max_dave_version=settings.voice.dave_max_version,
                preferred_mode=TransportMode(preferred) if isinstance(preferred, str) else None,
                move_grace=float(kwargs.pop("move_grace", 5.0)),  # type: ignore[arg-type]
                silence_timeout=float(kwargs.pop("silence_timeout", 0.25)),  # type: ignore[arg-type]
                receive_chunk_frames=settings.voice.receive_chunk_ms // FRAME_MS,
                max_reconnects=int(kwargs.pop("max_reconnects", 5)),  # type: ignore[call-overload]
            ),
            log_interval=settings.voice.diagnostics_log_seconds,
            registry=registry if isinstance(registry, VoiceConnectionRegistry) else None,
            receive_buffer_chunks=buffer_chunks if isinstance(buffer_chunks, int) else None,
        )
        await connection._start(timeout)
        return connection

    @property
    def channel_id(self) -> hikari.Snowflake:
        """The voice channel we are in."""
        return hikari.Snowflake(self._server.channel_id)

    @property
    def guild_id(self) -> hikari.Snowflake:
        """The guild of this connection."""
        return hikari.Snowflake(self._server.guild_id)

    @property
    def is_alive(self) -> bool:
        """Whether the connection has not closed for good."""
        return self._supervisor is not None and not self._supervisor.done()

    @property
    def shard_id(self) -> int:
        """The shard that requested the connection."""
        return self._shard_id

    @property
    def owner(self) -> hikari.api.VoiceComponent:
        """The hikari voice component that manages this connection."""
        return self._owner

    async def disconnect(self) -> None:
        """Close the connection for good and wait until it has (idempotent)."""
        self._gateway.stop()
        await self.join()

    async def join(self) -> None:
        """Wait until the connection has closed."""
        if self._supervisor is not None:
            await asyncio.shield(self._supervisor)

    async def notify(self, event: voice_events.VoiceEvent) -> None:
        """Endpoint changes, channel moves and disconnects from the main gateway."""
        if isinstance(event, voice_events.VoiceServerUpdateEvent):
            if event.endpoint is None:
                logger.info("voice server for guild {} is being reallocated", event.guild_id)
                return
            self.diagnostics.reconnects["endpoint"] += 1
            self._gateway.reconnect(event.endpoint, event.token)
        elif isinstance(event, voice_events.VoiceStateUpdateEvent):
            state = event.state
            if int(state.user_id) != self._server.user_id:
                return
            if state.channel_id is None:
                logger.info("left the voice channel in guild {}", event.guild_id)
                self._gateway.stop()
            elif int(state.channel_id) != self._server.channel_id:
                self.diagnostics.reconnects["move"] += 1
                self._server.channel_id = int(state.channel_id)
                self._session.dave.channel_id = int(state.channel_id)
                self._server.session_id = state.session_id
                self._gateway.note_moved()

    # --- Libra API ------------------------------------------------------------------

    @property
    def dave(self) -> DaveDriver:
        """The DAVE state (epoch, privacy code, known members)."""
        return self._session.dave

    async def wait_media_ready(self, timeout: float = 10.0) -> None:
        """Wait until frames can be sent (transport keyed and, under DAVE, group keyed).

        Raises:
            VoiceNotConnected: not ready within ``timeout`` or the connection closed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # A closed connection keeps its last keys: without the liveness check first,
        # audio would "play" into a closed socket and nobody would hear it.
        while not self.is_alive or not self._session.media_ready:
            if not self.is_alive or loop.time() > deadline:
                raise VoiceNotConnected("the voice connection is not ready to send audio")
            await asyncio.sleep(0.02)

    async def play(self, source: AsyncIterable[bytes], timeout: float = 10.0) -> PlaybackHandle:
        """Play 48 kHz stereo s16le PCM; returns a handle whose ``stop()`` barges in."""
        await self.wait_media_ready(timeout)
        return self._session.player.play(source, spawn=self._tasks.spawn)

    async def stop(self) -> None:
        """Stop the current playback, if any, and wait for its closing silence."""
        await self._session.player.stop()

    def speakers(self) -> AsyncIterator[int]:
        """Yield each member whose received audio stream opens (see ``VoiceLink``)."""
        return self._received.speakers()

    def audio(self, user_id: int) -> AsyncIterator[AudioChunk]:
        """``user_id``'s received audio in order, from a bounded buffer (see ``VoiceLink``)."""
        return self._received.audio(user_id)

    def snapshot(self) -> dict[str, Any]:
        """Diagnostics for ``/voice status`` (see :meth:`VoiceMonitor.snapshot`)."""
        return self.monitor.snapshot()

    def _status(self) -> dict[str, Any]:
        rtt = self._gateway.heartbeat_rtt
        return {
            "channel_id": self._server.channel_id,
            "heartbeat_rtt_ms": round(rtt * 1000, 1) if rtt is not None else None,
            **self._received.stats(),
        }

    def _on_failure(self, error: VoiceError) -> None:
        self.monitor.report(error)

    # --- lifecycle ------------------------------------------------------------------

    async def _start(self, timeout: float) -> None:
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"voice-connection-{self._server.guild_id}"
        )
        guild_id = self._server.guild_id
        self._tasks.spawn(self._tick(), name=f"voice-tick-{guild_id}")
        self._tasks.spawn(self.monitor.run(), name=f"voice-monitor-{guild_id}")
        connected = asyncio.ensure_future(self._session.connected.wait())
        try:
            await asyncio.wait(
                [connected, self._supervisor], timeout=timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        except asyncio.CancelledError:
            # Nobody holds a connection whose initialize was cancelled (hikari never
            # got it), so nobody else would ever close it: it would heartbeat forever.
            await self._abandon()
            raise
        finally:
            connected.cancel()
        if self._session.connected.is_set() and not self._supervisor.done():
            self._registered = True
            if self._registry is not None:
                self._registry.add(self)
            return
        await self._abandon()
        exit_ = self._exit
        if exit_ is not None and exit_.error is not None:
            raise exit_.error
        raise VoiceError(f"voice handshake did not finish within {timeout:.0f} s")

    async def _abandon(self) -> None:
        """Close a connection that never finished connecting and wait until it has."""
        self._gateway.stop()
        if self._supervisor is not None:
            # asyncio.wait: the supervisor's outcome is in self._exit, not raised here.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([self._supervisor])

    async def _tick(self) -> None:
        receiver = self._session.receiver
        while True:
            await receiver.wait_for_work()
            await asyncio.sleep(_TICK_SECONDS)
            receiver.tick()

    async def _supervise(self) -> None:
        try:
            self._exit = await self._gateway.run()
        except Exception as err:
            logger.exception("voice gateway crashed")
            wrapped = err if isinstance(err, LibraError) else VoiceError(str(err))
            self._exit = GatewayExit("voice gateway crashed", None, wrapped)
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        exit_ = self._exit or GatewayExit("cancelled", None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._session.player.stop(), 1.0)
        self._session.udp.close()
        await self._tasks.close()
        self._session.receiver.close()
        self._received.close()
        self.monitor.closed()
        if self._registry is not None:
            self._registry.remove(self)
        guild_id = self._server.guild_id
        if exit_.error is not None:
            self._bus.publish(VoiceFailed(
                guild_id=guild_id, code=exit_.error.code, message=str(exit_.error)
            ))
        self._bus.publish(VoiceDisconnected(
            guild_id=guild_id, reason=exit_.reason, close_code=exit_.close_code
        ))
        if not self._registered:
            return
        try:
            await self._on_close(self)
        except Exception:
            logger.exception("voice on_close hook failed")
