"""Pause events of the turn detector, on real speech (Piper) with Silero."""

from __future__ import annotations

import numpy as np
import pytest

from libra.errors import ConfigError
from libra.voice.turns import (
    PauseStarted,
    SpeechResumed,
    SpeechStarted,
    TurnDetector,
    TurnEnded,
    TurnEvent,
    UtteranceAudio,
)
from libra.voice.vad import new_detector
from tests.fakes import noise as N


def trimmed(text: str) -> np.ndarray:
    samples = N.speech16k(text)
    blocks = samples[: samples.size // 160 * 160].reshape(-1, 160)
    power = 10 * np.log10(np.mean(blocks**2, axis=1) + 1e-9)
    active = np.flatnonzero(power > power.max() - 45)
    return samples[active[0] * 160 : (active[-1] + 1) * 160]


def run(detector: TurnDetector, *parts: np.ndarray) -> list[TurnEvent]:
    pcm = N.to_pcm(np.concatenate(parts))
    events: list[TurnEvent] = []
    for i in range(0, len(pcm), 640):  # 20 ms, as Discord audio arrives
        events += detector.push(pcm[i : i + 640])
    return events


@pytest.fixture(scope="module")
def halves() -> tuple[np.ndarray, np.ndarray]:
    return trimmed("I would like to order"), trimmed("a large pizza with mushrooms.")


def test_a_pause_is_announced_and_its_end_too(halves: tuple[np.ndarray, np.ndarray]) -> None:
    first, second = halves
    events = run(TurnDetector(new_detector("silero"), pause_ms=150),
                 N.silence(0.3), first, N.silence(0.4), second, N.silence(1))

    kinds = [type(e) for e in events if not isinstance(e, UtteranceAudio)]
    assert kinds == [SpeechStarted, PauseStarted, SpeechResumed, PauseStarted, TurnEnded]
    pauses = [e for e in events if isinstance(e, PauseStarted)]
    [end] = [e for e in events if isinstance(e, TurnEnded)]
    # The last pause is where the turn's speech ended: what was heard then is the turn.
    assert pauses[-1].speech_end_ms == end.speech_end_ms
    assert pauses[0].speech_end_ms < end.speech_end_ms
    assert all(p.at_ms - p.speech_end_ms >= 150 for p in pauses)
    # Every audio of the turn up to the pause was handed out before it.
    index = events.index(pauses[-1])
    heard = [e for e in events[:index] if isinstance(e, UtteranceAudio)]
    assert heard[-1].start_ms + len(heard[-1].pcm) // 32 == pauses[-1].at_ms


def test_no_pause_events_unless_asked(halves: tuple[np.ndarray, np.ndarray]) -> None:
    first, second = halves
    events = run(TurnDetector(new_detector("silero")),
                 N.silence(0.3), first, N.silence(0.4), second, N.silence(1))
    assert not [e for e in events if isinstance(e, PauseStarted | SpeechResumed)]
    with pytest.raises(ConfigError):
        TurnDetector(new_detector("silero"), pause_ms=0)
