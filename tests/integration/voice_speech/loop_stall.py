"""Measure how long the event loop stalls while a recogniser works (model inference must run
off the loop), shared by the speech-to-text tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")

STALL_P95 = 0.02
"""Seconds: 95 % of 5 ms ticks must come within this of their time during a decode."""
STALL_MAX = 0.15
"""Seconds: the worst tick (other processes on the shared box alone cost up to ~65 ms;
decoding on the loop costs ~1 s)."""


async def collect_while_ticking(items: AsyncIterator[T]) -> tuple[list[T], list[float]]:
    """Everything ``items`` yields, and how late each 5 ms tick of the loop came meanwhile."""
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            stalls.append(time.perf_counter() - before - 0.005)

    ticking = asyncio.create_task(ticker(), name="loop-stall-ticker")
    try:
        collected = [item async for item in items]
    finally:
        done.set()
        await ticking
    return collected, stalls


def assert_loop_kept_running(stalls: list[float]) -> None:
    """The ticker ran throughout and no tick came much later than asked."""
    assert len(stalls) > 20, "the ticker barely ran: the loop was blocked"
    ordered = sorted(stalls)
    p95 = ordered[int(len(ordered) * 0.95)]
    assert p95 < STALL_P95, f"loop stall p95 {p95 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
    assert ordered[-1] < STALL_MAX, f"the event loop stalled {ordered[-1] * 1000:.0f} ms"
