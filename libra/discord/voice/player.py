"""Send path: PCM → Opus → (DAVE) → RTP → transport encryption → UDP, paced at 20 ms.

Pacing is anchored to a start time: frame *n* is due at ``start + n × 20 ms``, so a
late wake-up shortens the next sleep instead of accumulating drift. A stall longer
than :data:`MAX_BEHIND` (a slow source, a blocked loop) re-anchors the clock rather than
bursting the backlog, which the receiving jitter buffers would discard anyway.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Protocol

from libra.discord.voice.audio import SILENCE_FRAME, OpusEncoder
from libra.voice.audio import FrameChunker

FRAME_SECONDS = 0.020
SILENCE_FRAMES = 5
MAX_BEHIND = 0.200
ENCODE_AHEAD = 5
"""Frames encoded per batch when the source has them."""
REFILL_BELOW = 2
"""The producer adds a batch once no more than this many frames wait to be sent, so at
most ``REFILL_BELOW + ENCODE_AHEAD`` frames (140 ms) are queued and dropped on barge-in."""
SPEAKING_LEAD = 0.020
"""Pause between op 5 and the first frame: op 5 travels over TCP through the gateway,
audio over UDP straight to the media server, and audio from an SSRC the server has
not yet seen announced is dropped."""


class FrameSender(Protocol):
    """What the player needs from the connection."""

    async def set_speaking(self, speaking: bool) -> None:
        """Send op 5 (speaking before the first frame, not speaking after the last)."""

    def send_opus(self, opus: bytes) -> bool:
        """Send one Opus frame as RTP; ``False`` when it could not be sent."""


class PacingClock:
    """Deadlines every 20 ms from an anchor, with drift correction and re-anchoring."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        frame_seconds: float = FRAME_SECONDS,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._frame = frame_seconds
        self._anchor: float | None = None
        self._index = 0
        self.reanchors = 0
        self.lateness: deque[float] = deque(maxlen=20_000)
        """Seconds each frame went out after its deadline."""

    def due(self, now: float) -> float:
        """When the next frame is due (re-anchored at ``now`` after a long stall)."""
        if self._anchor is None:
            self._anchor, self._index = now, 0
        deadline = self._anchor + self._index * self._frame
        if now - deadline > MAX_BEHIND:
            self.reanchors += 1
            self._anchor, self._index = now, 0
            deadline = now
        return deadline

    def sent(self, now: float, deadline: float) -> None:
        """Record that the frame due at ``deadline`` went out at ``now``."""
        self.lateness.append(max(0.0, now - deadline))
        self._index += 1

    async def wait_next(self) -> None:
        """Sleep until the next frame is due."""
        now = self._clock()
        deadline = self.due(now)
        delay = deadline - now
        if delay > 0:
            await self._sleep(delay)
        self.sent(self._clock(), deadline)


class FramePump:
    """Sends queued Opus frames from event-loop timer callbacks, one per deadline.

    A coroutine per frame (sleep, wake the task, send) costs about a quarter more CPU
    than one timer callback, so the pump sends from ``call_at`` callbacks and the
    producing coroutine only wakes to refill the queue, a batch at a time.
    """

    def __init__(self, sender: FrameSender, handle: PlaybackHandle) -> None:
        self._sender = sender
        self._handle = handle
        self._loop = asyncio.get_running_loop()
        self._queue: deque[bytes] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._room = asyncio.Event()
        self._room.set()
        self._drained = asyncio.Event()
        self._drained.set()
        self._error: BaseException | None = None

    async def push(self, frames: list[bytes]) -> None:
        """Queue ``frames`` once the queue has room (at most ``REFILL_BELOW`` waiting)."""
        await self._room.wait()
        self._raise_error()
        self._queue.extend(frames)
        self._drained.clear()
        if len(self._queue) > REFILL_BELOW:
            self._room.clear()
        if self._timer is None:
            self._schedule()

    async def drain(self) -> None:
        """Wait until every queued frame has been sent."""
        await self._drained.wait()
        self._raise_error()

    def cancel(self) -> None:
        """Drop queued frames and stop sending (barge-in)."""
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._room.set()
        self._drained.set()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _schedule(self) -> None:
        deadline = self._handle.clock.due(self._loop.time())
        self._timer = self._loop.call_at(deadline, self._fire, deadline)

    def _fire(self, deadline: float) -> None:
        self._timer = None
        handle = self._handle
        handle.clock.sent(self._loop.time(), deadline)
        try:
            sent = self._sender.send_opus(self._queue.popleft())
        except Exception as err:  # e.g. an exhausted nonce counter: end the playback
            self._error = err
            self.cancel()
            return
        if sent:
            handle.frames_sent += 1
            if handle.first_frame_at is None:
                handle.first_frame_at = time.perf_counter()
                handle.started.set()
        else:
            handle.frames_unsent += 1
        if len(self._queue) <= REFILL_BELOW:
            self._room.set()
        if self._queue:
            self._schedule()
        else:
            self._drained.set()


