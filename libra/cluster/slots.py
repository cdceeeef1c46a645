"""LLM slots shared by every instance: a Redis semaphore per server, with leases and a queue.

Each server's running requests are a sorted set of leases scored by their expiry
(Redis's clock). A lease is renewed by its instance every third of
``redis.lease_seconds``; when an instance dies its leases run out and the slots come
back. Waiters of every instance stand in one queue (a sorted set by ticket) and only
the first *free slots* of them may take one, so a request that came first anywhere is
served first (a failover retry goes to the head, as in-process). A waiter that stops
polling (its instance died) drops out after ``ALIVE_MS``.

Releases are announced on pub/sub so waiters elsewhere try at once; polling every
``POLL_SECONDS`` covers a lost message. While Redis fails, this process's own
:class:`~libra.llm.pool.ServerPool` hands out slots (each instance then limits itself,
and the servers may see up to N times the configured load until Redis is back).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from loguru import logger

from libra.cluster.link import RedisLink
from libra.cluster.pubsub import PubSubHub
from libra.errors import LLMOverloaded
from libra.llm.pool import PooledServer, ServerPool

POLL_SECONDS = 0.25
"""Longest a waiter goes without asking again (a missed release message costs this)."""
ALIVE_MS = 5_000
"""A waiter not heard from for this long is dropped from the queue (its instance died)."""
REDIS_RETRY_AFTER = 10.0
"""Seconds the in-process slots stand in after Redis failed, before Redis is tried again."""
RELEASED = "llm-released"

# KEYS: queue, alive, slot set per candidate server.
# ARGV: waiter id, lease ms, alive ms, capacity, max queue, queue score, retry 0|1.
# Returns {candidate index (1-based) or 0 (wait) or -1 (queue full), rank, queue length}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local queue, alive, waiter = KEYS[1], KEYS[2], ARGV[1]
local lease_ms, alive_ms = tonumber(ARGV[2]), tonumber(ARGV[3])
local capacity, max_queue = tonumber(ARGV[4]), tonumber(ARGV[5])
local dead = redis.call('ZRANGEBYSCORE', alive, '-inf', now)
for _, w in ipairs(dead) do
  redis.call('ZREM', queue, w)
  redis.call('ZREM', alive, w)
end
local free, best, best_load = 0, nil, nil
for i = 3, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  local load = redis.call('ZCARD', KEYS[i])
  if load < capacity then
    free = free + capacity - load
    if best == nil or load < best_load then best, best_load = i, load end
  end
end
local rank = redis.call('ZRANK', queue, waiter)
if rank == false then
  local waiting = redis.call('ZCARD', queue)
  if best ~= nil and waiting == 0 then
    redis.call('ZADD', KEYS[best], now + lease_ms, waiter)
    return {best - 2, 0, 0}
  end
  if ARGV[7] ~= '1' and waiting >= max_queue then
    return {-1, waiting, waiting}
  end
  redis.call('ZADD', queue, tonumber(ARGV[6]), waiter)
  rank = redis.call('ZRANK', queue, waiter)
end
redis.call('ZADD', alive, now + alive_ms, waiter)
if best ~= nil and rank < free then
  redis.call('ZREM', queue, waiter)
  redis.call('ZREM', alive, waiter)
  redis.call('ZADD', KEYS[best], now + lease_ms, waiter)
  return {best - 2, 0, redis.call('ZCARD', queue)}
end
return {0, rank + 1, redis.call('ZCARD', queue)}
"""

# KEYS: queue, alive, slot sets. ARGV: lease id, channel. Drops the id everywhere.
_RELEASE = """
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 0
"""

