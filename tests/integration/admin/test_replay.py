"""A captured signed request is accepted once: not again after a restart, nor by another
instance that shares the secret (through Redis)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr

from libra.admin.auth import signed_headers
from tests.fakes.freezable_proxy import FreezableProxy

from .conftest import StartAdmin

DOC = "/api/openapi.json"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def _redis_reachable() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=0.5):
            return True
    except OSError:
        return False


@pytest_asyncio.fixture
async def redis_url() -> AsyncIterator[str]:
    if not _redis_reachable():
        reason = f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/15"


async def test_a_request_signed_before_the_server_started_is_refused(
        start_admin: StartAdmin) -> None:
    # Whatever this process remembers, it never saw requests made before it started:
    # one signed then may have been accepted by the previous run.
    h = await start_admin(auth_mode="hmac")
    old = signed_headers(h.secret, "GET", DOC, ts=int(time.time()) - 5)
    reply = await h.request("GET", DOC, headers=old, auth=False)
    assert (reply.status, reply.error) == (401, "timestamp_expired"), reply.body
    assert "started" in reply.json()["message"]
    assert (await h.request("GET", DOC)).status == 200  # freshly signed ones pass


async def test_a_request_replayed_after_a_restart_is_refused(start_admin: StartAdmin,
                                                             tmp_path: Path) -> None:
    h = await start_admin(auth_mode="hmac", data_dir=tmp_path)
    # Stamped a few seconds ahead (within the window), so that only the nonce, not the
    # start time, can tell the restarted server it was already used.
    captured = signed_headers(h.secret, "GET", DOC, ts=int(time.time()) + 5)
    assert (await h.request("GET", DOC, headers=captured, auth=False)).status == 200
    await h.stop()

    restarted = await start_admin(auth_mode="hmac", data_dir=tmp_path, port=h.port,
                                  secret=SecretStr(h.secret.decode()))
    replay = await restarted.request("GET", DOC, headers=captured, auth=False)
    assert (replay.status, replay.error) == (401, "nonce_replayed"), replay.body
    assert (await restarted.request("GET", DOC)).status == 200


@pytest.mark.redis
async def test_a_replay_to_another_instance_sharing_redis_is_refused(
        start_admin: StartAdmin, redis_url: str) -> None:
    first = await start_admin(auth_mode="hmac", redis_url=redis_url)
    secret = SecretStr(first.secret.decode())
    second = await start_admin(auth_mode="hmac", redis_url=redis_url, secret=secret)
    captured = signed_headers(first.secret, "GET", DOC)
    assert (await first.request("GET", DOC, headers=captured, auth=False)).status == 200

    replay = await second.request("GET", DOC, headers=captured, auth=False)
    assert (replay.status, replay.error) == (401, "nonce_replayed"), replay.body
    assert (await second.request("GET", DOC)).status == 200

    # Another deployment on the same Redis (its own secret) is not disturbed by ours.
    other = await start_admin(auth_mode="hmac", redis_url=redis_url)
    same_nonce = signed_headers(other.secret, "GET", DOC, nonce=captured["X-Nonce"])
    assert (await other.request("GET", DOC, headers=same_nonce, auth=False)).status == 200


@pytest.mark.redis
async def test_signed_requests_fail_closed_while_redis_is_dark(start_admin: StartAdmin,
                                                               redis_url: str) -> None:
    proxy = FreezableProxy(address=(REDIS_HOST, REDIS_PORT))
    port = await proxy.start()
    try:
        h = await start_admin(auth_mode="hmac", redis_url=f"redis://127.0.0.1:{port}/15")
        assert (await h.request("GET", DOC)).status == 200
        proxy.frozen.set()
        started = asyncio.get_running_loop().time()
        reply = await h.request("GET", DOC)
        took = asyncio.get_running_loop().time() - started
        assert (reply.status, reply.error) == (503, "nonce_store_unavailable"), reply.body
        assert took < h.settings.admin.request_timeout  # its own answer, not a 504
        # The liveness probe needs no nonce.
        assert (await h.request("GET", "/api/health", auth=False)).status == 200
    finally:
        proxy.thaw()
        await proxy.close()


def _documents(doc: dict[str, Any], method: str, path: str, status: int, code: str) -> bool:
    """Whether the OpenAPI document names ``code`` for this answer with the Error schema."""
    response = doc["paths"][path][method.lower()]["responses"].get(str(status))
    if response is None or code not in response["description"]:
        return False
    schema = response["content"]["application/json"]["schema"]
    return bool(schema == {"$ref": "#/components/schemas/Error"}
                or {"$ref": "#/components/schemas/Error"} in schema.get("oneOf", []))


@pytest.mark.redis
async def test_the_openapi_document_names_the_throttle_and_nonce_store_answers(
        start_admin: StartAdmin, redis_url: str) -> None:
    proxy = FreezableProxy(address=(REDIS_HOST, REDIS_PORT))
    port = await proxy.start()
    try:
        h = await start_admin(auth_mode="hmac", redis_url=f"redis://127.0.0.1:{port}/15",
                              failed_auth_limit=1)
        doc = (await h.request("GET", DOC)).json()
        secured = [(method.upper(), path) for path, ops in doc["paths"].items()
                   for method, op in ops.items() if op.get("security") != []]
        assert len(secured) == 4
        await h.request("GET", DOC, auth=False)  # the one failure the limit allows
        for method, path in secured:
            throttled = await h.request(method, path, auth=False)
            assert (throttled.status, throttled.error) == (429, "too_many_failures")
            response = doc["paths"][path][method.lower()]["responses"]["429"]
            assert "Retry-After" in response["headers"] and "Retry-After" in throttled.headers
            assert _documents(doc, method, path, 429, "too_many_failures"), path
            assert _documents(doc, method, path, 503, "nonce_store_unavailable"), path
        proxy.frozen.set()
        dark = await h.request("GET", "/api/health/ready")  # whose 503 is also a report
        assert (dark.status, dark.error) == (503, "nonce_store_unavailable")
    finally:
        proxy.thaw()
        await proxy.close()
