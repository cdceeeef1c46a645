"""Received audio as ordered, bounded per-speaker streams (the :class:`VoiceLink` side).

A transport's receiver hands decoded chunks to :meth:`~ReceivedAudio.deliver` in order,
synchronously, from its socket reader; consumers ``async for`` over one speaker's
stream. The two sides never wait for each other: each speaker's buffer holds at
most ``capacity`` chunks and, when a consumer falls behind, the oldest chunk is
dropped and counted (the newest audio is what a listener needs to answer). Audio is
buffered only while someone listens, so a bot with no voice pipeline pays nothing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Protocol

from loguru import logger

from libra.voice.api import AudioChunk

DEFAULT_BUFFER_MS = 5_000
"""Audio kept per speaker for a consumer that falls behind (then the oldest goes)."""
MAX_PENDING_SPEAKERS = 256
"""Announcements a :meth:`ReceivedAudio.speakers` iterator holds before dropping old ones."""


class AudioSink(Protocol):
    """Where a transport's receiver hands decoded audio."""

    def deliver(self, chunk: AudioChunk) -> None:
        """Take one chunk (never blocks, never raises)."""
        ...

    def end_speaker(self, user_id: int) -> None:
        """``user_id`` left: their stream ends once its buffered chunks are read."""
        ...


class SpeakerStream:
    """One speaker's bounded buffer of chunks, read by one consumer."""

    def __init__(self, guild_id: int, user_id: int, capacity: int) -> None:
        self.guild_id = guild_id
        self.user_id = user_id
        self._chunks: deque[AudioChunk] = deque()
        self._capacity = max(1, capacity)
        self._wake = asyncio.Event()
        self.closed = False
        self.dropped = 0
        self.claimed = False
        """Whether a consumer asked for this stream (then it buffers even unread)."""

    def __len__(self) -> int:
        return len(self._chunks)

    def put(self, chunk: AudioChunk) -> bool:
        """Buffer ``chunk``; return False when the oldest chunk had to go for it."""
        if self.closed:
            return True
        kept = len(self._chunks) < self._capacity
        if not kept:
            self._chunks.popleft()
            self.dropped += 1
            if self.dropped == 1:  # once per stream: a stalled consumer must not flood logs
                logger.warning(
                    "voice audio of user {} in guild {} is read too slowly: dropping the "
                    "oldest chunks ({} buffered at most; see audio_dropped in /voice status)",
                    self.user_id, self.guild_id, self._capacity,
                )
        self._chunks.append(chunk)
        self._wake.set()
        return kept

    def close(self) -> None:
        """No more chunks will come; the reader ends after the buffered ones."""
        self.closed = True
        self._wake.set()

    async def read(self) -> AsyncIterator[AudioChunk]:
        """Yield the chunks in the order they were delivered."""
        while True:
            while self._chunks:
                yield self._chunks.popleft()
            if self.closed:
                return
            self._wake.clear()
            await self._wake.wait()


class ReceivedAudio:
    """One connection's received audio, per speaker; implements :class:`AudioSink`."""

    def __init__(self, guild_id: int, capacity: int) -> None:
        self.guild_id = guild_id
        self.capacity = capacity
        """Chunks buffered per speaker at most."""
        self._streams: dict[int, SpeakerStream] = {}
        self._watchers: list[tuple[deque[int], asyncio.Event]] = []
        self._closed = False
        self._dropped_closed = 0
        """Drops of streams that have ended (their counters are gone)."""

    @property
    def dropped(self) -> int:
        """Chunks dropped because a consumer fell behind, since the connection opened."""
        return self._dropped_closed + sum(s.dropped for s in self._streams.values())

    def stats(self) -> dict[str, Any]:
        """Counters for the connection's snapshot."""
        return {
            "audio_dropped": self.dropped,
            "audio_buffered": {u: len(s) for u, s in sorted(self._streams.items())},
            "audio_buffer_chunks": self.capacity,
        }

    # --- AudioSink ------------------------------------------------------------------

    def deliver(self, chunk: AudioChunk) -> None:
        """Buffer ``chunk`` for its speaker's consumer (dropped if nobody listens)."""
        stream = self._streams.get(chunk.user_id)
        if stream is None:
            if not self._watchers or self._closed:
                return  # like a bus event nobody subscribed to
            stream = self._open(chunk.user_id)
        elif not stream.claimed and not self._watchers:
            return
        stream.put(chunk)

    def end_speaker(self, user_id: int) -> None:
        """``user_id`` left the channel: end their stream after its buffered chunks."""
        stream = self._streams.pop(user_id, None)
        if stream is not None:
            self._dropped_closed += stream.dropped
            stream.close()

    # --- consumers ------------------------------------------------------------------

    async def speakers(self) -> AsyncIterator[int]:
        """Yield each user whose stream opens (open ones first) until :meth:`close`."""
        pending: deque[int] = deque(self._streams, maxlen=MAX_PENDING_SPEAKERS)
        wake = asyncio.Event()
        watcher = (pending, wake)
        self._watchers.append(watcher)
        try:
            while True:
                while pending:
                    yield pending.popleft()
                if self._closed:
                    return
                wake.clear()
                await wake.wait()
        finally:
            self._watchers.remove(watcher)

    def audio(self, user_id: int) -> AsyncIterator[AudioChunk]:
        """``user_id``'s chunks in order; ends when they leave or the connection closes."""
        stream = self._streams.get(user_id)
        if stream is None:
            stream = self._open(user_id)
        stream.claimed = True
        return stream.read()

    def close(self) -> None:
        """The connection closed: end every stream and every :meth:`speakers` iterator."""
        self._closed = True
        for user_id in list(self._streams):
            self.end_speaker(user_id)
        for _pending, wake in self._watchers:
            wake.set()

    def _open(self, user_id: int) -> SpeakerStream:
        stream = SpeakerStream(self.guild_id, user_id, self.capacity)
        if self._closed:
            stream.close()
            return stream
        self._streams[user_id] = stream
        for pending, wake in self._watchers:
            pending.append(user_id)
            wake.set()
        return stream
