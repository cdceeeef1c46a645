"""Malformed HTTP on the admin port: one short warning, not a traceback per request."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from libra.admin.server import MAX_CONNECTIONS

from .conftest import StartAdmin

MARKER = "CLIENTBYTESxyz"


async def test_malformed_requests_log_one_short_warning(
    start_admin: StartAdmin, caplog: pytest.LogCaptureFixture,
) -> None:
    # Anyone who can reach the port can send these, before any authentication: each
    # one logged at ERROR with a traceback quoting the client's bytes floods the log.
    h = await start_admin()
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    heads = [
        f"GET /api/health/live HTTP/1.1\r\nHost: x\r\nno colon {MARKER}\r\n\r\n",
        f"GET /api/health/live HTTP/1.1\r\nHost: x\r\nX-Big: {MARKER}{'a' * 9000}\r\n\r\n",
        f"GET /{MARKER} HTTP/9.9x\r\nHost: x\r\n\r\n",
    ] * 4
    for head in heads:
        reply = await h.raw(head)
        assert reply.status == 400
    records = [r for r in caplog.records if r.name.startswith("aiohttp")]
    assert not [r for r in records if r.exc_info], "a traceback was logged"
    assert not [r for r in records if r.levelno >= logging.ERROR]
    assert not [r for r in records if MARKER in r.getMessage()]
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert 1 <= len(warnings) <= 2, [r.getMessage() for r in warnings]
    assert "malformed HTTP" in warnings[0].getMessage()


MALFORMED = [
    pytest.param(f"GET /api/health HTTP/1.1\r\nHost: x\r\nno colon {MARKER}\r\n\r\n",
                 id="header without a colon"),
    pytest.param(f"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: {MARKER}{'a' * 9000}\r\n\r\n",
                 id="header over the size limit"),
    pytest.param(f"GET /{MARKER} HTTP/9.9x\r\nHost: x\r\n\r\n", id="bad HTTP version"),
    pytest.param(f"G\x01T /{MARKER} HTTP/1.1\r\nHost: x\r\n\r\n", id="bad method"),
    pytest.param(f"POST /api/cache/flush HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                 f"Transfer-Encoding: chunked\r\nX-M: {MARKER}\r\n\r\n",
                 id="length and chunked"),
    pytest.param(f"POST /api/cache/flush HTTP/1.1\r\nHost: x\r\nContent-Length: 9{MARKER}\r\n\r\n",
                 id="bad content length"),
]


@pytest.mark.parametrize("head", MALFORMED)
async def test_malformed_requests_get_the_hardened_json_answer(start_admin: StartAdmin,
                                                              head: str) -> None:
    # aiohttp answers these itself, before any middleware or signal runs: the answer
    # must still carry the security headers, name no server software and echo nothing.
    h = await start_admin()
    reply = await h.raw(head)
    assert reply.status == 400
    assert reply.headers["Server"] == "libra-admin"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json() == {"error": "request_malformed",
                            "message": "the request is not valid HTTP/1.1"}
    assert MARKER.encode() not in reply.body


@pytest.mark.parametrize("path", ["/api/cache/flush", "/nowhere"])
async def test_a_body_refused_unread_logs_no_traceback(start_admin: StartAdmin,
                                                       caplog: pytest.LogCaptureFixture,
                                                       path: str) -> None:
    # A request refused before its body is read (no credential, no such route): aiohttp
    # drains the body afterwards, and one that is not the gzip it claims was logged at
    # ERROR with a traceback each time, by anyone who reaches the port.
    h = await start_admin()
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    body = f"not gzip {MARKER}".encode()
    for _ in range(4):
        reply = await h.raw(f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                            f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n",
                            body)
        assert reply.status in (401, 404)
        assert reply.headers["Server"] == "libra-admin"
    records = [r for r in caplog.records if r.name.startswith("aiohttp")]
    assert not [r for r in records if r.exc_info], "a traceback was logged"
    assert not [r for r in records if r.levelno >= logging.ERROR]
    assert not [r for r in records if MARKER in r.getMessage()]
    assert len([r for r in records if r.levelno == logging.WARNING]) <= 1


async def test_a_crowd_of_idle_connections_is_turned_away(start_admin: StartAdmin) -> None:
    # Connections that send nothing are kept until the keep-alive timeout (15 s). With
    # no cap, one client opening thousands of them used up the process's file
    # descriptors, and with them Libra's connections to Discord, PostgreSQL and Redis.
    h = await start_admin()
    opened = []
    try:
        for _ in range(MAX_CONNECTIONS + 50):
            opened.append(await asyncio.open_connection("127.0.0.1", h.port))
        # The last ones are closed at once; kept, they would outlast this wait.
        ends = await asyncio.wait_for(
            asyncio.gather(*(reader.read() for reader, _ in opened[-50:])), 5)
        assert ends == [b""] * 50
    finally:
        for _, writer in opened:
            writer.close()
    async with asyncio.timeout(10):  # once the crowd is gone, the port serves again
        while True:
            try:
                if (await h.request("GET", "/api/health", auth=False)).status == 200:
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
