"""A circuit breaker in front of the database: once it is known to be down, nobody waits.

Without it every turn during an outage waits ``database.query_timeout`` (5 s by
default) for a host that went dark before carrying on without history. The first
operation that fails for want of the database *trips* the breaker; from then on
reads fail at once and writes go straight to the write-behind queue. A background
probe (a fresh connection and ``SELECT 1`` under a short timeout) tries every
``database.probe_interval`` seconds; when one answers, the breaker closes and its
listeners (the replay of queued writes) run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum

from loguru import logger

from libra.errors import DatabaseUnavailable
from libra.tasks import Deadlines


class BreakerState(StrEnum):
    """Whether operations may reach the database."""

    CLOSED = "closed"
    """The database answers; operations go through."""
    OPEN = "open"
    """The database is known to be down; operations fail fast until a probe answers."""
    HALF_OPEN = "half-open"
    """A probe is in flight; operations still fail fast."""


class CircuitBreaker:
    """Tracks whether the database is reachable and probes it back after a failure."""

    def __init__(self, probe: Callable[[], Awaitable[object]], *, interval: float,
                 timeout: float) -> None:
        """``probe`` must fail (raise) unless the database answers a new connection."""
        self._probe = probe
        self._interval = interval
        self._timeout = timeout
        self._deadlines = Deadlines()
        self._listeners: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.state = BreakerState.CLOSED
        self.reason = ""
        """Why the breaker opened (the first failure), for health and logs."""
        self.opened_at: float | None = None
        """``time.monotonic()`` when it opened; ``None`` while closed."""

    @property
    def is_open(self) -> bool:
        """Whether operations must not wait for the database now (open or half-open)."""
        return self.state is not BreakerState.CLOSED

    @property
    def down_seconds(self) -> float:
        """How long the database has been known to be down (0 while closed)."""
        return 0.0 if self.opened_at is None else time.monotonic() - self.opened_at

    def on_close(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (synchronously) each time the database answers again."""
        self._listeners.append(listener)

    def unavailable(self, action: str) -> DatabaseUnavailable:
        """The fast failure an operation raises while the breaker is open."""
        return DatabaseUnavailable(
            f"cannot {action}: the database is unavailable ({self.reason}); "
            f"retrying every {self._interval:g}s",
            hint="check that PostgreSQL runs and its host is reachable")

    def trip(self, reason: str) -> None:
        """Record a failure that shows the database is down; start probing it."""
        if self._closed or self.is_open:
            return
        self.state = BreakerState.OPEN
        self.reason = reason
        self.opened_at = time.monotonic()
        # One line per outage: every turn during it fails fast and says nothing more.
        logger.warning("database unavailable ({}); carrying on without it, writes are "
                       "queued, probing every {:g}s", reason, self._interval)
        self._task = asyncio.get_running_loop().create_task(self._probe_until_closed(),
                                                            name="storage:breaker-probe")

    async def _probe_until_closed(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self.state = BreakerState.HALF_OPEN
            try:
                await self._deadlines.within(self._probe(), self._timeout)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # any failure of a probe means "still down"
                self.state = BreakerState.OPEN
                logger.debug("database probe failed: {}", str(err) or type(err).__name__)
                continue
            break
        logger.info("database answers again after {:.1f}s", self.down_seconds)
        self.state = BreakerState.CLOSED
        self.reason = ""
        self.opened_at = None
        self._task = None
        for listener in list(self._listeners):
            try:
                listener()
            except Exception as err:  # one listener must not keep the others waiting
                logger.opt(exception=err).error("database recovery listener failed")

    async def close(self) -> None:
        """Stop probing (shutdown). Idempotent."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
