"""Prometheus families of voice turns, fed by the latency board's bus handler.

Named and labelled like the collector's (``libra_<area>_<what>_<unit>``, seconds,
``_total`` counters): engines and error codes are labels (a handful of values), users,
channels and guilds never are (unbounded, and a user id is personal data).
"""

from __future__ import annotations

from libra.events import VoiceTurnLatency
from libra.metrics import MetricsRegistry

from .latency_figures import BREAKDOWN, TurnStage, stage_ms

VOICE_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0,
    10.0, 30.0,
)
"""Finer than the default buckets between 0.1 and 1 s, where spoken turns live (the
issue's target for Libra's share is p50 < 250 ms)."""


class VoiceTurnMetrics:
    """``libra_voice_turn*`` families in ``registry``; :meth:`observe` records one turn."""

    def __init__(self, registry: MetricsRegistry) -> None:
        """Register the families (each name once per registry)."""
        r = registry
        self.stage = r.histogram(
            "libra_voice_turn_stage_seconds",
            "Voice turn latency per consecutive stage (endpoint silence, STT final, chat, "
            "LLM first token, first sentence, TTS first audio, first packet sent).",
            ["stage"], VOICE_BUCKETS)
        self.total = r.histogram(
            "libra_voice_turn_seconds",
            "End of the user's speech to Libra's first synthesised audio.", (), VOICE_BUCKETS)
        self.libra = r.histogram(
            "libra_voice_turn_libra_seconds",
            "Libra's own share of a voice turn: total minus the endpoint silence and the "
            "LLM's time to its first sentence.", (), VOICE_BUCKETS)
        self.turns = r.counter("libra_voice_turns_total",
                               "Voice turns by speech-to-text and text-to-speech engine.",
                               ["stt", "tts"])
        self.errors = r.counter("libra_voice_turn_errors_total",
                                "Voice turns that failed, by error code.", ["code"])

    def observe(self, event: VoiceTurnLatency) -> None:
        """Count the turn and observe each stage it reached."""
        self.turns.inc(stt=event.stt, tts=event.tts or "none")
        if event.error_code:
            self.errors.inc(code=event.error_code)
        for stage in BREAKDOWN:
            value = stage_ms(event, stage)
            if value is not None:
                self.stage.observe(value / 1000, stage=stage.value)
        if event.total_ms is not None:
            self.total.observe(event.total_ms / 1000)
        if (libra := stage_ms(event, TurnStage.LIBRA)) is not None:
            self.libra.observe(libra / 1000)
