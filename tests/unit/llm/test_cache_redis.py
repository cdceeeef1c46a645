"""The Redis cache: ACL users in the URL, and a Redis that does not answer."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from libra.llm.api import ChatMessage, LLMRequest
from libra.llm.cache import CachedAnswer, ResponseCache, cache_key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest_asyncio.fixture
async def acl_redis() -> AsyncIterator[int]:
    """A private redis-server whose only user is ``libra`` (the default user is off)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--user", "default", "off", "--user", "libra", "on", ">s3cret", "~*", "+@all",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(10):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                break
        yield port
    finally:
        proc.terminate()
        await proc.wait()


@pytest.mark.redis
async def test_a_username_in_redis_url_is_used(acl_redis: int) -> None:
    cache = ResponseCache(ttl=300, redis_url=f"redis://libra:s3cret@127.0.0.1:{acl_redis}/0")
    request = LLMRequest(model="m:1", messages=(ChatMessage(role="user", content="hi"),))
    try:
        await cache.set(cache_key(request), CachedAnswer(text="cached answer"))
        hit = await cache.get(cache_key(request))
        assert hit is not None and hit.text == "cached answer"
    finally:
        await cache.close()


async def test_an_unanswering_redis_delays_only_the_first_request() -> None:
    # A Redis host that drops packets: each operation would wait for the connect
    # timeout, adding seconds before and after every answer while it is down.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = int(server.getsockname()[1])
    held = []
    for _ in range(4):  # fill the listen queue so new connections never complete
        client = socket.socket()
        client.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            client.connect(("127.0.0.1", port))
        held.append(client)
    cache = ResponseCache(ttl=300, redis_url=f"redis://127.0.0.1:{port}/0")
    request = LLMRequest(model="m:1", messages=(ChatMessage(role="user", content="hi"),))
    key = cache_key(request)
    loop = asyncio.get_running_loop()
    try:
        assert await cache.get(key) is None  # pays the connect timeout once
        started = loop.time()
        assert await cache.get(key) is None
        await cache.set(key, CachedAnswer(text="x"))
        assert loop.time() - started < 0.5
    finally:
        await cache.close()
        for client in held:
            client.close()
        server.close()
