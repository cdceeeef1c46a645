"""What belongs to a user: every table pointing at ``users`` is exported and cascades."""

from __future__ import annotations

from libra.storage.api import LLMCallRecord, MemoryScope, Place, Role
from libra.storage.db import Database
from libra.storage.personal import OWNED_TABLES
from libra.storage.repositories import PgStorage


async def test_every_table_pointing_at_users_is_exported_and_deleted_with_them(
    database: Database,
) -> None:
    # A later migration that adds per-user rows must also add them to the export.
    rows = await database.pool.fetch(
        "SELECT c.conrelid::regclass::text AS source, c.confdeltype::text AS on_delete "
        "FROM pg_constraint c WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass")
    assert {row["source"] for row in rows} == set(OWNED_TABLES)
    assert {row["on_delete"] for row in rows} == {"c"}  # ON DELETE CASCADE


async def test_export_has_every_row_of_the_user_and_none_of_anyone_else(
    storage: PgStorage, database: Database,
) -> None:
    alice_id, bob_id = 2**62 + 1, 2**62 + 2  # snowflake-sized: past what JSON numbers keep
    for discord_id in (alice_id, bob_id):
        user = await storage.ensure_user(discord_id)
        session = await storage.open_session(user.id, 10 + discord_id % 10, 2**61)
        await storage.append_message(session_id=session, user_id=user.id,
                                     channel_id=10 + discord_id % 10, role=Role.USER,
                                     content=f"hello from {discord_id}")
        await storage.add_memory(user.id, f"memory of {discord_id}",
                                 place=Place(MemoryScope.EVERYWHERE))
        await storage.record_translation(user_id=user.id, source_language="en",
                                         target_language="ko", source_text="hi",
                                         translated_text="안녕", model="m")
        await storage.record_llm_call(LLMCallRecord(
            model="m", language="en", prompt_tokens=1, completion_tokens=1,
            first_token_ms=None, latency_ms=1.0, cache_hit=False, error_code=None,
            user_id=discord_id))

    data = await storage.export_user(alice_id)

    assert data is not None
    assert data.user["discord_id"] == str(alice_id)
    assert [m["content"] for m in data.messages] == [f"hello from {alice_id}"]
    assert data.sessions[0]["guild_id"] == str(2**61)
    assert [m["content"] for m in data.memories] == [f"memory of {alice_id}"]
    assert len(data.translations) == 1 and len(data.llm_calls) == 1
    assert str(bob_id) not in repr(data)
    assert await storage.export_user(12345) is None
    assert await storage.delete_user(alice_id) is True
    assert await storage.export_user(alice_id) is None
    assert await database.pool.fetchval("SELECT count(*) FROM llm_calls") == 1
