"""The live voice connections, for status pages and metrics.

Dependency neutral on purpose (no hikari, no sockets): the admin metrics collector
is handed this :class:`VoiceConnectionRegistry` by the composition root and reads
``snapshots()`` at scrape time. The plugin that joins voice channels registers one
and hands it to each connection (``connect_to(..., registry=registry)``); a
connection adds itself once its handshake is done and removes itself when it closes.
"""

from __future__ import annotations

from typing import Any, Protocol


class DiagnosticsSource(Protocol):
    """What the registry needs from a connection."""

    def snapshot(self) -> dict[str, Any]:
        """The connection's diagnostics (see ``VoiceDiagnostics.snapshot``)."""
        ...


class VoiceConnectionRegistry:
    """Live connections by guild id (Discord allows one voice connection per guild)."""

    def __init__(self) -> None:
        self._live: dict[int, DiagnosticsSource] = {}

    def add(self, guild_id: int, source: DiagnosticsSource) -> None:
        """Track ``source`` as the guild's live connection."""
        self._live[guild_id] = source

    def remove(self, guild_id: int, source: DiagnosticsSource) -> None:
        """Forget ``source`` (a newer connection of the same guild stays)."""
        if self._live.get(guild_id) is source:
            del self._live[guild_id]

    def __len__(self) -> int:
        return len(self._live)

    def snapshots(self) -> list[dict[str, Any]]:
        """Every live connection's diagnostics, by guild id order."""
        return [self._live[g].snapshot() for g in sorted(self._live)]
