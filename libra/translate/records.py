"""A user's translation history and personal opt-ins, over the ``TranslationStore``."""

from __future__ import annotations

import time
from collections.abc import Callable

from libra.bounded import LruDict
from libra.errors import ServiceUnavailable
from libra.storage.api import TranslationStore
from libra.translate.api import HistoryItem, HistoryPage

Clock = Callable[[], float]
OPT_IN_TTL = 60.0
"""Seconds a user's opt-in for a channel is answered from memory."""


class TranslationRecords:
    """Implements ``TranslationHistory`` and ``PersonalOptIn``.

    Both need the database: without one they raise ``ServiceUnavailable``, which the
    commands answer with their usual "unavailable right now".
    """

    def __init__(self, store: TranslationStore | None, *, clock: Clock = time.monotonic) -> None:
        self._store = store
        self._clock = clock
        # Asked for every message of every channel: answered from memory for a while.
        # Bounded in age as well as size, so a change made elsewhere (an erased user,
        # another instance) is seen within OPT_IN_TTL seconds.
        self._opt_ins: LruDict[tuple[int, int], tuple[bool, float]] = LruDict()

    def _need(self) -> TranslationStore:
        if self._store is None:
            raise ServiceUnavailable("translation history needs the database",
                                     hint="set database.url or let Libra start its own")
        return self._store

    async def history(self, user_id: int, *, query: str | None = None, page: int = 0,
                      page_size: int = 5) -> HistoryPage:
        """The user's translations, newest first; ``query`` matches original or result."""
        rows, total = await self._need().translation_history(
            user_id, query=query, offset=max(0, page) * page_size, limit=page_size)
        items = [HistoryItem(id=r.id, source_language=r.source_language,
                             target_language=r.target_language, source_text=r.source_text,
                             translated_text=r.translated_text, guild_id=r.guild_id,
                             channel_id=r.channel_id, created_at=r.created_at) for r in rows]
        return HistoryPage(items=items, total=total, page=max(0, page), page_size=page_size)

    async def delete_history(self, user_id: int) -> int:
        """Delete every translation of the user; how many were deleted."""
        return await self._need().delete_translations(user_id)

    async def set_opt_in(self, user_id: int, channel_id: int, on: bool, *,
                         guild_id: int | None = None) -> None:
        """Turn the user's opt-in for the channel on or off."""
        await self._need().set_translate_opt_in(user_id, channel_id, guild_id, on)
        self._opt_ins[user_id, channel_id] = (on, self._clock())

    async def opted_in(self, user_id: int, channel_id: int) -> bool:
        """Whether the user opted in for the channel (``False`` without a database)."""
        if self._store is None:
            return False
        known = self._opt_ins.get((user_id, channel_id))
        if known is not None and self._clock() - known[1] < OPT_IN_TTL:
            return known[0]
        on = await self._store.translate_opt_in(user_id, channel_id)
        self._opt_ins[user_id, channel_id] = (on, self._clock())
        return on
