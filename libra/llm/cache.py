"""Exact-match response cache (aiocache): in memory, or Redis when configured.

Keys are ``libra:llm:<model>:<sha256>`` where the hash covers the normalised
messages (role + whitespace-collapsed content), the model, the options and the
language. Only complete answers are stored. A model's name (percent-encoded, so
``llama3`` can never prefix-match ``llama3:8b``) is the cache namespace that
``flush`` accepts.

aiocache pitfall (see DESIGN.md): ``clear()`` without a namespace flushes the
whole Redis database, and its Redis and memory backends build namespaced keys
differently. So this module keeps aiocache's namespace empty, writes full keys
itself, and flushes only by an explicit, separator-terminated prefix.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from aiocache import RedisCache, SimpleMemoryCache
from aiocache.serializers import JsonSerializer
from loguru import logger

from libra.errors import ConfigError, ServiceUnavailable
from libra.llm.api import LLMRequest

ROOT_NAMESPACE = "libra:llm:"
"""Every key this cache writes starts with this (note the trailing separator)."""

FLUSH_TIMEOUT = 5.0
"""Seconds a Redis flush may take before it is reported as failed."""
_FLUSH_BATCH = 500
RETRY_AFTER = 30.0
"""Seconds the cache is skipped after the store failed (each try may cost seconds)."""


class CacheUnavailable(ServiceUnavailable):
    """The cache's store (Redis) cannot be reached, so it cannot be flushed."""

    code = "cache_unavailable"


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedAnswer:
    """A complete answer and its usage."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _namespace(model: str) -> str:
    return f"{ROOT_NAMESPACE}{quote(model, safe='')}:"


def cache_key(request: LLMRequest) -> str:
    """Return the key of ``request``: same prompt, model, options and language -> same key.

    A request with its own ``cache_key`` is keyed on that instead of its messages.
    """
    material = {
        "messages": ([["key", request.cache_key]] if request.cache_key is not None else
                     [[m.role, " ".join(m.content.split())] for m in request.messages]),
        "model": request.model,
        "options": request.options,
        "language": request.language,
    }
    digest = hashlib.sha256(
        json.dumps(material, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()
    return _namespace(request.model) + digest


class ResponseCache:
    """Stores complete answers for ``ttl`` seconds; failures only cost a cache miss.

    After a failure the store is left alone for ``RETRY_AFTER`` seconds.
    """

    def __init__(self, *, ttl: float, redis_url: str | None = None) -> None:
        self.ttl = ttl
        self.backend_name = "redis" if redis_url else "memory"
        # In memory no operation can hang, and aiocache's timeout wrapper would cost a
        # task per call on the cache-hit path; Redis keeps its 5 s operation timeout.
        self._cache: Any = (
            _redis(redis_url) if redis_url else SimpleMemoryCache(namespace="", timeout=None)
        )
        self._skip_until = 0.0
        self.round_trips = 0
        """Requests sent to Redis (0 in memory); ``bench/scaleout.py`` reads them."""
        self.generation = 0
        """Bumped by every flush, here or (through pub/sub) on another instance: an
        answer that started before a flush is not stored after it."""

    def _usable(self) -> bool:
        """Enabled, and not within ``RETRY_AFTER`` seconds of a failure of the store."""
        return self.enabled and time.monotonic() >= self._skip_until

    def _failed(self, action: str, err: Exception) -> None:
        # A Redis that drops packets costs the connect timeout on every operation,
        # before and after each answer: skip it for a while instead.
        logger.warning("LLM cache {} failed ({}): {}; skipping the cache for {:g}s",
                       action, self.backend_name, err, RETRY_AFTER)
        self._skip_until = time.monotonic() + RETRY_AFTER

    @property
    def enabled(self) -> bool:
        """``cache_ttl = 0`` turns caching off."""
        return self.ttl > 0

    async def get(self, key: str) -> CachedAnswer | None:
        """Return the cached answer or ``None`` (also when the store is unreachable)."""
        if not self._usable():
            return None
        self.round_trips += self.backend_name == "redis"
        try:
            data = await self._cache.get(key)
        except Exception as err:  # Redis down: serve from the model instead
            self._failed("read", err)
            return None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            return None
        return CachedAnswer(
            text=data["text"],
            prompt_tokens=int(data.get("prompt_tokens") or 0),
            completion_tokens=int(data.get("completion_tokens") or 0),
        )

    async def set(self, key: str, answer: CachedAnswer, *, generation: int | None = None) -> None:
        """Store a complete answer (errors are logged, never raised).

        ``generation``: the cache's :attr:`generation` when the answer was asked for; a
        flush since then means the answer may be what the flush meant to remove.
        """
        if not self._usable() or (generation is not None and generation != self.generation):
            return
        value = {"text": answer.text, "prompt_tokens": answer.prompt_tokens,
                 "completion_tokens": answer.completion_tokens}
        self.round_trips += self.backend_name == "redis"
        try:
            await self._cache.set(key, value, ttl=float(self.ttl))
        except Exception as err:
            self._failed("write", err)

    async def flush(self, namespace: str | None = None) -> int:
        """Delete every entry (or one model's) and return how many were removed.

        Only keys under ``libra:llm:`` are touched: a shared Redis keeps the rest.

        Raises:
            CacheUnavailable: Redis failed; what was flushed before it did stays flushed.
        """
        prefix = ROOT_NAMESPACE if namespace is None else _namespace(unquote(namespace))
        self.generation += 1
        if self.backend_name == "redis":
            try:
                # Bounded so an admin request gets its "could not flush" answer before
                # its own timeout: a dark Redis host never answers the SCAN.
                async with asyncio.timeout(FLUSH_TIMEOUT):
                    return await self._flush_redis(prefix)
            except Exception as err:  # redis-py's own errors, OS errors, the timeout
                raise CacheUnavailable(
                    f"the LLM cache could not be flushed: Redis failed ({err})",
                    hint="check that Redis runs and redis.url is right") from err
        keys = [k for k in await self._cache.raw("keys") if str(k).startswith(prefix)]
        await self._cache.clear(namespace=prefix)
        return len(keys)

    async def _flush_redis(self, prefix: str) -> int:
        client = self._cache.client
        removed = 0
        batch: list[bytes] = []
        # SCAN, not KEYS: it does not block a Redis that other programs share.
        async for key in client.scan_iter(match=prefix + "*", count=_FLUSH_BATCH):
            batch.append(key)
            if len(batch) >= _FLUSH_BATCH:
                removed += int(await client.unlink(*batch))
                batch.clear()
        if batch:
            removed += int(await client.unlink(*batch))
        return removed

    async def close(self) -> None:
        """Close the Redis connections (no-op in memory)."""
        try:
            if self.backend_name == "redis":
                # aiocache's close() calls redis-py's deprecated close(); aclose()
                # also closes the pool (auto_close_connection_pool is set).
                await self._cache.client.aclose()
            else:
                await self._cache.close()
        except Exception as err:
            logger.warning("closing the LLM cache failed: {}", err)


def _redis(url: str) -> Any:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigError(f"redis.url must start with redis:// or rediss://, not {parts.scheme!r}")
    db = parts.path.strip("/") or "0"
    return RedisCache(
        serializer=JsonSerializer(),
        namespace="",
        endpoint=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        db=int(db),
        password=unquote(parts.password) if parts.password else None,
        ssl=parts.scheme == "rediss",
        create_connection_timeout=2.0,
        # aiocache has no username parameter; without it a Redis 6 ACL user
        # (redis://user:pass@host) would log in as "default" and be refused.
        connection_pool_kwargs={"username": unquote(parts.username)} if parts.username else None,
    )
