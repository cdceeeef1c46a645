"""The :class:`~libra.translate.links.LinkStore` on PostgreSQL (tables of migrations 0007, 0008).

Reads the open database from the storage plugin at each call (``database()``), like
the usage statistics do: while the database is down every call raises
``DatabaseUnavailable`` and the relay carries on without mappings. Single statements
go through the guarded pool (bounded, breaker-aware); the few multi-statement changes
(linking) run in one transaction bounded by ``query_timeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import asyncpg

from libra.errors import DatabaseUnavailable, StorageError
from libra.storage.db import Database
from libra.translate.links import (
    GroupChannel,
    GroupKind,
    LinkInvalid,
    PostSource,
    RelayPost,
    TranslationGroup,
)

T = TypeVar("T")

_GROUPS = """
SELECT g.id, g.guild_id, g.kind, c.channel_id, c.languages
FROM translation_groups g JOIN translation_channels c ON c.group_id = g.id
ORDER BY g.id, c.created_at, c.channel_id
"""

_ADD_POST = """
WITH post AS (
    INSERT INTO translation_posts (group_id, source_channel_id, target_channel_id,
                                   target_message_id, webhook_id, languages, author_name,
                                   reply_to_id, combined)
    VALUES ($1, $2, $3, $4, $5, $6, $10, $11, $16) RETURNING id
), sources AS (
    INSERT INTO translation_post_sources (post_id, source_message_id, position, author_id,
                                          source_text, author_name, source_channel_id,
                                          reply_to_id, translations)
    SELECT post.id, s.message_id, s.position, s.author_id, s.text, s.author_name,
           s.channel_id, s.reply_to_id, s.translations
    FROM post, unnest($7::bigint[], $8::bigint[], $9::text[], $12::text[], $13::bigint[],
                      $14::bigint[], $15::jsonb[])
         WITH ORDINALITY AS s(message_id, author_id, text, author_name, channel_id,
                              reply_to_id, translations, position)
)
SELECT id FROM post
"""

_POSTS = """
SELECT p.id, p.group_id, p.source_channel_id, p.target_channel_id, p.target_message_id,
       p.webhook_id, p.languages, p.author_name, p.reply_to_id, p.combined,
       array_agg(s.source_message_id ORDER BY s.position) AS source_ids,
       array_agg(s.author_id ORDER BY s.position) AS author_ids,
       array_agg(s.source_text ORDER BY s.position) AS texts,
       array_agg(s.author_name ORDER BY s.position) AS author_names,
       array_agg(s.source_channel_id ORDER BY s.position) AS channel_ids,
       array_agg(s.reply_to_id ORDER BY s.position) AS reply_ids,
       array_agg(s.translations ORDER BY s.position) AS line_translations
