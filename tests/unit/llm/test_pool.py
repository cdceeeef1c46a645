"""The server pool: least-busy choice, FIFO queue positions, overload, back-off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from libra.errors import LLMOverloaded
from libra.llm.api import LLMRequest, Token
from libra.llm.pool import ServerPool


class NamedBackend:
    """Only the name matters to the pool; it never calls the backend."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def stream(self, request: LLMRequest) -> AsyncIterator[Token]:
        yield Token(text="", done=True)

    async def warm(self, model: str, keep_alive: str) -> None:
        return None

    async def models(self) -> list[str]:
        return []

    async def close(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_pool(*names: str, concurrency: int = 2, queue: int = 4,
              clock: Clock | None = None) -> ServerPool:
    return ServerPool([NamedBackend(n) for n in names], max_concurrency=concurrency,
                      max_queue=queue, backoff=10.0, clock=clock or Clock())


async def test_requests_spread_to_the_least_busy_server() -> None:
    pool = make_pool("a", "b", concurrency=2)
    first = await pool.acquire("r1")
    second = await pool.acquire("r2")
    assert {first.name, second.name} == {"a", "b"}
    pool.release(first, "r1")
    third = await pool.acquire("r3")
    assert third.name == first.name  # the other one is busier


async def test_queue_is_fifo_and_reports_positions() -> None:
    pool = make_pool("a", concurrency=1, queue=5)
    running = await pool.acquire("r0")
    waiters = [asyncio.create_task(pool.acquire(f"w{i}")) for i in range(3)]
    await asyncio.sleep(0)
    assert pool.position("r0") == 0
    assert [pool.position(f"w{i}") for i in range(3)] == [1, 2, 3]
    assert pool.position("unknown") is None
    pool.release(running, "r0")
    server = await waiters[0]
    assert pool.position("w0") == 0
    assert [pool.position("w1"), pool.position("w2")] == [1, 2]
    pool.release(server, "w0")
    pool.release(await waiters[1], "w1")
    pool.release(await waiters[2], "w2")
    assert pool.active == 0 and pool.queued == 0


async def test_a_full_queue_refuses_with_overloaded() -> None:
    pool = make_pool("a", concurrency=1, queue=2)
    await pool.acquire("r0")
    waiters = [asyncio.create_task(pool.acquire(f"w{i}")) for i in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(LLMOverloaded) as info:
        await pool.acquire("one-too-many")
    assert info.value.code == "llm_overloaded"
    for task in waiters:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert pool.queued == 0


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    pool = make_pool("a", concurrency=1, queue=3)
    running = await pool.acquire("r0")
    gone = asyncio.create_task(pool.acquire("gone"))
    stays = asyncio.create_task(pool.acquire("stays"))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    assert pool.position("stays") == 1
    pool.release(running, "r0")
    assert (await stays).name == "a"


async def test_failed_server_is_skipped_during_backoff_then_used_again() -> None:
    clock = Clock()
    pool = make_pool("a", "b", concurrency=4, clock=clock)
    a = next(s for s in pool.servers if s.name == "a")
    pool.mark_failed(a, "connection refused")
    picks = [await pool.acquire(f"r{i}") for i in range(3)]
    assert {p.name for p in picks} == {"b"}
    clock.now += 11
    assert (await pool.acquire("later")).name == "a"


async def test_when_every_server_failed_they_are_still_tried() -> None:
    pool = make_pool("a", concurrency=1)
    pool.mark_failed(pool.servers[0], "down")
    assert (await pool.acquire("r")).name == "a"


async def test_a_retry_skips_servers_it_already_tried() -> None:
    pool = make_pool("a", "b", concurrency=1)
    first = await pool.acquire("r")
    retry = await pool.acquire("r", exclude=frozenset({id(first)}), retry=True)
    assert retry is not first


async def test_a_free_server_is_not_left_idle_behind_a_waiter_that_excludes_it() -> None:
    pool = make_pool("a", "b", concurrency=1)
    first = await pool.acquire("r1")
    second = await pool.acquire("r2")
    # r3 failed over from `first`'s server and waits for the other one.
    failover = asyncio.create_task(
        pool.acquire("r3", exclude=frozenset({id(first)}), retry=True))
    await asyncio.sleep(0)
    pool.release(first, "r1")  # `first`'s server is idle now, but r3 cannot use it
    newcomer = await asyncio.wait_for(pool.acquire("r4"), 1)
    assert newcomer is first
    pool.release(second, "r2")
    assert await failover is second
