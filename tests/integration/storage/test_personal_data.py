"""What belongs to a user: every table pointing at ``users`` is exported and cascades."""

from __future__ import annotations

from libra.chat.privacy import export_document
from libra.storage.api import LLMCallRecord, MemoryScope, Place, Role
from libra.storage.db import Database
from libra.storage.personal import OWNED_TABLES
from libra.storage.repositories import PgStorage
from libra.translate.links import PostSource
from libra.translate.links_store import PgLinkStore


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


async def test_linked_channel_mappings_are_exported_and_erased_with_their_author(
    storage: PgStorage, database: Database,
) -> None:
    # Keyed by Discord id: a message is mapped whether or not its author ever spoke
    # to Libra, so both a known user (carol) and one without a users row (dave) count.
    carol, dave, erin = 2**62 + 11, 2**62 + 12, 2**62 + 13
    await storage.ensure_user(carol)
    links = PgLinkStore(lambda: database)
    group = await links.link(77, 1001, "en", to=1002, to_language="ko", by=None)
    for n, author in enumerate((carol, carol, dave, erin)):
        await links.add_post(group_id=group.id, source_channel_id=1001, target_channel_id=1002,
                             target_message_id=5000 + n, webhook_id=None, languages=["ko"],
                             sources=[PostSource(message_id=4000 + n, author_id=author,
                                                 text=f"message {n} of {author}")])

    # A post combining two authors' lines (a backlog): erin's line outlives carol's.
    await links.add_post(group_id=group.id, source_channel_id=1001, target_channel_id=1002,
                         target_message_id=5009, webhook_id=None, languages=["ko"],
                         combined=True, sources=[
                             PostSource(message_id=4008, author_id=carol, text="carol's line",
                                        author_name="carol", translations={"ko": "캐롤"}),
                             PostSource(message_id=4009, author_id=erin, text="erin's line",
                                        author_name="erin", translations={"ko": "에린"})])

    data = await storage.export_user(carol)
    assert data is not None
    posts = data.linked_channel_posts
    assert [p["source_text"] for p in posts] == [f"message 0 of {carol}",
                                                  f"message 1 of {carol}", "carol's line"]
    assert posts[0]["source_message_id"] == "4000"  # ids as strings, like the others
    assert posts[0]["target_channel_id"] == "1002" and posts[0]["target_message_id"] == "5000"
    document = export_document(carol, data)
    assert [p["source_text"] for p in document["linked_channel_posts"]] == [
        f"message 0 of {carol}", f"message 1 of {carol}", "carol's line"]
    unknown = await storage.export_user(dave)
    assert unknown is not None and len(unknown.linked_channel_posts) == 1

    assert await storage.delete_user(carol) is True
    assert await storage.delete_user(dave) is True
    assert await storage.export_user(carol) is None and await storage.export_user(dave) is None
    assert await links.posts_of(4000) == [] and await links.posts_of(4002) == []
    assert [p.sources[0].author_id for p in await links.posts_of(4003)] == [erin]
    assert await links.posts_of(4008) == []
    [shared] = await links.posts_of(4009)
    assert [(s.author_name, s.translations) for s in shared.sources] == [("erin", {"ko": "에린"})]
    assert await database.pool.fetchval(
        "SELECT count(*) FROM translation_post_sources WHERE author_id = ANY($1::bigint[])",
        [carol, dave]) == 0
