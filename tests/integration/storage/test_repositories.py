"""Round trips through ``PgStorage`` and the storage plugin."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr

from libra.bus import EventBus
from libra.config import AppSettings, DatabaseSettings, Settings
from libra.events import HandlerFailed, LLMCallFinished
from libra.health import HealthRegistry, Status
from libra.plugin import PluginContext
from libra.storage.api import (
    ChannelLanguageState,
    MemoryScope,
    MessageStatus,
    Place,
    Role,
)
from libra.storage.plugin import StoragePlugin
from libra.storage.repositories import PgStorage
from libra.tasks import TaskGroup


async def test_users_are_created_once_and_keep_their_language(storage: PgStorage) -> None:
    first = await storage.ensure_user(2**62)
    again = await storage.ensure_user(2**62)
    assert first == again and first.discord_id == 2**62 and first.language is None
    await storage.set_user_language(2**62, "ko")
    assert (await storage.ensure_user(2**62)).language == "ko"
    await storage.set_user_language(2**62, None)
    assert (await storage.ensure_user(2**62)).language is None


async def test_concurrent_first_sight_makes_one_user(storage: PgStorage) -> None:
    users = await asyncio.gather(*(storage.ensure_user(77) for _ in range(8)))
    assert len({u.id for u in users}) == 1


async def test_session_is_reused_until_reset(storage: PgStorage) -> None:
    user = await storage.ensure_user(1)
    first = await storage.open_session(user.id, 10, 5)
    assert await storage.open_session(user.id, 10, 5) == first
    other_channel = await storage.open_session(user.id, 11, 5)
    assert other_channel != first

    assert await storage.end_session(user.id, 10) is True
    assert await storage.end_session(user.id, 10) is False
    fresh = await storage.open_session(user.id, 10, 5)
    assert fresh not in (first, other_channel)
    assert await storage.open_session(user.id, 11, 5) == other_channel


async def test_concurrent_opens_share_one_session(storage: PgStorage) -> None:
    user = await storage.ensure_user(1)
    ids = await asyncio.gather(*(storage.open_session(user.id, 10, None) for _ in range(8)))
    assert len(set(ids)) == 1


async def test_recent_messages_are_the_last_n_oldest_first(storage: PgStorage) -> None:
    user = await storage.ensure_user(1)
    session = await storage.open_session(user.id, 10, None)
    other = await storage.open_session(user.id, 11, None)
    for i in range(30):
        role = Role.USER if i % 2 == 0 else Role.ASSISTANT
        await storage.append_message(session_id=session, user_id=user.id, channel_id=10,
                                     role=role, content=f"m{i}", language="en")
    await storage.append_message(session_id=other, user_id=user.id, channel_id=11,
                                 role=Role.USER, content="elsewhere")
    cut = await storage.append_message(
        session_id=session, user_id=user.id, channel_id=10, role=Role.ASSISTANT,
        content="partial", model="llama3", prompt_tokens=12, completion_tokens=3,
        latency_ms=812.5, status=MessageStatus.CUT)

    recent = await storage.recent_messages(session, 5)
    assert [m.content for m in recent] == ["m26", "m27", "m28", "m29", "partial"]
    assert recent[-1].id == cut and recent[-1].status is MessageStatus.CUT
    assert recent[-1].model == "llama3" and recent[0].role is Role.USER
    assert len(await storage.recent_messages(session, 100)) == 31
    assert await storage.recent_messages(session, 0) == []


async def test_memories_add_list_forget(storage: PgStorage) -> None:
    user = await storage.ensure_user(1)
    stranger = await storage.ensure_user(2)
    tea = await storage.add_memory(user.id, "likes tea", place=Place(MemoryScope.DM),
                                   metadata={"source": "chat", "n": 1})
    await storage.add_memory(user.id, "lives in Seoul", place=Place(MemoryScope.GUILD, 77))
    await storage.add_memory(stranger.id, "not yours", place=Place(MemoryScope.EVERYWHERE))

    listed = await storage.list_memories(user.id)
    assert [m.content for m in listed] == ["likes tea", "lives in Seoul"]
    assert listed[0].metadata == {"source": "chat", "n": 1} and listed[0] == tea
    assert listed[0].scope is MemoryScope.DM and listed[0].guild_id is None
    assert listed[1].scope is MemoryScope.GUILD and listed[1].guild_id == 77
    assert listed[1].metadata == {}

    assert await storage.forget_memories(user.id, tea.id) == 1
    assert await storage.forget_memories(stranger.id, listed[1].id) == 0
    assert [m.content for m in await storage.list_memories(user.id)] == ["lives in Seoul"]
    assert await storage.forget_memories(user.id) == 1
    assert await storage.list_memories(user.id) == []
    assert len(await storage.list_memories(stranger.id)) == 1


async def test_a_memory_with_nul_and_a_lone_surrogate_is_stored_cleaned_in_any_place(
    storage: PgStorage,
) -> None:
    # PostgreSQL text refuses U+0000 and no driver encodes a lone surrogate: storage
    # cleans what it writes, whichever way the text came in.
    user = await storage.ensure_user(1)
    for place in (Place(MemoryScope.EVERYWHERE), Place(MemoryScope.GUILD, 77)):
        stored = await storage.add_memory(user.id, "tea\x00 \ud83c time", place=place)
        assert stored.content == "tea \ufffd time" and stored.scope is place.scope
    assert [m.content for m in await storage.list_memories(user.id)] == ["tea \ufffd time"] * 2


async def test_channel_language_upsert(storage: PgStorage) -> None:
    channel = 2**60
    assert await storage.get_channel_language(channel) is None
    state = ChannelLanguageState(channel_id=channel, language="en", candidate="ko",
                                 candidate_count=1)
    await storage.save_channel_language(state)
    assert await storage.get_channel_language(channel) == state
    switched = ChannelLanguageState(channel_id=channel, language="ko", pinned_language="ko")
    await storage.save_channel_language(switched)
    assert await storage.get_channel_language(channel) == switched


async def test_llm_calls_recorded_from_events_through_the_plugin(
    pg_url: str, tmp_path: Path
) -> None:
    settings = Settings(app=AppSettings(data_dir=tmp_path),
                        database=DatabaseSettings(url=SecretStr(pg_url)))
    bus = EventBus()
    health = HealthRegistry()
    failures: list[HandlerFailed] = []

    async def on_failure(event: HandlerFailed) -> None:
        failures.append(event)

    bus.subscribe(HandlerFailed, on_failure, name="test.failures")
    plugin = StoragePlugin(settings, health=health)
    await plugin.start(PluginContext(settings, bus, TaskGroup("storage")))
    try:
        storage = plugin.stores
        assert plugin.database is not None and plugin.database.is_embedded is False
        checks = {c.name: c for c in await health.run()}
        assert checks["database"].status is Status.OK
        assert checks["migrations"].status is Status.OK

        await bus.emit(LLMCallFinished(model="qwen2.5:7b-instruct", language="ko",
                                       prompt_tokens=120, completion_tokens=48,
                                       first_token_ms=210.0, latency_ms=1500.0,
                                       cache_hit=False))
        await bus.emit(LLMCallFinished(model="llama3", language="en", prompt_tokens=10,
                                       completion_tokens=0, first_token_ms=None,
                                       latency_ms=30.0, cache_hit=False,
                                       error_code="llm_timeout"))
        # A row the database refuses is logged, never raised into the bus.
        await bus.emit(LLMCallFinished(model="bad", language=None, prompt_tokens=-1,
                                       completion_tokens=0, first_token_ms=None,
                                       latency_ms=1.0, cache_hit=True))
        stats = await storage.usage_stats()
        assert (stats.llm_calls, stats.llm_errors, stats.llm_cache_hits) == (2, 1, 0)
        assert stats.llm_latency_p50_ms == 765.0
        assert (await storage.usage_stats(since_seconds=3600)).llm_calls == 2
        assert failures == []
    finally:
        await plugin.stop()
        await plugin.stop()
    assert plugin.database is None
    assert {c.name for c in await health.run()} == set()
    await bus.emit(LLMCallFinished(model="after", language=None, prompt_tokens=1,
                                   completion_tokens=1, first_token_ms=None, latency_ms=1.0,
                                   cache_hit=False))
    assert failures == []


async def test_pending_migrations_make_the_health_check_degraded(
    pg_url: str, tmp_path: Path
) -> None:
    settings = Settings(app=AppSettings(data_dir=tmp_path),
                        database=DatabaseSettings(url=SecretStr(pg_url), migrate_on_start=False))
    health = HealthRegistry()
    plugin = StoragePlugin(settings, health=health)
    await plugin.start(PluginContext(settings, EventBus(), TaskGroup("storage")))
    try:
        checks = {c.name: c for c in await health.run()}
        assert checks["database"].status is Status.OK
        migrations = checks["migrations"]
        assert migrations.status is Status.DEGRADED
        assert "0001_schema" in migrations.detail and migrations.fix == "run `libra migrate`"
    finally:
        await plugin.stop()
