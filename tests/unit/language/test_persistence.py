"""Channel state through the real ``PgStorage`` (embedded PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger

from libra.bus import EventBus
from libra.config import Settings
from libra.language.plugin import LanguagePlugin
from libra.language.service import ChannelLanguageService
from libra.language.state import ChannelStateStore
from libra.plugin import PluginManager
from libra.storage.db import Database
from libra.storage.repositories import PgStorage

pytestmark = pytest.mark.slow

KO = "오늘 저녁에 뭐 먹을까?"


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    seen: list[str] = []
    sink = logger.add(lambda message: seen.append(message.record["message"]), level="WARNING")
    yield seen
    logger.remove(sink)


async def test_channel_language_survives_a_restart(storage: PgStorage) -> None:
    first = ChannelLanguageService(Settings(), EventBus(), storage)
    for _ in range(2):
        await first.observe(7, KO)
    await first.pin(8, "fr")
    await first.close()  # writes what is pending
    saved = await storage.get_channel_language(7)
    assert saved is not None and saved.language == "ko"

    second = ChannelLanguageService(Settings(), EventBus(), storage)
    assert (await second.current(7)).language == "ko"
    pinned = await second.current(8)
    assert (pinned.language, pinned.pinned) == ("fr", True)


async def test_observe_reads_the_database_once_per_channel(storage: PgStorage) -> None:
    service = ChannelLanguageService(Settings(), EventBus(), storage)
    for text in (KO, KO, "ok", KO, KO):
        await service.observe(7, text)
    assert service.store.reads == 1


async def test_a_user_pin_saved_in_storage_decides_their_replies(storage: PgStorage) -> None:
    await storage.set_user_language(42, "ja")
    service = ChannelLanguageService(Settings(), EventBus(), storage)
    reply = await service.observe(7, "hello there, how are you?", user_id=42)
    assert (reply.language, reply.pinned) == ("ja", True)
    await service.pin_user(42, "auto")
    assert (await storage.ensure_user(42)).language is None


async def test_the_plugin_persists_in_the_background(storage: PgStorage) -> None:
    bus = EventBus()
    manager = PluginManager([LanguagePlugin(ChannelLanguageService(Settings(), bus, storage))],
                            Settings(), bus)
    await manager.start_all()
    plugin = manager.plugins[0]
    assert isinstance(plugin, LanguagePlugin) and plugin.service is not None
    for _ in range(2):
        await plugin.service.observe(9, "¿qué vamos a cenar esta noche?")
    await manager.stop_all()
    saved = await storage.get_channel_language(9)
    assert saved is not None and saved.language == "es"


async def test_a_failing_database_degrades_to_memory(
    database: Database, warnings: list[str],
) -> None:
    storage = PgStorage(database.pool)
    await database.close()  # every query now fails for real
    service = ChannelLanguageService(Settings(), EventBus(), storage)
    for _ in range(2):
        reply = await service.observe(7, KO)
    assert reply.language == "ko"
    await service.pin_user(42, "de")
    assert (await service.observe(7, KO, user_id=42)).language == "de"
    await service.close()
    assert not service.store.persistent
    assert len([w for w in warnings if "in memory" in w]) == 1  # once per outage


async def test_the_user_cache_forgets_expired_users(storage: PgStorage) -> None:
    now = [0.0]
    store = ChannelStateStore(storage, user_cache_seconds=60, clock=lambda: now[0],
                              max_cached_users=3)
    for user in range(3):
        await store.user_language(user)
    now[0] = 61.0
    for user in range(10, 20):
        await store.user_language(user)
        now[0] += 61.0
    assert len(store._users) <= 3  # memory must stay bounded
    await storage.set_user_language(15, "ja")
    assert await store.user_language(15) == "ja"
