"""Write-through caches of what each turn needs from the database.

Ids, memories and recent turns change only through the chat service, so a turn
that hits these caches reaches the model without a database round trip. Erasing a
user (``ChatService.erase``) or a storage error clears them all; a read that was in
flight across a clear does not fill them again, so nothing of an erased user is
served from memory afterwards. Every structure is bounded (LRU) so memory stays flat
however many users talk.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from libra.chat.api import ConversationStore
from libra.llm.api import ChatMessage
from libra.storage.api import Memory

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A tiny bounded mapping that forgets the least recently used key."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value, marking it recently used."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        """Store and return ``value``, evicting the oldest key when full."""
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return value

    def pop(self, key: K) -> None:
        """Forget ``key`` if present."""
        self._items.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        self._items.clear()


class Recall:
    """Per-user and per-session state a turn needs, cached in front of storage."""

    def __init__(self, storage: ConversationStore, *, max_turns: int, size: int = 2_000) -> None:
        self._storage = storage
        self._max_turns = max_turns
        self._user_ids: LRU[int, int] = LRU(size * 5)
        self._session_ids: LRU[tuple[int, int], int] = LRU(size * 5)
        self._memories: LRU[int, list[Memory]] = LRU(size)
        self._history: LRU[int, list[ChatMessage]] = LRU(size)
        self._generation = 0
        """Bumped by ``clear``: a read started before it must not fill the caches."""

    def clear(self) -> None:
        """Forget everything (after a storage error, or when a user's data was erased)."""
        self._generation += 1
        for cache in (self._user_ids, self._session_ids, self._memories, self._history):
            cache.clear()

    def _keep(self, cache: LRU[K, V], key: K, value: V, generation: int) -> V:
        """Cache ``value`` unless the caches were cleared while it was being read."""
        return cache.put(key, value) if generation == self._generation else value

    async def user_id(self, discord_id: int) -> int:
        """The internal id of a Discord user, creating the user on first sight."""
        cached = self._user_ids.get(discord_id)
        if cached is None:
            generation = self._generation
            user = await self._storage.ensure_user(discord_id)
            cached = self._keep(self._user_ids, discord_id, user.id, generation)
        return cached

    async def session_id(self, user_id: int, channel_id: int, guild_id: int | None) -> int:
        """The user's open session in the channel."""
        cached = self._session_ids.get((user_id, channel_id))
        if cached is None:
            generation = self._generation
            session = await self._storage.open_session(user_id, channel_id, guild_id)
            cached = self._keep(self._session_ids, (user_id, channel_id), session, generation)
        return cached

    def end_session(self, user_id: int, channel_id: int) -> None:
        """Forget the open session (``/reset``)."""
        session = self._session_ids.get((user_id, channel_id))
        self._session_ids.pop((user_id, channel_id))
        if session is not None:
            self._history.pop(session)

    async def memories(self, user_id: int) -> list[Memory]:
        """The user's memories."""
        cached = self._memories.get(user_id)
        if cached is None:
            generation = self._generation
            memories = await self._storage.list_memories(user_id)
            cached = self._keep(self._memories, user_id, memories, generation)
        return cached

    def memories_changed(self, user_id: int) -> None:
        """Reload memories next time (after remember / forget)."""
        self._memories.pop(user_id)

    async def history(self, session_id: int) -> list[ChatMessage]:
        """The session's recent turns as prompt messages, oldest first."""
        from libra.chat.context import history_messages  # noqa: PLC0415

        cached = self._history.get(session_id)
        if cached is None:
            generation = self._generation
            stored = await self._storage.recent_messages(session_id, self._max_turns)
            cached = self._keep(self._history, session_id, history_messages(stored), generation)
        return list(cached)

    def add_turn(self, session_id: int, message: ChatMessage) -> None:
        """Append a message the service is storing, keeping the last ``max_turns``."""
        cached = self._history.get(session_id)
        if cached is not None:
            cached.append(message)
            del cached[: max(0, len(cached) - self._max_turns)]
