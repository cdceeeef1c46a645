"""Channel language state is written once the database answers again."""

from __future__ import annotations

import pytest

from libra.bus import EventBus
from libra.config import Settings
from libra.language.service import ChannelLanguageService
from libra.language.state import ChannelStateStore
from libra.storage.db import Database
from libra.storage.repositories import PgStorage

pytestmark = pytest.mark.slow


async def test_a_pin_whose_write_failed_is_written_when_the_database_is_back(
    database: Database,
) -> None:
    # The language health check promises "state is saved again once it answers":
    # a moderator's /lang pin during a database blip must survive the next restart.
    storage = PgStorage(database.pool)
    service = ChannelLanguageService(Settings(), EventBus(), storage)
    await service.current(8)  # loaded while the database answers
    await database.pool.execute("ALTER TABLE channel_settings RENAME TO channel_settings_away")
    await service.pin(8, "fr")
    await service.store.flush()  # what the background flusher does: it fails
    assert not service.store.persistent
    await database.pool.execute("ALTER TABLE channel_settings_away RENAME TO channel_settings")
    await service.close()
    saved = await storage.get_channel_language(8)
    assert saved is not None and saved.pinned_language == "fr"


async def test_a_user_pin_whose_write_failed_does_not_revert(database: Database) -> None:
    # /lang me during a database blip: the pin must not silently fall back to the
    # old one when the in-memory cache expires, and it must reach the database.
    storage = PgStorage(database.pool)
    await storage.set_user_language(42, "ja")
    now = [0.0]
    store = ChannelStateStore(storage, user_cache_seconds=60, clock=lambda: now[0])
    await database.pool.execute("ALTER TABLE users RENAME TO users_away")
    await store.set_user_language(42, "de")
    await database.pool.execute("ALTER TABLE users_away RENAME TO users")
    now[0] = 61.0  # the cached pin expired
    assert await store.user_language(42) == "de"
    await store.flush()
    assert (await storage.ensure_user(42)).language == "de"
