"""Pytest fixtures for the fake LLM servers, reusable by any test package.

``tests/conftest.py`` loads this module as a pytest plugin, so every test can ask
for these fixtures by name.

Fixtures:

- ``fake_ollama``: a started :class:`~tests.fakes.fake_ollama.FakeOllama` on a free
  loopback port (``.url``), answering instantly with a short English answer.
  Change its knobs in the test (``answers``, ``tokens_per_second``,
  ``first_token_delay``, ``models``, ``fail_status``, ``disconnect_after``) and
  read what it saw (``requests``, ``disconnects``, ``loaded``).
- ``fake_ollama_factory``: ``await fake_ollama_factory(**kwargs)`` starts more
  (e.g. two servers for failover); all are stopped after the test.
- ``fake_openai``: the same for an OpenAI-compatible server (SSE, ``/v1/models``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from tests.fakes.fake_llm_base import FakeLLMServer
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_openai import FakeOpenAI

FakeOllamaFactory = Callable[..., Awaitable[FakeOllama]]


@pytest_asyncio.fixture
async def fake_ollama_factory() -> AsyncIterator[FakeOllamaFactory]:
    """Start any number of fake Ollama servers; stop them all afterwards."""
    started: list[FakeLLMServer] = []

    async def make(**kwargs: Any) -> FakeOllama:
        server = FakeOllama(**kwargs)
        await server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        await server.stop()


@pytest_asyncio.fixture
async def fake_ollama(fake_ollama_factory: FakeOllamaFactory) -> FakeOllama:
    """One started fake Ollama server."""
    return await fake_ollama_factory()


@pytest_asyncio.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """One started fake OpenAI-compatible server."""
    server = FakeOpenAI()
    await server.start()
    yield server
    await server.stop()
