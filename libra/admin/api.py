"""What the admin feature needs from others, as small Protocols (ports).

Admin reads the LLM service (``libra.llm.api.LLMService``), usage figures
(``libra.storage.api.UsageStats``), translation figures, live voice diagnostics and
recent voice turns' latency through ports the composition root hands in; it imports
no implementation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from libra.storage.api import GuildGlossaryRow, LanguagePairVolume


class VoiceDiagnosticsSource(Protocol):
    """Live voice connections' diagnostics, read at scrape time.

    Satisfied by the Discord transport's voice connection registry; kept here (not
    imported from ``libra.discord``) so admin depends on no transport.
    """

    def snapshots(self) -> list[dict[str, Any]]:
        """Every live connection's diagnostics (see ``VoiceDiagnostics.snapshot``)."""
        ...


class VoiceLatencySource(Protocol):
    """Recent voice turns' latency, read when the status page or ``/api/stats`` is asked.

    Satisfied by ``libra.voice.latency_board.LatencyBoard``.
    """

    def summary(self) -> dict[str, Any]:
        """Turns, errors by code, engines, p50/p95 per stage and the last turns (JSON-ready)."""
        ...


class TranslationStatsSource(Protocol):
    """Translation volume per language pair and the guilds' glossaries (the operator page).

    Satisfied by storage (``TranslationStore``); every method raises a ``LibraError``
    when the database is not connected or fails.
    """

    async def translation_volume(self, since: datetime) -> list[LanguagePairVolume]:
        """Translations per language pair since ``since``, busiest first."""
        ...

    async def glossary_overview(self, *, limit: int = 200) -> list[GuildGlossaryRow]:
        """Every guild's glossary entries (at most ``limit``), by guild and term."""
        ...
