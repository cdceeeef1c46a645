"""Ports the Discord transport needs that the composition root chooses.

The in-process implementations live beside them (``permissions.UsageLimiter``);
with several instances the root hands ``UsageLimiter`` a Redis-backed
:class:`SharedUserBuckets` (``libra/cluster/limiter.py``).
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from libra.discord.gates import IdentifyGate, LimitsSource, RestGate
from libra.storage.api import VoicePreferences
from libra.voice.api import VoiceLink
from libra.voice.latency_figures import TurnStats


class RateLimiter(Protocol):
    """Per-user message rate and per-guild reply concurrency."""

    @property
    def tracked_users(self) -> int:
        """Users whose rate state is remembered (for metrics and tests)."""
        ...

    def reply_slot(self, user_id: int,
                   guild_id: int | None) -> AbstractAsyncContextManager[None]:
        """Hold a guild slot while a reply is generated (``async with``).

        Raises:
            UserRateLimited: the user is over their rate.
            GuildBusy: the guild already runs its maximum of replies.
        """
        ...


class SharedUserBuckets(Protocol):
    """Per-user token buckets that every instance of the bot spends from."""

    async def take(self, user_id: int) -> tuple[float, bool]:
        """Spend one message's token.

        Returns ``(seconds until allowed, 0 when allowed; whether the user was already
        refused during this wait)``.

        Raises:
            Exception: the shared store failed (the caller limits per process instead).
        """
        ...


class SharedDiscordLimits(Protocol):
    """Discord's per-bot limits, shared with the other instances (``cluster.Cluster``)."""

    rest_gate: RestGate
    """The global REST budget every instance spends from."""

    def identify_gate(self, limits: LimitsSource) -> IdentifyGate:
        """Identify turns shared with every instance; ``limits`` asks Discord for them."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceSessionInfo:
    """A voice channel Libra has just joined (or rejoined after a restart)."""

    guild_id: int
    channel_id: int
    """The voice channel; its own text chat is where voice exchanges are mirrored."""
    text_channel_id: int | None
    """Where ``/voice join`` was run (``None`` for an unknown origin)."""
    link: VoiceLink
    preferences: VoicePreferences
    """The guild's ``/voice mode`` and ``/voice voice``."""


class VoiceConversations(Protocol):
    """What holds the spoken conversation in each voice channel Libra is in.

    ``/voice join`` and friends (``discord/voice_sessions.py``) own the connection's
    lifecycle; an implementation of this port listens and answers on each link. Every
    call is made on the event loop and must return promptly (spawn the conversation,
    don't run it here); an exception is logged and does not stop the voice session.
    """

    async def started(self, session: VoiceSessionInfo) -> None:
        """Libra is in a voice channel and can hear and speak: start the conversation."""
        ...

    async def ended(self, guild_id: int) -> None:
        """The guild's voice session ended (left, kicked, alone, lost, shutdown)."""
        ...

    async def moved(self, guild_id: int, channel_id: int) -> None:
        """An admin moved Libra to ``channel_id`` (the link stays the same)."""
        ...

    async def preferences_changed(self, guild_id: int, preferences: VoicePreferences) -> None:
        """``/voice mode`` or ``/voice voice`` changed the guild's preferences."""
        ...

    def known_voices(self) -> Collection[str] | None:
        """Voices ``/voice voice`` may choose (``None``: any name is accepted)."""
        ...

    def status_lines(self, guild_id: int, language: str) -> list[str]:
        """Extra lines for ``/voice status``: engines and models, the last turn's latency."""
        ...


class VoiceTurnFigures(Protocol):
    """Recent voice turns' latency in a guild, for ``/stats``.

    Satisfied by ``libra.voice.latency_board.LatencyBoard`` (the same board the spoken
    conversation's ``/voice status`` lines come from).
    """

    def in_guild(self, guild_id: int | None) -> TurnStats:
        """Turns and errors since start, p50/p95 per stage over the guild's recent turns."""
        ...