# KEYS: slot sets; ARGV: lease ms, then lease ids (one per key). Renews leases still held.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[1]), ARGV[i + 1]) end
return 0
"""


@dataclass(slots=True, eq=False)
class _Lease:
    server: PooledServer
    lease_id: str | None
    """``None``: taken from the in-process pool while Redis failed."""


class SharedSlots:
    """Implements :class:`libra.llm.api.LLMSlots` across instances (see the module doc)."""

    def __init__(self, pool: ServerPool, link: RedisLink, hub: PubSubHub, *,
                 lease_seconds: float, instance: str) -> None:
        self._pool = pool
        self.servers: list[PooledServer] = pool.servers
        """The servers behind the slots (this process's view of their health)."""
        self._link = link
        self._hub = hub
        self._lease_ms = int(lease_seconds * 1000)
        self._instance = instance
        self._capacity = pool.servers[0].capacity
        self._acquire = link.script(_ACQUIRE)
        self._release = link.script(_RELEASE)
        self._renew = link.script(_RENEW)
        self._queue_key = link.key("llm", "queue")
        self._alive_key = link.key("llm", "alive")
        self._slot_keys = {id(s): link.key("llm", "slots", _server_key(s)) for s in pool.servers}
        self._leases: dict[str, list[_Lease]] = {}
        self._waiting: dict[str, int] = {}
        self._queued = 0
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._renewer: asyncio.Task[None] | None = None
        self._redis_down_until = 0.0
        self.channel = link.key(RELEASED)
        hub.listen(self.channel, self._on_released)

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Renew held leases in the background."""
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever(), name="cluster:leases")

    async def stop(self) -> None:
        """Stop renewing; give back every lease still held (idempotent)."""
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        for cid, leases in list(self._leases.items()):
            for lease in list(leases):
                self.release(lease.server, cid)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)

    # -- LLMSlots -------------------------------------------------------------------

    async def acquire(self, correlation_id: str, *, exclude: frozenset[int] = frozenset(),
                      retry: bool = False) -> PooledServer:
        """Wait for a slot on the least busy allowed server, in the shared queue's order.

        Raises:
            LLMOverloaded: ``max_queue`` requests already wait, across all instances.
        """
        if time.monotonic() < self._redis_down_until:
            return await self._local(correlation_id, exclude, retry)
        candidates = self._candidates(exclude)
        waiter = f"{self._instance}:{uuid.uuid4().hex[:12]}"
        score = -time.time() if retry else time.time()
        keys = [self._queue_key, self._alive_key, *(self._slot_keys[id(s)] for s in candidates)]
        args = [waiter, self._lease_ms, ALIVE_MS, self._capacity, self._pool.max_queue,
                repr(score), int(retry)]
        try:
            while True:
                wake = self._wake  # replaced at each release: no waiter clears another's
                try:
                    index, rank, queued = await self._link.run(self._acquire, keys, args)
                except Exception as err:
                    self._redis_failed(err)
                    await self._forget(waiter, keys)
                    return await self._local(correlation_id, exclude, retry)
                self._queued = int(queued)
                if index > 0:
                    return self._granted(candidates[int(index) - 1], waiter, correlation_id)
                if index < 0:
                    raise LLMOverloaded(
                        f"{rank} requests are already waiting for the language model",
                        hint="try again in a moment, or raise llm.max_queue / add llm.servers")
                self._waiting[correlation_id] = int(rank)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), POLL_SECONDS)
        except asyncio.CancelledError:
            # The grant may have happened just as the caller gave up: drop it everywhere.
            self._spawn(self._forget(waiter, keys), "cluster:llm-forget")
            raise
        finally:
            self._waiting.pop(correlation_id, None)

    def release(self, server: PooledServer, correlation_id: str) -> None:
        """Give the slot back; Redis hears of it in a held background task."""
        leases = self._leases.get(correlation_id, [])
        lease = next((x for x in leases if x.server is server), None)
        if lease is None:
            return
        leases.remove(lease)
        if not leases:
            self._leases.pop(correlation_id, None)
        if lease.lease_id is None:
            self._pool.release(server, correlation_id)
            return
        server.active -= 1
        self._spawn(self._forget(lease.lease_id, [self._slot_keys[id(server)]]),
                    "cluster:llm-release")

    def mark_failed(self, server: PooledServer, error: str) -> None:
        """Skip ``server`` here for the back-off period."""
        self._pool.mark_failed(server, error)

    def mark_ok(self, server: PooledServer) -> None:
        """``server`` answered."""
        self._pool.mark_ok(server)

    def position(self, correlation_id: str) -> int | None:
        """0 while running, n when n-th in the shared queue (as of the last poll)."""
        if correlation_id in self._leases:
            return 0
        if correlation_id in self._waiting:
            return self._waiting[correlation_id]
        return self._pool.position(correlation_id)

    @property
    def queued(self) -> int:
        """Requests waiting across instances (as of the last poll), plus local fallbacks."""
        return self._queued + self._pool.queued

    # -- internals ------------------------------------------------------------------

    def _candidates(self, exclude: frozenset[int]) -> list[PooledServer]:
        now = time.monotonic()
        allowed = [s for s in self._pool.servers if id(s) not in exclude]
        healthy = [s for s in allowed if s.healthy(now)]
        return healthy or allowed

    def _granted(self, server: PooledServer, lease_id: str, correlation_id: str) -> PooledServer:
        server.active += 1
        self._leases.setdefault(correlation_id, []).append(_Lease(server, lease_id))
        return server

    async def _local(self, correlation_id: str, exclude: frozenset[int],
                     retry: bool) -> PooledServer:
        server = await self._pool.acquire(correlation_id, exclude=exclude, retry=retry)
        self._leases.setdefault(correlation_id, []).append(_Lease(server, None))
        return server

    async def _forget(self, lease_id: str, slot_keys: list[str]) -> None:
        keys = [self._queue_key, self._alive_key, *slot_keys]
        try:
            await self._link.run(self._release, keys, [lease_id, self.channel])
        except Exception as err:  # the lease expires by itself
            logger.warning("could not return an LLM slot to Redis ({}); it frees itself "
                           "within {:g}s", err, self._lease_ms / 1000)

    def _on_released(self, _lease: str) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    def _redis_failed(self, err: Exception) -> None:
        logger.warning("shared LLM slots unavailable ({}); this instance limits itself for "
                       "{:g}s", err, REDIS_RETRY_AFTER)
        self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            held = [(self._slot_keys[id(x.server)], x.lease_id)
                    for leases in self._leases.values() for x in leases if x.lease_id]
            if not held:
                continue
            try:
                await self._link.run(self._renew, [k for k, _ in held],
                                     [self._lease_ms, *(lease for _, lease in held)])
            except Exception as err:
                logger.warning("could not renew LLM slot leases ({})", err)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _server_key(server: PooledServer) -> str:
    """A short stable name for a server (its URL may hold a password)."""
    return hashlib.sha256(server.name.encode()).hexdigest()[:16]
