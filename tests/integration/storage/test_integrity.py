"""Constraints the schema enforces, surfaced as ``IntegrityViolation``."""

from __future__ import annotations

import pytest

from libra.errors import IntegrityViolation
from libra.storage.api import MemoryScope, Place, Role
from libra.storage.repositories import PgStorage


async def test_message_for_missing_user_is_rejected(storage: PgStorage) -> None:
    user = await storage.ensure_user(1)
    session = await storage.open_session(user.id, 10, None)
    with pytest.raises(IntegrityViolation, match="store message") as info:
        await storage.append_message(session_id=session, user_id=user.id + 999, channel_id=10,
                                     role=Role.USER, content="hi")
    assert info.value.code == "integrity_violation"
    assert await storage.recent_messages(session, 10) == []


async def test_session_for_missing_user_is_rejected(storage: PgStorage) -> None:
    with pytest.raises(IntegrityViolation):
        await storage.open_session(424242, 10, None)


async def test_bad_role_is_rejected(storage: PgStorage) -> None:
    user = await storage.ensure_user(1)
    session = await storage.open_session(user.id, 10, None)
    with pytest.raises(IntegrityViolation):
        await storage.append_message(session_id=session, user_id=user.id, channel_id=10,
                                     role="robot", content="beep")  # type: ignore[arg-type]


async def test_out_of_range_value_is_rejected(storage: PgStorage) -> None:
    with pytest.raises(IntegrityViolation, match="invalid value"):
        await storage.ensure_user(2**63)


async def test_deleting_a_user_cascades_to_everything_of_theirs(storage: PgStorage) -> None:
    gone = await storage.ensure_user(111)
    kept = await storage.ensure_user(222)
    for user in (gone, kept):
        session = await storage.open_session(user.id, 10, 5)
        await storage.append_message(session_id=session, user_id=user.id, channel_id=10,
                                     role=Role.USER, content="hello")
        await storage.add_memory(user.id, "likes tea", place=Place(MemoryScope.EVERYWHERE))
        await storage.record_translation(user_id=user.id, source_language="en",
                                         target_language="ko", source_text="hello",
                                         translated_text="안녕하세요", model="m")

    assert await storage.delete_user(111) is True
    assert await storage.delete_user(111) is False

    stats = await storage.usage_stats()
    assert (stats.users, stats.sessions, stats.messages, stats.memories,
            stats.translations) == (1, 1, 1, 1, 1)
    assert await storage.list_memories(gone.id) == []
    assert [m.content for m in await storage.list_memories(kept.id)] == ["likes tea"]
