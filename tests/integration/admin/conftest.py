"""Fixtures: start the admin port of a real app; everything is stopped after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from libra.admin.api import TranslationStatsSource
from libra.storage.api import UsageStats

from .harness import AdminHarness, admin_settings, start_harness

StartAdmin = Callable[..., Awaitable[AdminHarness]]


@pytest.fixture
async def start_admin(tmp_path_factory: pytest.TempPathFactory
                      ) -> AsyncIterator[StartAdmin]:
    """``await start_admin(auth_mode="simple", parts=("llm",), **admin_settings)``.

    Each server keeps its state in a fresh temporary folder unless ``data_dir`` is given
    (two servers given the same folder share it, like two runs of one install).
    """
    started: list[AdminHarness] = []

    async def start(parts: tuple[str, ...] = (), usage: UsageStats | None = None,
                    translations: TranslationStatsSource | None = None,
                    **admin: Any) -> AdminHarness:
        admin.setdefault("data_dir", tmp_path_factory.mktemp("admin"))
        harness = await start_harness(admin_settings(**admin), parts, usage=usage,
                                      translations=translations)
        started.append(harness)
        return harness

    yield start
    for harness in reversed(started):
        await harness.stop()
