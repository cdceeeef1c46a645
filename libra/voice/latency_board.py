"""The voice turns' latency, kept for people to read: ``/voice status``, ``/stats``, admin.

Every spoken turn ends with a :class:`~libra.events.VoiceTurnLatency` on the bus. The
board keeps, per guild and for the whole process, the last turn and a rolling window of
the last ``window`` turns, and answers p50/p95 per stage over that window: what a
person asking "is voice slow right now?" wants, where the Prometheus histograms
(``latency_metrics.py``, fed by the same handler) answer over all time.

It only observes (no feature acts on what it holds), so the event stays telemetry.
Memory is bounded: ``window`` events per guild, for the ``guilds`` most recently heard.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from libra.bounded import LruDict
from libra.bus import EventBus
from libra.events import VoiceTurnLatency
from libra.metrics import MetricsRegistry

from .latency_figures import StageFigure, TurnStage, TurnStats, percentile, stage_ms
from .latency_labels import format_status_lines
from .latency_metrics import VoiceTurnMetrics

DEFAULT_WINDOW = 100
"""Turns the rolling p50/p95 cover: enough for a stable p95, recent enough to move."""
DEFAULT_GUILDS = 1000
"""Guilds whose turns are kept (least recently heard forgotten first)."""
RECENT_SHOWN = 10
"""Turns listed one by one in :meth:`LatencyBoard.summary` (the operator page)."""
MAX_ENGINES = 50
"""Distinct engine names counted; a misbehaving source cannot grow the board without end."""


@dataclass(slots=True)
class _Tally:
    """Turns of one guild (or of all): counts since start and the rolling window."""

    recent: deque[VoiceTurnLatency]
    turns: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, event: VoiceTurnLatency) -> None:
        self.recent.append(event)
        self.turns += 1
        if event.error_code:
            self.errors[event.error_code] += 1

    def stats(self) -> TurnStats:
        figures = []
        for stage in TurnStage:
            values = [v for e in self.recent if (v := stage_ms(e, stage)) is not None]
            if values:
                figures.append(StageFigure(stage, len(values), round(percentile(values, 0.5), 1),
                                           round(percentile(values, 0.95), 1)))
        failed = Counter(e.error_code for e in self.recent if e.error_code)
        return TurnStats(turns=self.turns, errors=dict(self.errors), window=len(self.recent),
                         window_errors=dict(failed),
                         stages=tuple(figures), last=self.recent[-1] if self.recent else None)


class LatencyBoard:
    """Keeps recent voice turns' latency per guild; see the module docstring.

    Built once by the composition root, which hands it to ``/voice status`` (through
    the spoken conversation), ``/stats`` and the operator page.
    """

    def __init__(self, bus: EventBus, *, metrics: MetricsRegistry | None = None,
                 window: int = DEFAULT_WINDOW, guilds: int = DEFAULT_GUILDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Subscribe to ``VoiceTurnLatency`` on ``bus`` (no I/O).

        ``metrics``: the registry ``/metrics`` renders, given the voice-turn families
        (``None``: no admin port, no histograms). ``clock`` must be the events' clock
        (``Event.created_at`` is ``time.monotonic``); it dates the turns shown.
        """
        if window < 1:
            raise ValueError(f"the latency window needs at least one turn (got {window})")
        self.window = window
        self._clock = clock
        self._all = self._tally()
        self._by_guild: LruDict[int | None, _Tally] = LruDict(guilds)
        self._stt: Counter[str] = Counter()
        self._tts: Counter[str] = Counter()
        self._metrics = VoiceTurnMetrics(metrics) if metrics is not None else None
        self._subscription = bus.subscribe(VoiceTurnLatency, self._on_turn,
                                           name="voice:latency-board")

    def close(self) -> None:
        """Stop listening to the bus (idempotent); what was kept stays readable."""
        self._subscription.unsubscribe()

    def _tally(self) -> _Tally:
        return _Tally(recent=deque(maxlen=self.window))

    async def _on_turn(self, event: VoiceTurnLatency) -> None:
        self.record(event)

    def record(self, event: VoiceTurnLatency) -> None:
        """Count one turn (the bus handler; synchronous, so a read never sees half of it)."""
        self._all.add(event)
        tally = self._by_guild.get(event.guild_id)
        if tally is None:
            tally = self._by_guild[event.guild_id] = self._tally()
        tally.add(event)
        for counter, name in ((self._stt, event.stt), (self._tts, event.tts)):
            if name and (name in counter or len(counter) < MAX_ENGINES):
                counter[name] += 1
        if self._metrics is not None:
            self._metrics.observe(event)

    # -- reading -------------------------------------------------------------------

    def last(self, guild_id: int | None) -> VoiceTurnLatency | None:
        """The guild's most recent turn (``None`` before its first)."""
        tally = self._by_guild.get(guild_id)
        return tally.recent[-1] if tally is not None and tally.recent else None

    def in_guild(self, guild_id: int | None) -> TurnStats:
        """The guild's turns: counts since start, p50/p95 per stage over its window."""
        tally = self._by_guild.get(guild_id)
        return (tally or self._tally()).stats()

    def overall(self) -> TurnStats:
        """Every guild's turns together."""
        return self._all.stats()

    def engines(self) -> dict[str, dict[str, int]]:
        """Turns per ``engine:model`` for speech-to-text (``stt``) and speech (``tts``)."""
        return {"stt": dict(self._stt.most_common()), "tts": dict(self._tts.most_common())}

    def summary(self) -> dict[str, Any]:
        """Everything, JSON-ready: the operator page and ``/api/stats`` (no user ids)."""
        stats = self.overall()
        now = self._clock()
        recent = list(self._all.recent)[-RECENT_SHOWN:][::-1]
        return {
            "turns": stats.turns,
            "errors": stats.errors,
            "window": stats.window,
            "stages": [{"stage": f.stage.value, "samples": f.samples, "p50_ms": f.p50_ms,
                        "p95_ms": f.p95_ms} for f in stats.stages],
            "engines": self.engines(),
            "recent": [{
                "guild_id": e.guild_id, "channel_id": e.channel_id, "stt": e.stt,
                "tts": e.tts, "error_code": e.error_code,
                "age_s": round(max(0.0, now - e.created_at), 1),
                "stages": {s.value: stage_ms(e, s) for s in TurnStage},
            } for e in recent],
        }

    def status_lines(self, guild_id: int, language: str) -> list[str]:
        """Short lines for ``/voice status`` in ``language``.

        Engines, the last turn's breakdown, p50/p95 of the guild's recent turns; one
        line saying there were none before the guild's first turn.
        """
        return format_status_lines(self.in_guild(guild_id), language)
