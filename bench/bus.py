"""Event bus: publish→handler latency at 1,000 events/s and peak throughput.

Prints JSON. Target: p99 < 200 µs at 1,000 events/s.
Run: python bench/bus.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._stats import summary
from libra.bus import EventBus
from libra.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick(Event):
    sent_ns: int


async def latency(handlers: int, rate: int, count: int) -> dict[str, float]:
    bus = EventBus()
    samples: list[float] = []

    async def handler(event: Tick) -> None:
        samples.append((time.perf_counter_ns() - event.sent_ns) / 1000)

    for _ in range(handlers):
        bus.subscribe(Tick, handler)
    interval = 1 / rate
    start = time.perf_counter()
    for i in range(count):
        # Absolute schedule so the rate holds even if one iteration runs late.
        delay = start + i * interval - time.perf_counter()
        await asyncio.sleep(max(0.0, delay))
        bus.publish(Tick(sent_ns=time.perf_counter_ns()))
    await bus.drain(5)
    return summary(samples, 1)


async def throughput(handlers: int, count: int) -> float:
    bus = EventBus()
    received = 0

    async def handler(event: Tick) -> None:
        nonlocal received
        received += 1

    for _ in range(handlers):
        bus.subscribe(Tick, handler)
    t0 = time.perf_counter()
    for i in range(count):
        bus.publish(Tick(sent_ns=0))
        if i % 500 == 0:
            await asyncio.sleep(0)
    await bus.drain(30)
    return round(count / (time.perf_counter() - t0))


async def main() -> None:
    result = {
        "latency_us_at_1000_per_s": {
            "1_handler": await latency(1, 1000, 3000),
            "10_handlers": await latency(10, 1000, 3000),
        },
        "events_per_s": {
            "1_handler": await throughput(1, 50_000),
            "10_handlers": await throughput(10, 20_000),
        },
        "target": "p99 < 200 us at 1,000 events/s",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
