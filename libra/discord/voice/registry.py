"""The live voice links, for commands, status pages and metrics.

Implements :class:`~libra.voice.api.VoiceRegistry`. Dependency neutral on purpose
(no hikari, no sockets): the admin metrics collector reads ``snapshots()`` at scrape
time. The composition root creates one, hands it to the admin metrics collector and to
the plugin that joins voice channels, which hands it to each
connection (``connect_to(..., registry=registry)``); a connection adds itself once
its handshake is done and removes itself when it closes.
"""

from __future__ import annotations

from typing import Any

from libra.voice.api import VoiceLink


class VoiceConnectionRegistry:
    """Live links by guild id (Discord allows one voice connection per guild)."""

    def __init__(self) -> None:
        self._live: dict[int, VoiceLink] = {}

    def add(self, link: VoiceLink) -> None:
        """Track ``link`` as its guild's live connection."""
        self._live[int(link.guild_id)] = link

    def remove(self, link: VoiceLink) -> None:
        """Forget ``link`` (a newer connection of the same guild stays)."""
        guild_id = int(link.guild_id)
        if self._live.get(guild_id) is link:
            del self._live[guild_id]

    def get(self, guild_id: int) -> VoiceLink | None:
        """The guild's live link, if any."""
        return self._live.get(guild_id)

    def links(self) -> list[VoiceLink]:
        """Every live link, by guild id order."""
        return [self._live[g] for g in sorted(self._live)]

    def __len__(self) -> int:
        return len(self._live)

    def snapshots(self) -> list[dict[str, Any]]:
        """Every live link's diagnostics, by guild id order."""
        return [link.snapshot() for link in self.links()]
