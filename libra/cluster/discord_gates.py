"""What Discord limits per bot, not per process: identifies and the global REST budget.

* **IDENTIFY**: shards are grouped in buckets ``shard_id % max_concurrency``; each
  bucket may identify once per 5 s, and every identify spends one session start of
  the daily budget (``session_start_limit`` of ``GET /gateway/bot``). Going faster is
  answered with an invalid session; overrunning the budget gets every session
  invalidated and the token reset. :class:`RedisIdentifyGate` makes the instances take
  turns the way twilight's gateway-queue serves several processes: a key per bucket
  that lives 5 s, and a shared counter of the sessions left.
* **REST**: about 50 requests per second per bot across all routes.
  :class:`RedisRestGate` is a sliding one-second window shared by every instance.

The in-process gates (:mod:`libra.discord.gates`) stand in while Redis fails. Nothing
here imports hikari: the hooks into it are in :mod:`libra.discord.sharding`.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from loguru import logger

from libra.cluster.link import RedisLink
from libra.discord.gates import (
    IDENTIFY_INTERVAL,
    REST_WINDOW,
    LimitsSource,
    LocalIdentifyGate,
    LocalRestGate,
)

BUDGET_RETRY = 60.0
"""Seconds between checks of a spent session-start budget."""


# KEYS: bucket key, budget key. ARGV: interval ms, holder.
# Returns 0 = go, n > 0 = wait n ms, -1 = budget spent (then n = its TTL), -2 = unknown.
_IDENTIFY = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then return {ttl, 0} end
local left = redis.call('GET', KEYS[2])
if not left then return {-2, 0} end
if tonumber(left) <= 0 then return {-1, redis.call('PTTL', KEYS[2])} end
redis.call('DECR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
return {0, 0}
"""
# KEYS: budget key. ARGV: remaining, reset ms. Never raises what another instance counted.
_SEED = """
local left = redis.call('GET', KEYS[1])
if (not left) or tonumber(left) > tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 0
"""


class RedisIdentifyGate:
    """Identify turns shared by every instance of the bot (see the module doc)."""

    def __init__(self, link: RedisLink, limits: LimitsSource, *,
                 interval: float = IDENTIFY_INTERVAL) -> None:
        self._link = link
        self._limits = limits
        self._local = LocalIdentifyGate(limits, interval=interval)
        self._interval_ms = int(interval * 1000)
        self._identify = link.script(_IDENTIFY)
        self._seed = link.script(_SEED)
        self._holder = uuid.uuid4().hex[:12]
        self.waited = 0.0
        """Seconds spent waiting for turns (diagnostics, tests)."""

    async def wait_turn(self, shard_id: int) -> None:
        """Return when ``shard_id`` may send IDENTIFY, in turn with every instance."""
        bucket = await self._local.bucket_of(shard_id)
        keys = [self._link.key("identify", bucket), self._link.key("identify", "budget")]
        started = time.monotonic()
        try:
            while True:
                verdict, ttl = await self._link.run(self._identify, keys,
                                                    [self._interval_ms, self._holder])
                if verdict == 0:
                    break
                if verdict == -2:
                    limits = await self._limits()
                    await self._link.run(self._seed, keys[1:], [
                        limits.remaining, max(1000, int(limits.reset_after * 1000))])
                    continue
                if verdict == -1:
                    logger.error("Discord's daily session-start budget is spent; shard {} "
                                 "waits {:.0f} min for it to reset (identifying now would "
                                 "get every session invalidated)", shard_id, ttl / 60_000)
                    await asyncio.sleep(min(BUDGET_RETRY, max(1.0, ttl / 1000)))
                    continue
                await asyncio.sleep(verdict / 1000)
        except Exception as err:  # Redis failed: pace this process at least
            logger.warning("shared identify queue unavailable ({}); pacing this instance "
                           "alone", err)
            await self._local.wait_turn(shard_id)
        self.waited += time.monotonic() - started


# KEYS: window zset. ARGV: limit, window ms, member. Returns 0 = go, else ms to wait.
_REST = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window * 2)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


class RedisRestGate:
    """The bot's global REST budget, one sliding window for every instance."""

    def __init__(self, link: RedisLink, limit: int, *, fallback_limit: int) -> None:
        """``fallback_limit``: this process's share of ``limit`` while Redis fails."""
        self._link = link
        self._limit = limit
        self._local = LocalRestGate(fallback_limit)
        self._script = link.script(_REST)
        self._key = link.key("rest", "global")
        self._prefix = uuid.uuid4().hex[:8]
        self._seq = 0
        self._down_until = 0.0
        # One request of this process asks Redis at a time, the rest wait here in
        # order: a burst would otherwise have every waiter retry at the same moment.
        self._turn = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more request fits the shared window, and count it."""
        if time.monotonic() < self._down_until:
            await self._local.acquire()
            return
        async with self._turn:
            await self._acquire_shared()

    async def _acquire_shared(self) -> None:
        while True:
            self._seq += 1
            try:
                wait_ms = await self._link.run(self._script, [self._key], [
                    self._limit, int(REST_WINDOW * 1000), f"{self._prefix}:{self._seq}"])
            except Exception as err:
                logger.warning("shared REST budget unavailable ({}); pacing this instance "
                               "alone for 10 s", err)
                self._down_until = time.monotonic() + 10.0
                await self._local.acquire()
                return
            if not wait_ms:
                return
            await asyncio.sleep(int(wait_ms) / 1000)
