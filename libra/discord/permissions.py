"""Who may talk to Libra where, who may run admin commands, and how often.

Pure policy, no transport: the trigger and command handlers ask :class:`AccessPolicy`
whether to ignore a message, :func:`is_admin` for admin commands, and
:class:`UsageLimiter` for the per-user token bucket and per-guild concurrency.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass

import hikari
from loguru import logger

from libra.bounded import LruDict
from libra.config import DiscordSettings
from libra.discord.api import SharedUserBuckets
from libra.errors import RateLimited

Clock = Callable[[], float]

ADMIN_PERMISSIONS = hikari.Permissions.ADMINISTRATOR | hikari.Permissions.MANAGE_GUILD
MIN_SWEEP_SIZE = 1024
"""Token buckets held before a size-triggered sweep is worth its scan."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """Where a message or command came from."""

    user_id: int
    channel_id: int
    guild_id: int | None
    role_ids: Collection[int] = ()
    parent_channel_id: int | None = None
    """The parent channel of a thread (allow/block lists apply to it too)."""


class Refusal(str):
    """Why Libra ignores a caller (for the debug log), and whether to say so.

    ``silent`` refusals (blocked users, blocked or not allowed guilds) get no
    answer even to a slash command: users are never told they are blocked.
    """

    silent: bool

    def __new__(cls, reason: str, *, silent: bool = False) -> Refusal:
        """A refusal for ``reason``; ``silent`` ones are never answered."""
        refusal = super().__new__(cls, reason)
        refusal.silent = silent
        return refusal


class AccessPolicy:
    """The allow and block lists of ``settings.discord``."""

    def __init__(self, settings: DiscordSettings) -> None:
        self._settings = settings

    def refusal(self, caller: Caller) -> Refusal | None:
        """Why Libra ignores this caller here, or ``None`` when it may answer."""
        s = self._settings
        channels = {caller.channel_id} | (
            {caller.parent_channel_id} if caller.parent_channel_id else set()
        )
        if caller.user_id in s.blocked_user_ids:
            return Refusal(f"user {caller.user_id} is blocked", silent=True)
        if caller.guild_id is None and not s.direct_messages:
            return Refusal("direct messages are off (discord.direct_messages)")
        if caller.guild_id is not None:
            if caller.guild_id in s.blocked_guild_ids:
                return Refusal(f"guild {caller.guild_id} is blocked", silent=True)
            if s.allowed_guild_ids and caller.guild_id not in s.allowed_guild_ids:
                return Refusal(f"guild {caller.guild_id} is not in allowed_guild_ids",
                               silent=True)
            if s.allowed_role_ids and not set(caller.role_ids) & set(s.allowed_role_ids):
                return Refusal(f"user {caller.user_id} has none of allowed_role_ids")
            # Allow-lists filter servers: a DM channel is never in them, and DMs have
            # their own switch (discord.direct_messages).
            if s.allowed_channel_ids and not channels & set(s.allowed_channel_ids):
                return Refusal(f"channel {caller.channel_id} is not in allowed_channel_ids")
        if channels & set(s.blocked_channel_ids):
            return Refusal(f"channel {caller.channel_id} is blocked")
        return None


def is_admin(
    permissions: hikari.Permissions | None,
    role_ids: Collection[int],
    admin_role_ids: Collection[int],
) -> bool:
    """Guild Administrator or Manage Guild permission, or one of ``admin_role_ids``."""
    if permissions is not None and permissions & ADMIN_PERMISSIONS:
        return True
    return bool(set(role_ids) & set(admin_role_ids))


class TokenBucket:
    """``rate`` tokens per minute per key, up to ``burst`` saved.

    Only keys still refilling are kept: a bucket that has refilled to ``burst`` is
    exactly what an unseen key gets, so it is dropped. Sweeps run on access, at most
    once per refill time or when the table doubles, so each costs O(1) amortised and
    the table holds about the keys active in the last two refill times.
    """

    def __init__(
        self, rate_per_minute: float, burst: int, *, clock: Clock = time.monotonic
    ) -> None:
        self._per_second = rate_per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._state: dict[int, tuple[float, float]] = {}
        self.refill_seconds = self._burst / self._per_second
        """Time an empty bucket takes to become indistinguishable from a fresh one."""
        self._swept_at = clock()
        self._sweep_size = MIN_SWEEP_SIZE

    def __len__(self) -> int:
        """Keys currently remembered (those whose bucket is still refilling)."""
        return len(self._state)

    def take(self, key: int) -> float:
        """Spend a token: 0 when allowed, otherwise the seconds until one is available."""
        now = self._clock()
        self._maybe_sweep(now)
        tokens = self._tokens(key, now)
        if tokens >= 1.0:
            self._state[key] = (tokens - 1.0, now)
            return 0.0
        self._state[key] = (tokens, now)
        return (1.0 - tokens) / self._per_second

    def _tokens(self, key: int, now: float) -> float:
        tokens, at = self._state.get(key, (self._burst, now))
        return min(self._burst, tokens + (now - at) * self._per_second)

    def _maybe_sweep(self, now: float) -> None:
        if now - self._swept_at < self.refill_seconds and len(self._state) < self._sweep_size:
            return
        self._state = {
            key: state for key, state in self._state.items()
            if self._tokens(key, now) < self._burst
        }
        self._swept_at = now
        self._sweep_size = max(MIN_SWEEP_SIZE, 2 * len(self._state))


class GuildBusy(RateLimited):
    """A guild already has its allowed number of replies being generated."""

    code = "guild_busy"

    def __init__(self, limit: int) -> None:
        super().__init__(f"guild already has {limit} replies running")
        self.limit = limit


class UserRateLimited(RateLimited):
    """One user is sending messages faster than ``user_rate_per_minute``."""

    def __init__(self, seconds: float, *, repeated: bool = False) -> None:
        super().__init__(f"user over the rate limit; retry in {seconds:.1f}s")
        self.seconds = max(1, math.ceil(seconds))
        self.repeated = repeated
        """The user was already refused during this wait (chat triggers stay quiet)."""


class UsageLimiter:
    """Per-user token bucket and per-guild concurrency from settings.

    With ``shared`` (several instances, Redis) the user's bucket is the one every
    instance spends from; while Redis fails, this process's own bucket stands in so a
    user is still limited. Guild concurrency stays in-process: a guild lives on one
    shard, and one shard on one instance.
    """

    def __init__(self, settings: DiscordSettings, *, clock: Clock = time.monotonic,
                 shared: SharedUserBuckets | None = None) -> None:
        self._bucket = TokenBucket(settings.user_rate_per_minute, settings.user_burst, clock=clock)
        self._shared = shared
        self._clock = clock
        self._guild_limit = settings.guild_concurrency
        self._running: dict[int, int] = {}
        # When each recently refused user may send again: a refusal before then is a
        # repeat, so a user flooding the channel does not make Libra flood it too.
        self._refused_until: LruDict[int, float] = LruDict()
        self._shared_failed = False

    @property
    def tracked_users(self) -> int:
        """Users whose rate-limit bucket is remembered here (only those still refilling)."""
        return len(self._bucket)

    @asynccontextmanager
    async def reply_slot(self, user_id: int, guild_id: int | None) -> AsyncIterator[None]:
        """Hold a guild slot while a reply is generated.

        Raises:
            UserRateLimited: the user is over their rate (checked first).
            GuildBusy: the guild already runs ``guild_concurrency`` replies.
        """
        wait, repeated = await self._take(user_id)
        if wait > 0:
            raise UserRateLimited(wait, repeated=repeated)
        if guild_id is None:
            yield
            return
        if self._running.get(guild_id, 0) >= self._guild_limit:
            raise GuildBusy(self._guild_limit)
        self._running[guild_id] = self._running.get(guild_id, 0) + 1
        try:
            yield
        finally:
            self._running[guild_id] -= 1
            if not self._running[guild_id]:
                del self._running[guild_id]

    async def _take(self, user_id: int) -> tuple[float, bool]:
        """(seconds to wait, already refused during this wait) for one message."""
        if self._shared is not None:
            try:
                taken = await self._shared.take(user_id)
            except Exception as err:  # Redis down: limit per process rather than not at all
                if not self._shared_failed:
                    logger.warning("shared rate limits unavailable ({}); limiting users per "
                                   "instance until Redis answers again", err)
                self._shared_failed = True
            else:
                if self._shared_failed:
                    logger.info("shared rate limits available again")
                self._shared_failed = False
                return taken
        wait = self._bucket.take(user_id)
        if wait <= 0:
            return 0.0, False
        now = self._clock()
        repeated = self._refused_until.get(user_id, -math.inf) > now
        if not repeated:
            self._refused_until[user_id] = now + wait
        return wait, repeated
