"""Usage and latency figures read from ``llm_calls`` (for ``/stats`` and the admin API).

:class:`DatabaseUsageStats` implements the ``UsageStats`` port; the functions below
are its queries. Read-only, parameterised queries over an asyncpg pool; the schema is the one in
``migrations/0001_schema.sql``. Calls without a guild (DMs, the console) are grouped
under ``guild_id = None``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from libra.errors import DatabaseUnavailable, StorageError
from libra.storage.api import GuildDay, GuildUsage, ModelLatency, PoolSizes
from libra.storage.db import Database


class StatsPool(Protocol):
    """The part of ``asyncpg.Pool`` these queries use."""

    async def fetch(self, query: str, *args: object) -> list[Any]:
        """Run ``query`` and return its rows."""
        ...


_GUILD_USAGE = """
SELECT guild_id,
       count(*)                                   AS calls,
       coalesce(sum(prompt_tokens), 0)            AS prompt_tokens,
       coalesce(sum(completion_tokens), 0)        AS completion_tokens,
       count(*) FILTER (WHERE cache_hit)          AS cache_hits,
       count(*) FILTER (WHERE error_code IS NOT NULL) AS errors
FROM llm_calls
WHERE created_at >= $1
GROUP BY guild_id
ORDER BY calls DESC, guild_id NULLS LAST
LIMIT $2
"""

_GUILD_DAILY = """
SELECT guild_id,
       (created_at AT TIME ZONE 'UTC')::date                        AS day,
       count(*)                                                     AS calls,
       coalesce(sum(prompt_tokens + completion_tokens), 0)          AS tokens
FROM llm_calls
WHERE created_at >= $1
GROUP BY guild_id, day
ORDER BY day, guild_id NULLS LAST
"""

_MODEL_LATENCY = """
SELECT model,
       count(*) AS calls,
       percentile_cont(0.5)  WITHIN GROUP (ORDER BY first_token_ms) AS first_token_p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY first_token_ms) AS first_token_p95_ms,
       percentile_cont(0.5)  WITHIN GROUP (ORDER BY latency_ms)     AS latency_p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)     AS latency_p95_ms
FROM llm_calls
WHERE created_at >= $1 AND error_code IS NULL AND NOT cache_hit
GROUP BY model
ORDER BY model
"""


async def _fetch(pool: StatsPool, query: str, *args: object) -> list[Any]:
    try:
        return await pool.fetch(query, *args)
    except (OSError, asyncpg.exceptions.ConnectionDoesNotExistError,
            asyncpg.exceptions.InterfaceError) as err:
        raise DatabaseUnavailable(f"stats query failed: {err}") from err
    except asyncpg.PostgresError as err:
        raise StorageError(f"stats query failed: {err}") from err


def _ms(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


async def guild_usage(pool: StatsPool, since: datetime, *, limit: int = 50) -> list[GuildUsage]:
    """The ``limit`` busiest guilds since ``since``."""
    rows = await _fetch(pool, _GUILD_USAGE, since, limit)
    return [GuildUsage(guild_id=r["guild_id"], calls=r["calls"],
                       prompt_tokens=int(r["prompt_tokens"]),
                       completion_tokens=int(r["completion_tokens"]),
                       cache_hits=r["cache_hits"], errors=r["errors"]) for r in rows]


async def guild_daily_usage(pool: StatsPool, since: datetime) -> list[GuildDay]:
    """Calls and tokens per guild per UTC day since ``since``."""
    rows = await _fetch(pool, _GUILD_DAILY, since)
    return [GuildDay(guild_id=r["guild_id"], day=r["day"], calls=r["calls"],
                     tokens=int(r["tokens"])) for r in rows]


async def model_latency(pool: StatsPool, since: datetime) -> list[ModelLatency]:
    """First-token and total latency percentiles per model since ``since``."""
    rows = await _fetch(pool, _MODEL_LATENCY, since)
    return [ModelLatency(model=r["model"], calls=r["calls"],
                         first_token_p50_ms=_ms(r["first_token_p50_ms"]),
                         first_token_p95_ms=_ms(r["first_token_p95_ms"]),
                         latency_p50_ms=_ms(r["latency_p50_ms"]),
                         latency_p95_ms=_ms(r["latency_p95_ms"])) for r in rows]


class DatabaseUsageStats:
    """The ``UsageStats`` port over whichever database storage has connected.

    ``database`` is asked at every call: storage may connect after start (an outage
    at start) and the figures become available then, without rewiring anything.
    """

    def __init__(self, database: Callable[[], Database | None]) -> None:
        """``database``: the open database now, or ``None`` while not connected."""
        self._database = database

    @property
    def connected(self) -> bool:
        """Whether a database is connected now."""
        return self._database() is not None

    def _pool(self) -> StatsPool:
        db = self._database()
        if db is None:
            raise DatabaseUnavailable("the database is not running")
        return db.pool

    def pool_sizes(self) -> PoolSizes | None:
        """The pool's busy, idle and maximum connections (``None`` while not connected)."""
        db = self._database()
        if db is None:
            return None
        size, idle = db.pool.get_size(), db.pool.get_idle_size()
        return PoolSizes(busy=size - idle, idle=idle, max=db.pool.get_max_size())

    async def guild_usage(self, since: datetime, *, limit: int = 50) -> list[GuildUsage]:
        """The ``limit`` busiest guilds since ``since``."""
        return await guild_usage(self._pool(), since, limit=limit)

    async def guild_daily_usage(self, since: datetime) -> list[GuildDay]:
        """Calls and tokens per guild per UTC day since ``since``."""
        return await guild_daily_usage(self._pool(), since)

    async def model_latency(self, since: datetime) -> list[ModelLatency]:
        """Latency percentiles per model since ``since``."""
        return await model_latency(self._pool(), since)
