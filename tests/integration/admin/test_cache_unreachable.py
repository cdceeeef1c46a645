"""Flushing the LLM cache while its Redis is down: a clear 503 and a notice, not a 500."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from libra.config import RedisSettings

from .harness import AdminHarness, admin_settings, free_port, start_harness
from .test_operator_page import HASH, _get, _post, _sign_in


# Simple mode: in HMAC mode the nonces live in that Redis too, and signed requests are
# refused before the flush is tried (test_replay.py).
@pytest.fixture
async def redis_down() -> AsyncIterator[AdminHarness]:
    settings = admin_settings(operator_password_hashes={"ops": HASH}, auth_mode="simple")
    # Nothing listens on this port: every Redis command is refused.
    settings = settings.model_copy(update={
        "redis": RedisSettings.model_validate({"url": f"redis://127.0.0.1:{free_port()}/0"})})
    h = await start_harness(settings, ("llm",))
    yield h
    await h.stop()


async def test_api_flush_with_redis_down_is_503_naming_the_cache(
    redis_down: AdminHarness,
) -> None:
    reply = await redis_down.request("POST", "/api/cache/flush")
    assert (reply.status, reply.error) == (503, "cache_unavailable"), reply.body
    assert "Redis" in reply.json()["message"]


async def test_operator_flush_with_redis_down_shows_a_notice(redis_down: AdminHarness) -> None:
    session, csrf = await _sign_in(redis_down)
    flushed = await _post(redis_down, "/admin/flush", {"csrf": csrf}, session)
    assert flushed.status == 303, flushed.body
    page = await _get(redis_down, flushed.headers["Location"], session)
    assert "could not be flushed" in page.body.decode()


async def test_api_flush_with_a_dark_redis_host_answers_before_the_request_timeout() -> None:
    held: list[asyncio.StreamWriter] = []

    async def never_answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepts, then stays silent like a host that went dark

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = admin_settings(auth_mode="simple").model_copy(update={
        "redis": RedisSettings.model_validate({"url": f"redis://127.0.0.1:{port}/0"})})
    h = await start_harness(settings, ("llm",))
    try:
        started = time.monotonic()
        reply = await h.request("POST", "/api/cache/flush")
        took = time.monotonic() - started
    finally:
        await h.stop()
        for writer in held:
            writer.close()
        server.close()
    assert (reply.status, reply.error) == (503, "cache_unavailable"), reply.body
    assert took < 9  # the admin request timeout (10 s) would have answered 504
