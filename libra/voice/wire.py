"""A transport that goes quiet: its silence, filled in for the turn detector.

A transport may send nothing at all while nobody talks (Discord sends ~5 silent
frames after a talk spurt, then no packets). The turn detector counts *audio* time,
so without this the endpoint silence would never be reached on such a wire.
"""

from __future__ import annotations

import time

from libra.voice.api import SPEECH_RATE
from libra.voice.turns import TurnDetector, TurnEvent
from libra.voice.vad import frame_bytes

TICK_MS = 30
"""How often an open turn checks whether the transport went quiet."""
JITTER_MS = 200
"""Lateness of a chunk still taken for jitter (or a busy event loop), not for a silent
wire. Silence pushed too early cannot be taken back (a late chunk lands after it, and
a mid-sentence pause grows), while waiting longer costs nothing as long as it is
shorter than the endpoint wait left: the whole gap is pushed at once, so the turn
still ends ``endpoint_silence_ms`` after the last audio."""
MAX_CHUNK_WAIT_MS = 250
"""The longest gap between chunks a live transport has (it may send bigger chunks at
once, e.g. a file: those do not make the listener wait longer for the next one)."""


class QuietWire:
    """Pairs the detector's audio time with the wall clock, and fills silent wires.

    A transport may send nothing at all while nobody talks (Discord sends ~5 silent
    frames after a talk spurt, then no packets): counting only the audio received, the
    endpoint silence would never be reached and a turn would end only at
    ``max_utterance_s``. Once a chunk is later than its own length plus jitter, the
    wall time since the audio received ended is pushed to the detector as silence, so
    the turn ends ``endpoint_silence_ms`` after the last audio, as on a wire that sends
    silence. Audio time stays the wall time of the audio's end.
    """

    def __init__(self, detector: TurnDetector) -> None:
        self._detector = detector
        self._frame_bytes = frame_bytes(detector.vad.frame_ms)
        self.audio_end = time.perf_counter()
        """Wall time the audio pushed so far (received or filled in) ends at."""
        self._arrived = self.audio_end
        self._chunk_s = 0.0

    def heard(self, pcm: bytes) -> list[TurnEvent]:
        """A chunk arrived: it ends now."""
        self._arrived = self.audio_end = time.perf_counter()
        self._chunk_s = min(len(pcm) / 2 / SPEECH_RATE, MAX_CHUNK_WAIT_MS / 1000)
        return self._detector.push(pcm)

    def fill(self) -> list[TurnEvent]:
        """No chunk for a while: push the silence the wire did not send."""
        now = time.perf_counter()
        if now - self._arrived < self._chunk_s + JITTER_MS / 1000:
            return []  # the next chunk may still be on its way
        frames = int((now - self.audio_end) * SPEECH_RATE * 2 // self._frame_bytes)
        if frames <= 0:
            return []
        self.audio_end += frames * self._frame_bytes / 2 / SPEECH_RATE
        return self._detector.push(bytes(frames * self._frame_bytes))
