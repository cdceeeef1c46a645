"""Several servers behind one queue: least-busy choice, bounded concurrency, back-off.

Each server runs at most ``max_concurrency`` requests; the rest wait in one FIFO
queue of at most ``max_queue`` entries (beyond it :class:`LLMOverloaded`). A server
that failed is skipped for ``backoff`` seconds, unless no healthy server is left,
in which case it is tried anyway: a stale verdict must never block every request.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from libra.errors import LLMOverloaded
from libra.llm.api import LLMBackend


@dataclass(slots=True, eq=False)
class PooledServer:
    """One backend with its live load and health."""

    backend: LLMBackend
    capacity: int
    active: int = 0
    unhealthy_until: float = 0.0
    last_error: str | None = None

    @property
    def name(self) -> str:
        """The backend's label (its URL)."""
        return self.backend.name

    def healthy(self, now: float) -> bool:
        """Not inside a back-off period."""
        return now >= self.unhealthy_until


@dataclass(slots=True, eq=False)
class _Waiter:
    correlation_id: str
    exclude: frozenset[int]
    future: asyncio.Future[PooledServer] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ServerPool:
    """Hands out request slots on the least busy healthy server, in FIFO order."""

    def __init__(
        self,
        backends: Sequence[LLMBackend],
        *,
        max_concurrency: int,
        max_queue: int,
        backoff: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not backends:
            raise ValueError("a server pool needs at least one backend")
        self.servers = [PooledServer(backend=b, capacity=max_concurrency) for b in backends]
        self.max_queue = max_queue
        self.backoff = backoff
        self._clock = clock
        self._queue: deque[_Waiter] = deque()
        self._running: Counter[str] = Counter()

    # -- slots ----------------------------------------------------------------------

    def _pick(self, exclude: frozenset[int]) -> PooledServer | None:
        now = self._clock()
        allowed = [s for s in self.servers if id(s) not in exclude]
        healthy = [s for s in allowed if s.healthy(now)]
        candidates = [s for s in (healthy or allowed) if s.active < s.capacity]
        if not candidates:
            return None
        return min(candidates, key=lambda s: s.active / s.capacity)

    async def acquire(
        self, correlation_id: str, *, exclude: frozenset[int] = frozenset(), retry: bool = False
    ) -> PooledServer:
        """Wait for a slot and return its server; ``release`` it when done.

        ``exclude`` holds ``id()`` of servers already tried by this request; a
        ``retry`` (failover) goes to the head of the queue, since it waited once.

        Raises:
            LLMOverloaded: the queue is full.
        """
        if not self._queue or retry:
            server = self._pick(exclude)
            if server is not None:
                return self._take(server, correlation_id)
        if len(self._queue) >= self.max_queue and not retry:
            raise LLMOverloaded(
                f"{len(self._queue)} requests are already waiting for the language model",
                hint="try again in a moment, or raise llm.max_queue / add llm.servers",
            )
        waiter = _Waiter(correlation_id, exclude)
        if retry:
            self._queue.appendleft(waiter)
        else:
            self._queue.append(waiter)
        # Waiters ahead may exclude a free server: this one may still fit it now.
        self._dispatch()
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter in self._queue:
                self._queue.remove(waiter)
            elif waiter.future.done() and not waiter.future.cancelled():
                # The slot was handed over just as the caller gave up: give it back.
                self.release(waiter.future.result(), correlation_id)
            raise

    def _take(self, server: PooledServer, correlation_id: str) -> PooledServer:
        server.active += 1
        self._running[correlation_id] += 1
        return server

    def release(self, server: PooledServer, correlation_id: str) -> None:
        """Return a slot and hand free slots to the waiters in queue order."""
        server.active -= 1
        self._running[correlation_id] -= 1
        if self._running[correlation_id] <= 0:
            del self._running[correlation_id]
        self._dispatch()

    def _dispatch(self) -> None:
        for waiter in list(self._queue):
            if waiter.future.done():
                self._queue.remove(waiter)
                continue
            server = self._pick(waiter.exclude)
            if server is None:
                continue  # this waiter excludes every free server; later ones may fit
            self._queue.remove(waiter)
            waiter.future.set_result(self._take(server, waiter.correlation_id))

    # -- health ---------------------------------------------------------------------

    def mark_failed(self, server: PooledServer, error: str) -> None:
        """Skip ``server`` for the back-off period."""
        server.unhealthy_until = self._clock() + self.backoff
        server.last_error = error

    def mark_ok(self, server: PooledServer) -> None:
        """The server just answered: it is healthy again."""
        server.unhealthy_until = 0.0
        server.last_error = None

    # -- introspection --------------------------------------------------------------

    def position(self, correlation_id: str) -> int | None:
        """0 while running, n when n-th in the queue (1 = next), None when unknown."""
        if correlation_id in self._running:
            return 0
        for index, waiter in enumerate(self._queue):
            if waiter.correlation_id == correlation_id:
                return index + 1
        return None

    @property
    def queued(self) -> int:
        """Requests waiting for a slot."""
        return len(self._queue)

    @property
    def active(self) -> int:
        """Requests running on any server."""
        return sum(s.active for s in self.servers)
