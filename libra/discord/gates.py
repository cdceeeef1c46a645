"""Identify turns and the global REST budget within one process, and their ports.

Discord paces IDENTIFY per bucket (``shard_id % max_concurrency``, once per 5 s) and
allows about 50 REST requests per second per bot. hikari paces its own start-up
windows but not a re-identify after an invalid session, nor the global budget; these
gates do, in-process. With several instances the Redis-backed ones
(``libra/cluster/discord_gates.py``) take their place and fall back to these while
Redis fails. :mod:`libra.discord.sharding` hooks them into hikari.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

IDENTIFY_INTERVAL = 5.25
"""Seconds between identifies of one bucket: Discord's 5 s and a margin for the time
between the turn and the IDENTIFY reaching Discord."""
REST_WINDOW = 1.05
"""Seconds of the global REST window: Discord's one second and a margin for the time
between a request's turn and its arrival at Discord (an event loop busy elsewhere
sends several at once)."""


class IdentifyGate(Protocol):
    """Turns for IDENTIFY."""

    async def wait_turn(self, shard_id: int) -> None:
        """Return when ``shard_id`` may identify."""
        ...


class RestGate(Protocol):
    """The bot's global REST budget."""

    async def acquire(self) -> None:
        """Wait for, and spend, one request of the budget."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayLimits:
    """``session_start_limit`` of ``GET /gateway/bot``."""

    max_concurrency: int
    remaining: int
    reset_after: float
    """Seconds until the daily budget is whole again."""


LimitsSource = Callable[[], Awaitable[GatewayLimits]]


class LocalIdentifyGate:
    """One identify per bucket per :data:`IDENTIFY_INTERVAL` within this process."""

    def __init__(self, limits: LimitsSource, *, interval: float = IDENTIFY_INTERVAL) -> None:
        self._limits = limits
        self._interval = interval
        self._last: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        self._max_concurrency: int | None = None

    async def bucket_of(self, shard_id: int) -> int:
        """The identify bucket of ``shard_id``."""
        if self._max_concurrency is None:
            self._max_concurrency = max(1, (await self._limits()).max_concurrency)
        return shard_id % self._max_concurrency

    async def wait_turn(self, shard_id: int) -> None:
        """Return when ``shard_id`` may send IDENTIFY."""
        bucket = await self.bucket_of(shard_id)
        async with self._locks[bucket]:
            wait = self._last.get(bucket, -float("inf")) + self._interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last[bucket] = time.monotonic()


class LocalRestGate:
    """At most ``limit`` requests in any :data:`REST_WINDOW` from this process."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._sent: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more request fits the window, and count it."""
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= REST_WINDOW:
                    self._sent.popleft()
                if len(self._sent) < self._limit:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self._sent[0] + REST_WINDOW - now)
