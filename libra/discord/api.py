"""Ports the Discord transport needs that the composition root chooses.

The in-process implementations live beside them (``permissions.UsageLimiter``);
a Redis-backed one for several instances would be chosen in the root instead.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class RateLimiter(Protocol):
    """Per-user message rate and per-guild reply concurrency."""

    @property
    def tracked_users(self) -> int:
        """Users whose rate state is remembered (for metrics and tests)."""
        ...

    def reply_slot(self, user_id: int, guild_id: int | None) -> AbstractContextManager[None]:
        """Hold a guild slot while a reply is generated.

        Raises:
            UserRateLimited: the user is over their rate.
            GuildBusy: the guild already runs its maximum of replies.
        """
        ...
