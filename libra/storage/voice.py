"""The ``VoiceChannelStore`` port over PostgreSQL: ``voice_channels`` and guild voice settings.

Like :class:`~libra.storage.stats.DatabaseUsageStats` it asks for the open database at
every call, so it starts working when storage connects late (an outage at start).
Writes go straight to the database, not through the write-behind queue: a voice
channel remembered an hour late is worse than one not remembered (a restart would
rejoin a channel Libra was told to leave), and the caller says when it failed.
Schema: ``migrations/0005_voice_channels.sql``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg

from libra.errors import DatabaseUnavailable, StorageError
from libra.storage.api import RememberedVoiceChannel, VoiceMode, VoicePreferences
from libra.storage.db import Database

_REMEMBER = """
INSERT INTO voice_channels (guild_id, channel_id, text_channel_id)
VALUES ($1, $2, $3)
ON CONFLICT (guild_id) DO UPDATE
SET channel_id = EXCLUDED.channel_id,
    text_channel_id = coalesce(EXCLUDED.text_channel_id, voice_channels.text_channel_id),
    updated_at = now()
"""

_SET_PREFERENCES = """
INSERT INTO guild_settings (guild_id, voice_mode, voice_name)
VALUES ($1, $2, $3)
ON CONFLICT (guild_id) DO UPDATE
SET voice_mode = EXCLUDED.voice_mode, voice_name = EXCLUDED.voice_name, updated_at = now()
"""


class DatabaseVoiceStore:
    """See the module docstring."""

    def __init__(self, database: Callable[[], Database | None], *, timeout: float) -> None:
        """Read the database through ``database`` at every call.

        ``database`` returns the open database (``None`` while not connected);
        ``timeout`` is the seconds a query may take (``database.query_timeout``).
        """
        self._database = database
        self._timeout = timeout

    async def _run(self, method: str, query: str, *args: object) -> Any:
        db = self._database()
        if db is None:
            raise DatabaseUnavailable("the database is not connected")
        try:
            return await asyncio.wait_for(getattr(db.pool, method)(query, *args), self._timeout)
        except (OSError, TimeoutError, asyncpg.exceptions.ConnectionDoesNotExistError,
                asyncpg.exceptions.InterfaceError) as err:
            raise DatabaseUnavailable(f"voice channel query failed: {err or 'timed out'}") from err
        except asyncpg.PostgresError as err:
            raise StorageError(f"voice channel query failed: {err}") from err

    async def remembered_voice_channels(self) -> list[RememberedVoiceChannel]:
        """Every remembered voice channel, by guild id."""
        rows = await self._run("fetch", "SELECT guild_id, channel_id, text_channel_id "
                                        "FROM voice_channels ORDER BY guild_id")
        return [RememberedVoiceChannel(guild_id=r["guild_id"], channel_id=r["channel_id"],
                                       text_channel_id=r["text_channel_id"]) for r in rows]

    async def remember_voice_channel(self, channel: RememberedVoiceChannel) -> None:
        """Remember (or move) the guild's voice channel."""
        await self._run("execute", _REMEMBER, channel.guild_id, channel.channel_id,
                        channel.text_channel_id)

    async def forget_voice_channel(self, guild_id: int) -> None:
        """Forget the guild's voice channel."""
        await self._run("execute", "DELETE FROM voice_channels WHERE guild_id = $1", guild_id)

    async def voice_preferences(self, guild_id: int) -> VoicePreferences:
        """The guild's voice mode and voice (defaults when never set)."""
        row = await self._run("fetchrow", "SELECT voice_mode, voice_name FROM guild_settings "
                                          "WHERE guild_id = $1", guild_id)
        if row is None:
            return VoicePreferences()
        mode = VoiceMode(row["voice_mode"]) if row["voice_mode"] else VoiceMode.OPEN
        return VoicePreferences(mode=mode, voice=row["voice_name"])

    async def set_voice_preferences(self, guild_id: int, preferences: VoicePreferences) -> None:
        """Store the guild's voice mode and voice."""
        await self._run("execute", _SET_PREFERENCES, guild_id, preferences.mode.value,
                        preferences.voice)
