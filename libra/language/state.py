"""Channel language state and user pins: cached in process, persisted when possible.

Reads go to ``Storage`` once per channel (and once per user per cache period);
every later message is served from memory. Writes are *behind*: ``save`` updates
memory at once and a background flusher upserts the latest state of each changed
channel, so a message never waits on the database and bursts coalesce into one
write. Without a ``Storage`` (or while it fails) everything keeps working from
memory; failures are logged once per outage, never raised to the caller, and a failed
write is tried again every ``RETRY_SECONDS`` and at shutdown.

The in-memory cache keeps the ``max_cached_channels`` most recently used channels, so
memory stays flat however many channels a bot ever sees; a channel pushed out is read
from storage again (or, without storage, starts afresh) when it next speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from loguru import logger

from libra.bounded import DEFAULT_CAPACITY, LruDict
from libra.storage.api import ChannelLanguageState, LanguageStore
from libra.tasks import TaskGroup

RETRY_SECONDS = 30.0
"""Pause before channel states whose write failed are written again."""


class ChannelStateStore:
    """The language state of every channel seen, backed by ``Storage`` when present."""

    def __init__(self, storage: LanguageStore | None, *, user_cache_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic,
                 max_cached_users: int = 10_000,
                 max_cached_channels: int = DEFAULT_CAPACITY) -> None:
        self.storage = storage
        self._channels: LruDict[int, ChannelLanguageState] = LruDict(max_cached_channels)
        self._dirty: dict[int, ChannelLanguageState] = {}
        self._users: dict[int, tuple[str | None, float]] = {}
        # User pins the database has not taken yet: memory is their only record.
        self._unsaved_users: dict[int, str | None] = {}
        self._forgotten = 0
        """Bumped by ``forget_user``: a read in flight across it is not cached."""
        self._user_ttl = user_cache_seconds
        self._max_cached_users = max_cached_users
        self._clock = clock
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()  # one writer, so a channel's writes stay ordered
        self._degraded = False
        self.reads = 0
        """Storage reads so far (channels and users), for tests and metrics."""
        self.writes = 0
        """Storage writes so far."""

    @property
    def persistent(self) -> bool:
        """Whether state currently reaches the database."""
        return self.storage is not None and not self._degraded

    # -- channels ----------------------------------------------------------------------

    async def load(self, channel_id: int) -> ChannelLanguageState:
        """The channel's state: from memory, else from storage, else a fresh one."""
        # A state waiting for its write is newer than the database's, even once the
        # cache has pushed it out.
        state = self._channels.get(channel_id) or self._dirty.get(channel_id)
        if state is not None:
            return state
        loaded: ChannelLanguageState | None = None
        if self.storage is not None:
            self.reads += 1
            try:
                loaded = await self.storage.get_channel_language(channel_id)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self._failed("read channel language", err)
            else:
                self._recovered()
        # Another message of this channel may have been handled while we waited.
        return self._channels.setdefault(
            channel_id, loaded or ChannelLanguageState(channel_id=channel_id)
        )

    def save(self, state: ChannelLanguageState) -> None:
        """Remember ``state`` now; the flusher persists it soon after."""
        self._channels[state.channel_id] = state
        if self.storage is not None:
            self._dirty[state.channel_id] = state
            self._wake.set()

    async def flush(self) -> None:
        """Write every changed channel's latest state."""
        storage = self.storage
        if storage is None:
            return
        async with self._flush_lock:
            while self._dirty:
                channel_id, state = next(iter(self._dirty.items()))
                del self._dirty[channel_id]
                self.writes += 1
                try:
                    await storage.save_channel_language(state)
                except asyncio.CancelledError:
                    self._dirty.setdefault(channel_id, state)
                    raise
                except Exception as err:
                    # Kept for the next attempt (a newer state saved meanwhile wins);
                    # the rest wait too: the database is not answering.
                    self._dirty.setdefault(channel_id, state)
                    self._failed("save channel language", err)
                    return
                else:
                    self._recovered()
            for user_id, language in list(self._unsaved_users.items()):
                if not await self._write_user(storage, user_id, language):
                    return

    async def run_flusher(self) -> None:
        """Persist changes as they come, retrying failed writes, until cancelled."""
        while True:
            if self._dirty or self._unsaved_users:  # a write failed: retry after a pause
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(RETRY_SECONDS):
                        await self._wake.wait()
            else:
                await self._wake.wait()
            self._wake.clear()
            await self.flush()

    def start(self, tasks: TaskGroup) -> None:
        """Start the background flusher in ``tasks`` (only when there is storage)."""
        if self.storage is not None:
            tasks.spawn(self.run_flusher(), name="persist-channel-language")

    # -- users -------------------------------------------------------------------------

    async def user_language(self, user_id: int) -> str | None:
        """The user's pinned language (cached for ``user_cache_seconds``)."""
        if user_id in self._unsaved_users:
            return self._unsaved_users[user_id]  # newer than what the database holds
        cached = self._users.get(user_id)
        if self.storage is None:
            # Memory is the only record of a pin: it must not expire.
            return cached[0] if cached is not None else None
        now = self._clock()
        if cached is not None and now - cached[1] < self._user_ttl:
            return cached[0]
        language: str | None = None
        self.reads += 1
        forgotten = self._forgotten
        try:
            language = (await self.storage.ensure_user(user_id)).language
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self._failed("read user language", err)
            language = cached[0] if cached else None
        else:
            self._recovered()
        if forgotten != self._forgotten:
            return language  # the user may have been erased meanwhile: cache nothing
        self._users[user_id] = (language, now)
        if len(self._users) > self._max_cached_users:
            self._forget_expired_users(now)
        return language

    def _forget_expired_users(self, now: float) -> None:
        """Drop cache entries past their TTL: the database holds them anyway."""
        expired = [uid for uid, (_, seen) in self._users.items() if now - seen >= self._user_ttl]
        for uid in expired:
            del self._users[uid]

    async def set_user_language(self, user_id: int, language: str | None) -> None:
        """Pin (or unpin) a user's language, in memory at once and in storage."""
        self._users[user_id] = (language, self._clock())
        if self.storage is None:
            return
        self._unsaved_users[user_id] = language
        async with self._flush_lock:  # never overtaken by a retry of an older pin
            if not await self._write_user(self.storage, user_id, language):
                self._wake.set()  # the flusher retries it

    async def forget_user(self, user_id: int) -> None:
        """Drop the user's cached and unsaved pin (their data is being erased).

        Taken under the flush lock: a pin write in progress finishes first, and none
        starts after, so no pending pin can recreate the user's row once it is deleted.
        """
        async with self._flush_lock:
            self._forgotten += 1
            self._users.pop(user_id, None)
            self._unsaved_users.pop(user_id, None)

    async def _write_user(self, storage: LanguageStore, user_id: int, language: str | None) -> bool:
        """Write one user pin; return whether the database took it."""
        self.writes += 1
        try:
            await storage.set_user_language(user_id, language)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self._failed("save user language", err)
            return False
        self._recovered()
        if self._unsaved_users.get(user_id, language) == language:
            self._unsaved_users.pop(user_id, None)
        return True

    # -- degradation -------------------------------------------------------------------

    def _failed(self, action: str, err: Exception) -> None:
        if not self._degraded:
            logger.warning(
                "language: cannot {} ({}: {}); keeping language state in memory until the "
                "database answers again", action, type(err).__name__, err,
            )
        self._degraded = True

    def _recovered(self) -> None:
        if self._degraded:
            logger.info("language: database reachable again; language state is persisted")
        self._degraded = False
