"""Response cache: keys, hit/miss, TTL and namespace-safe flushes (memory and Redis)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from libra.llm.api import ChatMessage, LLMRequest
from libra.llm.cache import (
    FLUSH_TIMEOUT,
    CachedAnswer,
    CacheUnavailable,
    ResponseCache,
    cache_key,
)
from tests.fakes.freezable_proxy import FreezableProxy

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def redis_reachable() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=0.5):
            return True
    except OSError:
        return False


def req(text: str, *, model: str = "m:1", role: str = "user", language: str | None = "en",
        **options: object) -> LLMRequest:
    return LLMRequest(model=model, language=language, options=dict(options),
                      messages=(ChatMessage(role=role, content=text),))  # type: ignore[arg-type]


def test_key_ignores_whitespace_but_not_meaning() -> None:
    base = cache_key(req("What is  the\ncapital?"))
    assert cache_key(req("  What is the capital? ")) == base
    assert cache_key(req("What is the capital?!")) != base
    assert cache_key(req("What is the capital?", role="system")) != base
    assert cache_key(req("What is the capital?", model="m:2")) != base
    assert cache_key(req("What is the capital?", language="ko")) != base
    assert cache_key(req("What is the capital?", temperature=0.1)) != base


def test_key_is_namespaced_by_model_without_prefix_clashes() -> None:
    assert cache_key(req("x", model="llama3")).startswith("libra:llm:llama3:")
    assert not cache_key(req("x", model="llama3:8b")).startswith("libra:llm:llama3:")


@pytest_asyncio.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[ResponseCache]:
    if request.param == "redis":
        if not redis_reachable():
            reason = f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}"
            print(f"SKIP: {reason}")
            pytest.skip(reason)
        made = ResponseCache(ttl=300, redis_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/15")
    else:
        made = ResponseCache(ttl=300)
    await made.flush()
    yield made
    await made.flush()
    await made.close()


async def test_miss_then_hit(cache: ResponseCache) -> None:
    key = cache_key(req(f"question {uuid.uuid4()}"))
    assert await cache.get(key) is None
    await cache.set(key, CachedAnswer(text="Paris.", prompt_tokens=5, completion_tokens=2))
    assert await cache.get(key) == CachedAnswer(text="Paris.", prompt_tokens=5,
                                                completion_tokens=2)


async def test_entries_expire_after_the_ttl(cache: ResponseCache) -> None:
    cache.ttl = 0.2
    key = cache_key(req("short lived"))
    await cache.set(key, CachedAnswer(text="soon gone"))
    assert await cache.get(key) is not None
    await asyncio.sleep(0.35)
    assert await cache.get(key) is None


async def test_ttl_zero_disables_the_cache(cache: ResponseCache) -> None:
    cache.ttl = 0
    key = cache_key(req("never stored"))
    await cache.set(key, CachedAnswer(text="x"))
    cache.ttl = 300
    assert await cache.get(key) is None


async def test_flush_one_model_keeps_the_others(cache: ResponseCache) -> None:
    keys = {m: cache_key(req("same prompt", model=m)) for m in ("llama3", "llama3:8b", "qwen")}
    for key in keys.values():
        await cache.set(key, CachedAnswer(text="a"))
    assert await cache.flush("llama3") == 1
    assert await cache.get(keys["llama3"]) is None
    assert await cache.get(keys["llama3:8b"]) is not None
    assert await cache.get(keys["qwen"]) is not None
    assert await cache.flush() == 2
    assert await cache.get(keys["qwen"]) is None


@pytest.mark.redis
async def test_flush_leaves_foreign_redis_keys_alone() -> None:
    if not redis_reachable():
        reason = f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    import redis.asyncio as aioredis

    client = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=15)
    foreign = [f"other-app:{uuid.uuid4()}", f"libra:llmx:{uuid.uuid4()}", f"libra:{uuid.uuid4()}"]
    cache = ResponseCache(ttl=300, redis_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/15")
    try:
        for name in foreign:
            await client.set(name, "keep me", ex=60)
        await cache.set(cache_key(req("cached")), CachedAnswer(text="x"))
        assert await cache.flush() >= 1
        for name in foreign:
            assert await client.get(name) == b"keep me", name
    finally:
        await client.delete(*foreign)
        await client.aclose()
        await cache.close()


@pytest.mark.redis
async def test_a_flush_on_a_redis_host_that_went_dark_fails_in_time() -> None:
    if not redis_reachable():
        reason = f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    proxy = FreezableProxy(address=(REDIS_HOST, REDIS_PORT))
    port = await proxy.start()
    cache = ResponseCache(ttl=300, redis_url=f"redis://127.0.0.1:{port}/15")
    try:
        await cache.set(cache_key(req("cached")), CachedAnswer(text="x"))  # a live connection
        proxy.frozen.set()
        started = asyncio.get_running_loop().time()
        with pytest.raises(CacheUnavailable):
            await asyncio.wait_for(cache.flush(), 20)
        took = asyncio.get_running_loop().time() - started
    finally:
        proxy.thaw()
        await cache.close()
        await proxy.close()
    assert took < FLUSH_TIMEOUT + 2  # before the admin request timeout (10 s) answers 504


async def test_unreachable_redis_costs_only_a_miss() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cache = ResponseCache(ttl=300, redis_url=f"redis://127.0.0.1:{port}/0")
    key = cache_key(req("anything"))
    await cache.set(key, CachedAnswer(text="x"))  # logged, not raised
    assert await cache.get(key) is None
    await cache.close()
