"""Fixtures for whole-process integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fakes.fake_openai import FakeOpenAI


@pytest_asyncio.fixture
async def fake_openai_for_redaction() -> AsyncIterator[FakeOpenAI]:
    """An OpenAI-compatible fake that rejects every request with 401."""
    server = FakeOpenAI()
    server.fail_status = 401
    server.fail_message = "invalid api key"
    await server.start()
    yield server
    await server.stop()
