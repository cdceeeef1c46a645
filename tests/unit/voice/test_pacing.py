"""20 ms send pacing: drift correction and re-anchoring after a stall."""

from __future__ import annotations

import asyncio
import itertools
import time

from libra.discord.voice.player import FRAME_SECONDS, FramePump, PacingClock, PlaybackHandle


class OversleepingClock:
    """A virtual clock whose sleeps always overrun by ``overrun`` seconds."""

    def __init__(self, overrun: float) -> None:
        self.now = 1000.0
        self.overrun = overrun

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self.overrun


async def test_oversleeping_does_not_accumulate_drift() -> None:
    clock = OversleepingClock(overrun=0.004)
    pacing = PacingClock(clock.time, clock.sleep)
    start = clock.now
    for _ in range(500):
        await pacing.wait_next()
    elapsed = clock.now - start
    # Without drift correction this would be 500 x 24 ms = 12 s.
    assert abs(elapsed - 499 * FRAME_SECONDS - 0.004) < 1e-6
    assert max(pacing.lateness) <= 0.004 + 1e-9


async def test_a_stall_reanchors_instead_of_bursting() -> None:
    clock = OversleepingClock(overrun=0.0)
    pacing = PacingClock(clock.time, clock.sleep)
    for _ in range(10):
        await pacing.wait_next()
    clock.now += 1.0  # the source stalled for a second
    sends: list[float] = []
    for _ in range(5):
        await pacing.wait_next()
        sends.append(clock.now)
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(sends)]
    assert gaps == [FRAME_SECONDS] * 4
    assert pacing.reanchors == 1


async def test_a_short_hiccup_is_caught_up() -> None:
    clock = OversleepingClock(overrun=0.0)
    pacing = PacingClock(clock.time, clock.sleep)
    await pacing.wait_next()
    start = clock.now
    clock.now += 0.050  # 50 ms late: within MAX_BEHIND, so frames catch up
    for _ in range(5):
        await pacing.wait_next()
    assert abs(clock.now - (start + 5 * FRAME_SECONDS)) < 1e-9
    assert pacing.reanchors == 0


class RecordingSender:
    """A FrameSender that records when each frame would have gone out."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []

    async def set_speaking(self, speaking: bool) -> None:
        return None

    def send_opus(self, opus: bytes) -> bool:
        self.sent.append((time.monotonic(), opus))
        return True


async def test_the_frame_pump_paces_in_order_and_barge_in_drops_the_queue() -> None:
    sender = RecordingSender()
    handle = PlaybackHandle()
    pump = FramePump(sender, handle)
    frames = [bytes([i]) for i in range(12)]
    for start in range(0, 10, 5):
        await pump.push(frames[start : start + 5])  # waits for room after the first batch
    await pump.drain()
    assert [opus for _, opus in sender.sent] == frames[:10]
    times = [t for t, _ in sender.sent]
    assert 9 * FRAME_SECONDS - 0.002 <= times[-1] - times[0] <= 9 * FRAME_SECONDS + 0.015
    assert handle.frames_sent == 10 and handle.clock.reanchors == 0
    await pump.push(frames[10:])
    pump.cancel()
    await asyncio.sleep(3 * FRAME_SECONDS)
    assert len(sender.sent) == 10  # nothing queued played out after the barge-in
