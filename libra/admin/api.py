"""What the admin feature needs from others, as small Protocols (ports).

Admin reads the LLM service (``libra.llm.api.LLMService``), usage figures
(``libra.storage.api.UsageStats``), live voice diagnostics and recent voice turns'
latency through ports the composition root hands in; it imports no implementation.
"""

from __future__ import annotations

from typing import Any, Protocol


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
