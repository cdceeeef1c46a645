"""The clock of one spoken turn: marks as the turn moves on, the breakdown at the end.

Every mark is ``time.perf_counter()`` seconds, set once (the first time a stage is
reached). The breakdown's stages follow each other, so they add up to the total:
endpoint wait → STT final → chat → LLM first token → first sentence → TTS first audio
(→ first packet sent, which the transport marks through :meth:`TurnClock.first_packet`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from libra.events import VoiceTurnLatency


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000, 1)


@dataclass(slots=True)
class TurnClock:
    """Marks of one turn (``perf_counter`` seconds)."""

    speech_end: float
    """When the user's last speech arrived (files mode: when the audio was given)."""
    turn_end: float
    """When the turn was judged over (speech end + the endpoint silence)."""
    stt_final: float | None = None
    reply_started: float | None = None
    """When the chat service handed back the reply stream (the LLM is asked next)."""
    first_token: float | None = None
    first_sentence: float | None = None
    first_audio: float | None = None
    first_pull: float | None = None
    """When the transport took the first audio to send."""
    first_packet_at: float | None = None
    stt: str = "?"
    tts: str | None = None
    extra: dict[str, float] = field(default_factory=dict)

    @classmethod
    def now(cls) -> TurnClock:
        """A turn whose speech ended (and was judged ended) just now: files mode."""
        t = time.perf_counter()
        return cls(speech_end=t, turn_end=t)

    def mark(self, stage: str) -> None:
        """Set ``stage`` to now unless it was already reached."""
        if getattr(self, stage) is None:
            setattr(self, stage, time.perf_counter())

    def first_packet(self, at: float | None = None) -> None:
        """The transport's hook: the first packet of the answer went out (``perf_counter``)."""
        if self.first_packet_at is None:
            self.first_packet_at = time.perf_counter() if at is None else at

    @property
    def total_ms(self) -> float | None:
        """End of speech to the first synthesised audio."""
        return _ms(self.speech_end, self.first_audio)

    @property
    def libra_ms(self) -> float | None:
        """Total minus the endpoint silence and the LLM's time to its first sentence."""
        total = self.total_ms
        llm = _ms(self.reply_started, self.first_sentence)
        if total is None or llm is None:
            return None
        return round(total - (self.turn_end - self.speech_end) * 1000 - llm, 1)

    def event(self, *, user_id: int, channel_id: int, guild_id: int | None,
              correlation_id: str, error_code: str | None = None) -> VoiceTurnLatency:
        """The breakdown as the telemetry event."""
        return VoiceTurnLatency(
            correlation_id=correlation_id, user_id=user_id, channel_id=channel_id,
            guild_id=guild_id, stt=self.stt, tts=self.tts,
            endpoint_ms=_ms(self.speech_end, self.turn_end) or 0.0,
            stt_final_ms=_ms(self.turn_end, self.stt_final) or 0.0,
            chat_ms=_ms(self.stt_final, self.reply_started),
            llm_first_token_ms=_ms(self.reply_started, self.first_token),
            first_sentence_ms=_ms(self.first_token, self.first_sentence),
            tts_first_audio_ms=_ms(self.first_sentence, self.first_audio),
            first_packet_ms=_ms(self.first_audio, self.first_packet_at),
            total_ms=self.total_ms, libra_ms=self.libra_ms, error_code=error_code,
        )


def breakdown(event: VoiceTurnLatency) -> str:
    """One log line: ``endpoint 500 · stt 120 · chat 8 · …`` (ms)."""
    parts = [("endpoint", event.endpoint_ms), ("stt", event.stt_final_ms),
             ("chat", event.chat_ms), ("llm first token", event.llm_first_token_ms),
             ("first sentence", event.first_sentence_ms),
             ("tts first audio", event.tts_first_audio_ms),
             ("first packet", event.first_packet_ms), ("total", event.total_ms),
             ("libra", event.libra_ms)]
    return " · ".join(f"{name} {value:.0f}" for name, value in parts if value is not None)