FROM translation_posts p JOIN translation_post_sources s ON s.post_id = p.id
WHERE {where}
GROUP BY p.id
ORDER BY p.id
"""

def _post(row: Any) -> RelayPost:
    sources = []
    for position, (message_id, author_id, text, stored_name, channel, stored_reply,
                   lines) in enumerate(zip(
            row["source_ids"], row["author_ids"], row["texts"], row["author_names"],
            row["channel_ids"], row["reply_ids"], row["line_translations"], strict=True)):
        name, reply = stored_name, stored_reply
        if stored_name is None:  # a row from before 0008: the post names author and reply
            name = row["author_name"]
            reply = row["reply_to_id"] if position == 0 else None
        sources.append(PostSource(
            message_id=message_id, author_id=author_id, text=text, author_name=name,
            channel_id=channel if channel is not None else row["source_channel_id"],
            reply_to_id=reply, translations=dict(lines) if lines is not None else None))
    return RelayPost(id=row["id"], group_id=row["group_id"],
                     source_channel_id=row["source_channel_id"],
                     target_channel_id=row["target_channel_id"],
                     target_message_id=row["target_message_id"], webhook_id=row["webhook_id"],
                     languages=tuple(row["languages"]), sources=tuple(sources),
                     author_name=row["author_name"], reply_to_id=row["reply_to_id"],
                     combined=row["combined"])


class PgLinkStore:
    """Groups and post mappings in PostgreSQL."""

    def __init__(self, database: Callable[[], Database | None]) -> None:
        """``database`` returns the open database (``None`` while not connected)."""
        self._database = database

    def _db(self) -> Database:
        db = self._database()
        if db is None:
            raise DatabaseUnavailable("linked channels need the database, which is not "
                                      "connected", hint="check that PostgreSQL is running")
        return db

    async def _transaction(self, work: Callable[[Any], Awaitable[T]]) -> T:
        db = self._db()

        async def run() -> T:
            async with db.pool.acquire() as conn, conn.transaction():
                return await work(conn)

        try:
            return await asyncio.wait_for(run(), db.pool.query_timeout * 2)
        except TimeoutError as err:
            raise DatabaseUnavailable("the database did not answer in time") from err
        except (OSError, asyncpg.InterfaceError) as err:
            raise DatabaseUnavailable(f"database connection lost ({err})") from err
        except asyncpg.PostgresError as err:
            raise StorageError(f"linked channels: {err}") from err

    async def _fetch(self, query: str, *args: object) -> list[Any]:
        try:
            return await self._db().pool.fetch(query, *args)
        except asyncpg.PostgresError as err:
            raise StorageError(f"linked channels: {err}") from err

    async def groups(self) -> list[TranslationGroup]:
        """Every group with its channels."""
        return _groups(await self._fetch(_GROUPS))

    async def link(self, guild_id: int, channel_id: int, language: str, *, to: int,
                   to_language: str | None, by: int | None) -> TranslationGroup:
        """See :meth:`LinkStore.link`."""

        async def work(conn: Any) -> TranslationGroup:
            rows = await conn.fetch(
                "SELECT c.channel_id, c.group_id, g.kind FROM translation_channels c "
                "JOIN translation_groups g ON g.id = c.group_id "
                "WHERE c.channel_id = ANY($1::bigint[]) FOR UPDATE OF c",
                [channel_id, to])
            found = {r["channel_id"]: r for r in rows}
            if any(r["kind"] == GroupKind.AUTO for r in rows):
                raise LinkInvalid("an auto-translated channel cannot be linked",
                                  hint="turn auto-translation off there first")
            group_ids = {r["group_id"] for r in rows}
            if len(group_ids) > 1:
                raise LinkInvalid("both channels are already linked to other channels",
                                  hint="unlink one of them first")
            if group_ids:
                group_id = group_ids.pop()
            else:
                if to_language is None:
                    raise LinkInvalid("this channel has no language yet",
                                      hint="set it first: /autotranslate link with this "
                                      "channel and its language, from another channel")
                group_id = await conn.fetchval(
                    "INSERT INTO translation_groups (guild_id, kind) VALUES ($1, 'linked') "
                    "RETURNING id", guild_id)
            for channel, lang in ((to, to_language), (channel_id, language)):
                if channel in found and channel != channel_id:
                    continue  # the current channel keeps its language
                if lang is None:
                    continue
                await conn.execute(
                    "INSERT INTO translation_channels (channel_id, group_id, languages, "
                    "created_by) VALUES ($1, $2, ARRAY[$3::text], $4) "
                    "ON CONFLICT (channel_id) DO UPDATE SET languages = EXCLUDED.languages",
                    channel, group_id, lang, by)
            return await _group(conn, group_id)

        return await self._transaction(work)

    async def set_auto(self, guild_id: int, channel_id: int, languages: Sequence[str], *,
                       by: int | None) -> TranslationGroup:
        """See :meth:`LinkStore.set_auto`."""

        async def work(conn: Any) -> TranslationGroup:
            row = await conn.fetchrow(
                "SELECT c.group_id, g.kind FROM translation_channels c JOIN translation_groups "
                "g ON g.id = c.group_id WHERE c.channel_id = $1 FOR UPDATE OF c", channel_id)
            if row is not None and row["kind"] == GroupKind.LINKED:
                raise LinkInvalid("this channel is linked to other channels",
                                  hint="/autotranslate unlink it first")
            if row is None:
                group_id = await conn.fetchval(
                    "INSERT INTO translation_groups (guild_id, kind) VALUES ($1, 'auto') "
                    "RETURNING id", guild_id)
            else:
                group_id = row["group_id"]
            await conn.execute(
                "INSERT INTO translation_channels (channel_id, group_id, languages, created_by) "
                "VALUES ($1, $2, $3::text[], $4) "
                "ON CONFLICT (channel_id) DO UPDATE SET languages = EXCLUDED.languages",
                channel_id, group_id, list(languages), by)
            return await _group(conn, group_id)

        return await self._transaction(work)

    async def unlink(self, channel_id: int) -> TranslationGroup | None:
        """See :meth:`LinkStore.unlink`."""

        async def work(conn: Any) -> TranslationGroup | None:
            group_id = await conn.fetchval(
                "SELECT group_id FROM translation_channels WHERE channel_id = $1", channel_id)
            if group_id is None:
                return None
            before = await _group(conn, group_id)
            await conn.execute("DELETE FROM translation_channels WHERE channel_id = $1",
                               channel_id)
            if before.kind is GroupKind.AUTO or len(before.channels) <= 2:
                # A link needs two ends; the posts' mappings go with the group.
                await conn.execute("DELETE FROM translation_groups WHERE id = $1", group_id)
            return before

        return await self._transaction(work)

    async def add_post(self, *, group_id: int, source_channel_id: int, target_channel_id: int,
                       target_message_id: int, webhook_id: int | None,
                       languages: Sequence[str], sources: Sequence[PostSource],
                       author_name: str = "", reply_to_id: int | None = None,
                       combined: bool = False) -> int:
        """See :meth:`LinkStore.add_post`."""
        rows = await self._fetch(
            _ADD_POST, group_id, source_channel_id, target_channel_id, target_message_id,
            webhook_id, list(languages), [s.message_id for s in sources],
            [s.author_id for s in sources], [s.text for s in sources], author_name,
            reply_to_id, [s.author_name or author_name for s in sources],
            [s.channel_id or source_channel_id for s in sources],
            [s.reply_to_id for s in sources],
            [dict(s.translations) if s.translations is not None else None for s in sources],
            combined)
        return int(rows[0]["id"])

    async def delete_post(self, post_id: int) -> None:
        """See :meth:`LinkStore.delete_post`."""
        await self._fetch("DELETE FROM translation_posts WHERE id = $1", post_id)

    async def posts_of(self, source_message_id: int) -> list[RelayPost]:
        """See :meth:`LinkStore.posts_of`."""
        where = ("p.id IN (SELECT post_id FROM translation_post_sources "
                 "WHERE source_message_id = $1)")
        return [_post(r) for r in await self._fetch(_POSTS.format(where=where),
                                                     source_message_id)]

    async def post_at(self, target_message_id: int) -> RelayPost | None:
        """See :meth:`LinkStore.post_at`."""
        rows = await self._fetch(_POSTS.format(where="p.target_message_id = $1"),
                                 target_message_id)
        return _post(rows[0]) if rows else None

    async def update_source(self, post_id: int, source_message_id: int, text: str,
                            translations: Mapping[str, str] | None = None) -> None:
        """See :meth:`LinkStore.update_source`."""
        await self._fetch("UPDATE translation_post_sources SET source_text = $3, "
                          "translations = COALESCE($4::jsonb, translations) "
                          "WHERE post_id = $1 AND source_message_id = $2",
                          post_id, source_message_id, text,
                          dict(translations) if translations is not None else None)

    async def remove_source(self, post_id: int, source_message_id: int) -> int:
        """See :meth:`LinkStore.remove_source`."""
        await self._fetch("DELETE FROM translation_post_sources "
                          "WHERE post_id = $1 AND source_message_id = $2",
                          post_id, source_message_id)
        rows = await self._fetch(
            "SELECT count(*) AS n FROM translation_post_sources WHERE post_id = $1", post_id)
        left = int(rows[0]["n"])
        if left == 0:
            await self._fetch("DELETE FROM translation_posts WHERE id = $1", post_id)
        return left


async def _group(conn: Any, group_id: int) -> TranslationGroup:
    rows = await conn.fetch(_GROUPS.replace("ORDER BY", "WHERE g.id = $1 ORDER BY"), group_id)
    return _groups(rows)[0]


def _groups(rows: list[Any]) -> list[TranslationGroup]:
    groups: dict[int, TranslationGroup] = {}
    for row in rows:
        channel = GroupChannel(channel_id=row["channel_id"], languages=tuple(row["languages"]))
        group = groups.get(row["id"])
        channels = (*group.channels, channel) if group is not None else (channel,)
        groups[row["id"]] = TranslationGroup(id=row["id"], guild_id=row["guild_id"],
                                             kind=GroupKind(row["kind"]), channels=channels)
    return list(groups.values())
