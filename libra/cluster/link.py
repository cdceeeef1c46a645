"""The Redis connection the shared parts use, counting its round trips.

One ``redis.asyncio`` client (its own pool) per process. Every shared part goes
through :meth:`RedisLink.run` or :meth:`RedisLink.call`, so the round trips a turn
costs can be measured (``bench/scaleout.py``) without instrumenting Redis itself.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from libra.errors import ConfigError

T = TypeVar("T")

MAX_CONNECTIONS = 32
"""Redis connections one process opens at most (each operation holds one briefly)."""
KEY_PREFIX = "libra:"
"""Every key and channel the shared parts use starts with this."""
OPERATION_TIMEOUT = 2.0
"""Seconds one Redis operation may take before it counts as failed: a turn must not
hang on a Redis that stopped answering."""


def default_instance_name() -> str:
    """``host:pid``: unique on one machine and readable on the operator page."""
    return f"{socket.gethostname()}:{os.getpid()}"


class RedisLink:
    """A Redis client for the scale-out parts; constructing it does no I/O."""

    def __init__(self, url: str, *, namespace: str) -> None:
        """``namespace`` (the bot's application id, or a test's) scopes every key."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ConfigError(f"redis.url must start with redis:// or rediss://, "
                              f"not {parts.scheme!r}")
        connection: dict[str, Any] = {
            "host": parts.hostname or "127.0.0.1", "port": parts.port or 6379,
            "db": int(parts.path.strip("/") or 0),
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "socket_connect_timeout": OPERATION_TIMEOUT, "socket_timeout": OPERATION_TIMEOUT,
            "health_check_interval": 30,
        }
        if parts.scheme == "rediss":
            connection["connection_class"] = aioredis.SSLConnection
        # Blocking: a burst of turns waits a moment for a connection instead of failing
        # with "Too many connections" (and falling back to per-instance limits).
        pool = aioredis.BlockingConnectionPool(max_connections=MAX_CONNECTIONS,
                                               timeout=OPERATION_TIMEOUT, **connection)
        self.client: aioredis.Redis = aioredis.Redis(connection_pool=pool)
        self.prefix = f"{KEY_PREFIX}{namespace}:"
        self.round_trips = 0
        """Requests sent to Redis so far (a script call is one)."""

    def key(self, *parts: object) -> str:
        """``libra:<namespace>:a:b``."""
        return self.prefix + ":".join(str(p) for p in parts)

    def script(self, source: str) -> AsyncScript:
        """Register a Lua script (sent by hash; loaded once when Redis lacks it)."""
        return self.client.register_script(source)

    async def run(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """Run a script atomically: one round trip."""
        self.round_trips += 1
        return await script(keys=keys, args=args)

    async def call(self, command: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run one client command (``link.call(link.client.get, key)``): one round trip."""
        self.round_trips += 1
        return await command(*args, **kwargs)

    async def ping(self) -> None:
        """Raise unless Redis answers."""
        await self.call(self.client.ping)

    async def close(self) -> None:
        """Close the connections and the pool (idempotent)."""
        await self.client.aclose()
        await self.client.connection_pool.disconnect()