class PlaybackHandle:
    """A running playback; :meth:`stop` cuts the audio at once (barge-in)."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._inner: asyncio.Task[None] | None = None
        self.stopped = False
        self.frames_sent = 0
        self.frames_unsent = 0
        self.clock = PacingClock()
        self.first_frame_at: float | None = None
        """``perf_counter`` when the first frame went out (the latency's "first packet")."""
        self.started = asyncio.Event()

    @property
    def done(self) -> bool:
        """Whether playback has finished (or was stopped)."""
        return self._task is not None and self._task.done()

    def stop(self) -> None:
        """Interrupt playback now; the stream still ends with silence and speaking 0."""
        self.stopped = True
        if self._inner is not None:
            self._inner.cancel()

    async def wait(self) -> None:
        """Wait until the playback (and its closing silence) has been sent."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def first_frame(self) -> float | None:
        """When the first frame was sent (``perf_counter``); ``None`` if none ever is."""
        if self._task is not None and not self.started.is_set():
            started = asyncio.ensure_future(self.started.wait())
            try:
                await asyncio.wait({started, self._task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                started.cancel()
        return self.first_frame_at


class AudioPlayer:
    """Plays PCM streams through one connection, one at a time."""

    def __init__(self, sender: FrameSender, *, bitrate: int = 64_000) -> None:
        self._sender = sender
        self._encoder = OpusEncoder(bitrate)
        self._current: PlaybackHandle | None = None

    def play(
        self, source: AsyncIterable[bytes], *, spawn: Callable[..., asyncio.Task[None]]
    ) -> PlaybackHandle:
        """Start playing 48 kHz stereo s16le PCM; a playback in progress is stopped."""
        if self._current is not None and not self._current.done:
            self._current.stop()
        previous = self._current
        handle = PlaybackHandle()
        handle._task = spawn(self._run(handle, source, previous), name="voice-playback")
        self._current = handle
        return handle

    @property
    def playing(self) -> bool:
        """Whether a playback is in progress."""
        return self._current is not None and not self._current.done

    async def stop(self) -> None:
        """Stop the current playback and wait for its closing silence."""
        if self._current is not None:
            self._current.stop()
            await self._current.wait()

    async def _run(
        self, handle: PlaybackHandle, source: AsyncIterable[bytes], previous: PlaybackHandle | None
    ) -> None:
        if previous is not None:
            await previous.wait()
        if handle.stopped:
            return
        await self._sender.set_speaking(True)
        await asyncio.sleep(SPEAKING_LEAD)
        pump = FramePump(self._sender, handle)
        inner = asyncio.get_running_loop().create_task(
            self._stream(pump, source), name="voice-playback-stream"
        )
        handle._inner = inner
        if handle.stopped:  # stop() during the speaking lead found nothing to cancel yet
            inner.cancel()
        try:
            await asyncio.wait([inner])
        except asyncio.CancelledError:
            inner.cancel()
            pump.cancel()
            raise
        finally:
            handle._inner = None
        pump.cancel()  # after a barge-in, queued frames must not play out
        closing = FramePump(self._sender, handle)
        if not inner.cancelled() and inner.exception() is not None:
            await self._close_stream(closing)
            raise inner.exception() from None  # type: ignore[misc]
        await self._close_stream(closing)

    async def _stream(self, pump: FramePump, source: AsyncIterable[bytes]) -> None:
        chunker = FrameChunker()
        async for chunk in source:
            await self._encode_into(pump, chunker.feed(chunk))
        tail = chunker.flush()
        if tail is not None:
            await self._encode_into(pump, [tail])
        await pump.drain()

    async def _encode_into(self, pump: FramePump, frames: list[bytes]) -> None:
        # Encoding a few frames back to back, rather than one per 20 ms wake-up, halves
        # its cost: libopus finds its tables still in the CPU cache. Frames are encoded
        # before their deadline, so each leaves right on time.
        for start in range(0, len(frames), ENCODE_AHEAD):
            await pump.push([self._encoder.encode(f) for f in frames[start : start + ENCODE_AHEAD]])

    async def _close_stream(self, pump: FramePump) -> None:
        await pump.push([SILENCE_FRAME] * SILENCE_FRAMES)
        await pump.drain()
        # Speaking 0 once the last frame has played out: sent at once it can overtake
        # that frame (TCP vs UDP), and a server refuses audio after speaking 0.
        await asyncio.sleep(FRAME_SECONDS)
        await self._sender.set_speaking(False)
