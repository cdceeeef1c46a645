"""Malformed HTTP on the admin port: one short warning, not a traceback per request."""

from __future__ import annotations

import logging

import pytest

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
