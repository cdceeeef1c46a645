"""Translation rows: history, glossary, personal opt-in (``TranslationStore`` over asyncpg).

A mixin of :class:`~libra.storage.repositories.PgStorage`, kept in its own module so
the translation tables' queries sit together. Every method is bounded by the query
timeout and translates driver errors like the rest of ``PgStorage``; through
``DurableStorage`` each one is also behind the database's circuit breaker.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import asyncpg

from libra.storage.api import (
    GlossaryRow,
    GuildGlossaryRow,
    LanguagePairVolume,
    TranslationRow,
)
from libra.text import clean_text

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from libra.storage.api import User

T = TypeVar("T")

_ROW_COLUMNS = ("id, source_language, target_language, source_text, translated_text, model, "
                "guild_id, channel_id, created_at")


def _like(query: str) -> str:
    """``query`` as an ILIKE pattern matching it anywhere, its own wildcards escaped."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _row(row: asyncpg.Record) -> TranslationRow:
    return TranslationRow(**dict(row))


class TranslationRows:
    """The translation tables' queries (mixed into ``PgStorage``, which provides these)."""

    _pool: asyncpg.Pool

    if TYPE_CHECKING:
        def translated(self, action: str) -> AbstractAsyncContextManager[None]:
            """Driver errors as storage errors."""

        async def bounded(self, operation: Awaitable[T], action: str) -> T:
            """Within the query timeout."""

        async def ensure_user(self, discord_id: int) -> User:
            """The user, created on first sight."""

    async def record_translation(
        self, *, user_id: int, source_language: str, target_language: str,
        source_text: str, translated_text: str, model: str,
        guild_id: int | None = None, channel_id: int | None = None,
    ) -> int:
        """Store one translation; return its id."""
        async with self.translated("store translation"):
            translation_id = await self.bounded(self._pool.fetchval(
                "INSERT INTO translations (user_id, source_language, target_language, "
                "source_text, translated_text, model, guild_id, channel_id) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                user_id, source_language, target_language, clean_text(source_text),
                clean_text(translated_text), model, guild_id, channel_id),
                "store translation")
        return int(translation_id)

    async def translation_history(self, discord_id: int, *, query: str | None,
                                  offset: int, limit: int) -> tuple[list[TranslationRow], int]:
        """The user's translations newest first, and how many match in all."""
        pattern = _like(query.strip()) if query and query.strip() else None
        where = ("t.user_id = (SELECT id FROM users WHERE discord_id = $1) AND "
                 "($2::text IS NULL OR t.source_text ILIKE $2 OR t.translated_text ILIKE $2)")

        async def read() -> tuple[int, list[asyncpg.Record]]:
            async with self._pool.acquire() as conn:
                total = await conn.fetchval(
                    f"SELECT count(*) FROM translations t WHERE {where}", discord_id, pattern)
                rows = await conn.fetch(
                    f"SELECT {_ROW_COLUMNS} FROM translations t WHERE {where} "
                    "ORDER BY t.id DESC OFFSET $3 LIMIT $4",
                    discord_id, pattern, max(0, offset), max(0, limit))
            return int(total), list(rows)

        async with self.translated("read translation history"):
            total, rows = await self.bounded(read(), "read translation history")
        return [_row(row) for row in rows], total

    async def delete_translations(self, discord_id: int) -> int:
        """Delete every translation of the user; return how many."""
        async with self.translated("delete translations"):
            status = await self.bounded(self._pool.execute(
                "DELETE FROM translations WHERE user_id = "
                "(SELECT id FROM users WHERE discord_id = $1)", discord_id),
                "delete translations")
        return int(status.rsplit(" ", 1)[-1])

    async def glossary(self, guild_id: int) -> list[GlossaryRow]:
        """The guild's glossary, by term."""
        async with self.translated("read glossary"):
            rows = await self.bounded(self._pool.fetch(
                "SELECT term, language, rendering, created_by, created_at "
                "FROM glossary_entries WHERE guild_id = $1 "
                "ORDER BY lower(term), language NULLS FIRST",
                guild_id), "read glossary")
        return [GlossaryRow(**dict(row)) for row in rows]

    async def save_glossary_entry(self, guild_id: int, *, term: str,
                                  language: str | None, rendering: str | None,
                                  created_by: int | None, max_entries: int) -> bool:
        """Add or replace the entry for (term, language); ``False`` when the guild is full."""
        rendering = clean_text(rendering) if rendering is not None else None

        async def save() -> bool:
            async with self._pool.acquire() as conn, conn.transaction():
                # Serialises adds per guild, so two at once cannot both pass the count.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('glossary'), "
                                   "hashtext($1::text))", str(guild_id))
                existing = await conn.fetchval(
                    "SELECT id FROM glossary_entries WHERE guild_id = $1 AND "
                    "lower(term) = lower($2) AND coalesce(language, '') = coalesce($3, '')",
                    guild_id, term, language)
                if existing is not None:
                    await conn.execute(
                        "UPDATE glossary_entries SET term = $2, rendering = $3, "
                        "created_by = $4, created_at = now() WHERE id = $1",
                        existing, clean_text(term), rendering, created_by)
                    return True
                count = await conn.fetchval(
                    "SELECT count(*) FROM glossary_entries WHERE guild_id = $1", guild_id)
                if count >= max_entries:
                    return False
                await conn.execute(
                    "INSERT INTO glossary_entries (guild_id, term, language, rendering, "
                    "created_by) VALUES ($1, $2, $3, $4, $5)",
                    guild_id, clean_text(term), language, rendering, created_by)
                return True

        async with self.translated("save glossary entry"):
            return await self.bounded(save(), "save glossary entry")

    async def delete_glossary_entry(self, guild_id: int, term: str,
                                    language: str | None) -> int:
        """Delete the term's entry for ``language`` (every language's with ``None``)."""
        async with self.translated("delete glossary entry"):
            status = await self.bounded(self._pool.execute(
                "DELETE FROM glossary_entries WHERE guild_id = $1 AND lower(term) = lower($2) "
                "AND ($3::text IS NULL OR language = $3)", guild_id, term, language),
                "delete glossary entry")
        return int(status.rsplit(" ", 1)[-1])

    async def set_translate_opt_in(self, discord_id: int, channel_id: int,
                                   guild_id: int | None, on: bool) -> None:
        """Turn a user's personal opt-in for a channel on or off."""
        async with self.translated("save translation opt-in"):
            if on:
                user = await self.ensure_user(discord_id)
                await self.bounded(self._pool.execute(
                    "INSERT INTO translate_opt_ins (user_id, channel_id, guild_id) "
                    "VALUES ($1, $2, $3) ON CONFLICT (user_id, channel_id) DO NOTHING",
                    user.id, channel_id, guild_id), "save translation opt-in")
            else:
                await self.bounded(self._pool.execute(
                    "DELETE FROM translate_opt_ins WHERE channel_id = $2 AND user_id = "
                    "(SELECT id FROM users WHERE discord_id = $1)", discord_id, channel_id),
                    "save translation opt-in")

    async def translate_opt_in(self, discord_id: int, channel_id: int) -> bool:
        """Whether the user opted in for the channel."""
        async with self.translated("read translation opt-in"):
            found = await self.bounded(self._pool.fetchval(
                "SELECT 1 FROM translate_opt_ins o JOIN users u ON u.id = o.user_id "
                "WHERE u.discord_id = $1 AND o.channel_id = $2", discord_id, channel_id),
                "read translation opt-in")
        return found is not None

    async def translation_volume(self, since: datetime) -> list[LanguagePairVolume]:
        """Translations per language pair since ``since``, busiest first."""
        async with self.translated("read translation volume"):
            rows = await self.bounded(self._pool.fetch(
                "SELECT source_language, target_language, count(*) AS translations "
                "FROM translations WHERE created_at >= $1 "
                "GROUP BY source_language, target_language "
                "ORDER BY translations DESC, source_language, target_language LIMIT 100",
                since), "read translation volume")
        return [LanguagePairVolume(**dict(row)) for row in rows]

    async def glossary_overview(self, *, limit: int = 200) -> list[GuildGlossaryRow]:
        """Every guild's glossary entries (at most ``limit``), by guild and term."""
        async with self.translated("read glossaries"):
            rows = await self.bounded(self._pool.fetch(
                "SELECT guild_id, term, language, rendering FROM glossary_entries "
                "ORDER BY guild_id, lower(term), language NULLS FIRST LIMIT $1",
                limit), "read glossaries")
        return [GuildGlossaryRow(**dict(row)) for row in rows]
