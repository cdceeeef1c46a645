"""The pool as other code sees it: every one-shot query bounded and behind the breaker.

Readers outside the repositories (the admin page's statistics, the migrations health
check, tests) query the pool directly. Through :class:`GuardedPool` those queries get
the same treatment as every repository function: they answer within
``database.query_timeout`` and fail at once while the database is known to be down,
instead of holding an operator's page until TCP gives up on a dark host.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from libra.errors import DatabaseUnavailable
from libra.storage.breaker import CircuitBreaker
from libra.tasks import Deadlines

T = TypeVar("T")

UNAVAILABLE_ERRORS = (OSError, asyncpg.InterfaceError, asyncpg.InternalClientError,
                      asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError,
                      asyncpg.InsufficientResourcesError)
"""Driver errors that mean the server is unreachable or refusing work, not a bad query.

``OperatorInterventionError`` covers a terminated backend and a server shutting down
(57P01..57P03); ``InternalClientError`` is what asyncpg raises for a pooled connection
the server dropped.
"""


class GuardedPool:
    """An ``asyncpg.Pool`` whose ``fetch*``/``execute*`` are bounded and breaker-aware.

    ``acquire()`` and the sizing methods pass through: code holding a connection bounds
    its own work (the repositories do, per operation).
    """

    def __init__(self, pool: asyncpg.Pool, query_timeout: float,
                 breaker: CircuitBreaker) -> None:
        self.raw = pool
        """The asyncpg pool itself (for code that bounds its own operations)."""
        self.query_timeout = query_timeout
        self._breaker = breaker
        self._deadlines = Deadlines()

    async def _guard(self, action: str, call: Callable[[], Awaitable[T]]) -> T:
        if self._breaker.is_open:
            raise self._breaker.unavailable(action)
        try:
            # Not asyncio.timeout: cancelling a query on a dark host waits for the host.
            return await self._deadlines.within(call(), self.query_timeout)
        except TimeoutError:
            reason = f"no answer within {self.query_timeout:g}s"
            self._breaker.trip(reason)
            raise DatabaseUnavailable(
                f"cannot {action}: the database did not answer within "
                f"{self.query_timeout:g}s",
                hint="check that PostgreSQL runs and its host is reachable "
                "(database.query_timeout sets this limit)") from None
        except UNAVAILABLE_ERRORS as err:
            self._breaker.trip(str(err) or type(err).__name__)
            raise DatabaseUnavailable(f"cannot {action}: database connection lost ({err})",
                                      hint="check that PostgreSQL is running") from err

    async def fetch(self, query: str, *args: object) -> list[Any]:
        """Run ``query`` and return its rows."""
        return await self._guard("run a query", lambda: self.raw.fetch(query, *args))

    async def fetchrow(self, query: str, *args: object) -> Any:
        """Run ``query`` and return its first row (or ``None``)."""
        return await self._guard("run a query", lambda: self.raw.fetchrow(query, *args))

    async def fetchval(self, query: str, *args: object) -> Any:
        """Run ``query`` and return the first column of its first row."""
        return await self._guard("run a query", lambda: self.raw.fetchval(query, *args))

    async def execute(self, query: str, *args: object) -> str:
        """Run ``query``; return its command tag."""
        return await self._guard("run a statement", lambda: self.raw.execute(query, *args))

    async def executemany(self, query: str, args: Any) -> None:
        """Run ``query`` once per argument tuple."""
        await self._guard("run statements", lambda: self.raw.executemany(query, args))

    def acquire(self) -> Any:
        """A connection context from the pool (not bounded: bound the work in it)."""
        return self.raw.acquire()

    def get_size(self) -> int:
        """Connections open (busy and idle)."""
        return int(self.raw.get_size())

    def get_idle_size(self) -> int:
        """Connections open and idle."""
        return int(self.raw.get_idle_size())

    def get_max_size(self) -> int:
        """The pool's upper bound."""
        return int(self.raw.get_max_size())
