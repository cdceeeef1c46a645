"""Usage and latency figures read from ``llm_calls`` (for ``/stats`` and the admin API).

Read-only, parameterised queries over an asyncpg pool; the schema is the one in
``migrations/0001_schema.sql``. Calls without a guild (DMs, the console) are grouped
under ``guild_id = None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import asyncpg

from libra.errors import DatabaseUnavailable, StorageError


class StatsPool(Protocol):
    """The part of ``asyncpg.Pool`` these queries use."""

    async def fetch(self, query: str, *args: object) -> list[Any]:
        """Run ``query`` and return its rows."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class GuildUsage:
    """LLM usage of one guild since a point in time."""

    guild_id: int | None
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cache_hits: int
    errors: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GuildDay:
    """LLM usage of one guild on one UTC day."""

    guild_id: int | None
    day: date
    calls: int
    tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelLatency:
    """Latency percentiles of one model's successful, uncached calls."""

    model: str
    calls: int
    first_token_p50_ms: float | None
    first_token_p95_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None


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
