"""Turn taking on real speech (Piper) and generated noise, with both VAD engines."""

from __future__ import annotations

import random

import numpy as np
import pytest

from libra.config import VoiceSettings
from libra.errors import ConfigError
from libra.voice.turns import (
    EndReason,
    SpeechStarted,
    TurnDetector,
    TurnDiscarded,
    TurnEnded,
    TurnEvent,
    UtteranceAudio,
)
from libra.voice.vad import ENGINES, new_detector
from tests.fakes import noise as N

RATE = N.RATE
CHUNK = RATE * 20 // 1000 * 2  # 20 ms, how a caller streams Discord audio


def trimmed(text: str) -> np.ndarray:
    """Piper speech without its own leading/trailing silence (so pauses are exact)."""
    samples = N.speech16k(text)
    blocks = samples[: samples.size // 160 * 160].reshape(-1, 160)
    power = 10 * np.log10(np.mean(blocks**2, axis=1) + 1e-9)
    active = np.flatnonzero(power > power.max() - 45)
    return samples[active[0] * 160 : (active[-1] + 1) * 160]


@pytest.fixture(scope="module")
def first_half() -> np.ndarray:
    return trimmed("I would like to order")


@pytest.fixture(scope="module")
def second_half() -> np.ndarray:
    return trimmed("a large pizza with mushrooms.")


@pytest.fixture(scope="module")
def question() -> np.ndarray:
    return trimmed("What is the capital of France?")


def run(detector: TurnDetector, samples: np.ndarray, chunk: int = CHUNK) -> list[TurnEvent]:
    pcm = N.to_pcm(samples)
    events: list[TurnEvent] = []
    for i in range(0, len(pcm), chunk):
        events += detector.push(pcm[i : i + chunk])
    return events


def ended(events: list[TurnEvent]) -> list[TurnEnded]:
    return [e for e in events if isinstance(e, TurnEnded)]


def at_ms(samples: np.ndarray) -> int:
    return samples.size * 1000 // RATE


@pytest.mark.parametrize("kind", ["clicks", "coughs"])
def test_noise_bursts_are_not_turns(kind: str) -> None:
    """Typing and coughing next to the microphone never reach speech-to-text as a turn.

    With the default engine. WebRTC takes both for speech and makes turns of them
    (bench/vad.py counts them): one reason Silero is the default.
    """
    noise = N.NOISES[kind](6 * RATE, seed=3) * 8000  # loud: peaks around -12 dBFS
    events = run(TurnDetector(new_detector("silero")), np.concatenate([noise, N.silence(1)]))
    assert ended(events) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_a_short_pause_mid_sentence_does_not_split_the_turn(
    engine: str, first_half: np.ndarray, second_half: np.ndarray
) -> None:
    audio = np.concatenate([N.silence(0.5), first_half, N.silence(0.3), second_half,
                            N.silence(1)])
    turns = ended(run(TurnDetector(new_detector(engine)), audio))
    assert len(turns) == 1
    spoken_ms = at_ms(first_half) + 300 + at_ms(second_half)
    assert turns[0].speech_ms == pytest.approx(spoken_ms, abs=150)
    assert turns[0].reason is EndReason.SILENCE


@pytest.mark.parametrize("engine", ENGINES)
def test_a_pause_longer_than_the_endpoint_splits_it(
    engine: str, first_half: np.ndarray, second_half: np.ndarray
) -> None:
    audio = np.concatenate([N.silence(0.5), first_half, N.silence(0.9), second_half,
                            N.silence(1)])
    turns = ended(run(TurnDetector(new_detector(engine)), audio))
    assert len(turns) == 2
    assert turns[0].speech_ms == pytest.approx(at_ms(first_half), abs=150)
    assert all(500 <= t.silence_ms < 540 for t in turns)
    assert turns[0].end_ms < turns[1].speech_start_ms


def test_max_length_ends_a_turn_while_the_speaker_talks(
    first_half: np.ndarray, second_half: np.ndarray
) -> None:
    audio = np.concatenate([first_half, second_half, N.silence(1)])
    turns = ended(run(TurnDetector(new_detector("silero"), max_utterance_s=1.0), audio))
    assert turns[0].reason is EndReason.MAX_LENGTH
    assert 1000 <= turns[0].end_ms - turns[0].speech_start_ms < 1040
    assert turns[0].silence_ms < 100  # cut mid-speech, not at a pause


@pytest.mark.parametrize("engine", ENGINES)
def test_pre_roll_carries_the_start_of_speech(engine: str, question: np.ndarray) -> None:
    lead = N.silence(1.0)
    audio = np.concatenate([lead, question, N.silence(1)])
    events = run(TurnDetector(new_detector(engine)), audio, chunk=CHUNK * 5)
    started = next(e for e in events if isinstance(e, SpeechStarted))
    true_onset_ms = at_ms(lead)
    assert started.speech_start_ms > true_onset_ms - 40  # detected on the speech itself
    assert started.audio_start_ms <= true_onset_ms - 200  # yet nothing of it is lost
    # The turn's audio is the input, byte for byte, from the pre-roll to the end.
    turn_audio = started.audio + b"".join(e.pcm for e in events if isinstance(e, UtteranceAudio))
    turn = ended(events)[0]
    pcm = N.to_pcm(audio)
    assert turn_audio == pcm[started.audio_start_ms * 32 : turn.end_ms * 32]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_finished_question_is_answered_sooner(engine: str, question: np.ndarray) -> None:
    detector = TurnDetector(new_detector(engine))
    events: list[TurnEvent] = []
    pcm = N.to_pcm(np.concatenate([question, N.silence(1)]))
    for i in range(0, len(pcm), CHUNK):
        events += detector.push(pcm[i : i + CHUNK])
        if detector.in_turn and i == 40 * CHUNK:  # a partial arrives mid-turn
            events += detector.hint("what is the capital of france?", "en")
    turn = ended(events)[0]
    assert turn.endpoint_wait_ms == 275
    assert 275 <= turn.silence_ms < 320


def test_words_left_hanging_keep_listening_through_a_longer_pause(
    first_half: np.ndarray, second_half: np.ndarray
) -> None:
    """Without the hint a 650 ms pause splits the sentence; after "... to order" … no.

    ("order" is not a hanging word, so hint with what a recogniser would have heard
    just before the pause: "I would like to".)
    """
    audio = np.concatenate([first_half, N.silence(0.65), second_half, N.silence(1.2)])
    assert len(ended(run(TurnDetector(new_detector("silero")), audio))) == 2

    detector = TurnDetector(new_detector("silero"))
    pcm = N.to_pcm(audio)
    events: list[TurnEvent] = []
    for i in range(0, len(pcm), CHUNK):
        events += detector.push(pcm[i : i + CHUNK])
        if detector.in_turn and detector.silence_ms > 0:
            events += detector.hint("I would like to", "en")
    turns = ended(events)
    assert len(turns) == 1
    assert turns[0].endpoint_wait_ms == 800
    assert 800 <= turns[0].silence_ms < 840


def test_a_hint_can_end_the_turn_at_once(question: np.ndarray) -> None:
    detector = TurnDetector(new_detector("silero"))
    assert ended(run(detector, np.concatenate([question, N.silence(0.45)]))) == []
    assert 275 <= detector.silence_ms < 500
    events = detector.hint("What is the capital of France?", "en")
    assert len(ended(events)) == 1
    assert not detector.in_turn


def test_hints_outside_a_turn_do_nothing() -> None:
    detector = TurnDetector(new_detector("webrtc"))
    assert detector.hint("hello.", "en") == []
    assert detector.endpoint_wait_ms == 500


@pytest.mark.parametrize("engine", ENGINES)
def test_chunks_of_any_size_give_the_same_turns(engine: str, question: np.ndarray) -> None:
    audio = np.concatenate([N.silence(0.4), question, N.silence(0.8), question, N.silence(0.8)])
    whole = TurnDetector(new_detector(engine)).push(N.to_pcm(audio))
    pcm = N.to_pcm(audio) + b"\x01"  # a trailing half sample must not break anything
    detector = TurnDetector(new_detector(engine))
    rng = random.Random(7)
    pieces: list[TurnEvent] = []
    i = 0
    while i < len(pcm):
        size = rng.choice([1, 3, 7, 333, 1001, 4099])
        pieces += detector.push(pcm[i : i + size])
        i += size
    assert ended(pieces) == ended(whole)
    assert len(ended(pieces)) == 2

    def audio_of(events: list[TurnEvent]) -> bytes:
        return b"".join(e.audio if isinstance(e, SpeechStarted) else e.pcm
                        for e in events if isinstance(e, SpeechStarted | UtteranceAudio))

    assert audio_of(pieces) == audio_of(whole)


def test_a_short_sound_opens_then_is_discarded(question: np.ndarray) -> None:
    """A word fragment shorter than min_utterance_ms is announced, then withdrawn."""
    fragment = question[: int(0.25 * RATE)]
    events = run(TurnDetector(new_detector("silero"), min_utterance_ms=400),
                 np.concatenate([N.silence(0.3), fragment, N.silence(1)]))
    kinds = [type(e) for e in events if not isinstance(e, UtteranceAudio)]
    assert kinds == [SpeechStarted, TurnDiscarded]
    discarded = next(e for e in events if isinstance(e, TurnDiscarded))
    assert discarded.speech_ms < 400


def test_reset_forgets_the_open_turn(question: np.ndarray) -> None:
    detector = TurnDetector(new_detector("silero"))
    run(detector, question[: RATE // 2])
    assert detector.in_turn
    detector.reset()
    assert not detector.in_turn
    assert ended(run(detector, N.silence(1))) == []


def test_settings_feed_the_detector(question: np.ndarray) -> None:
    settings = VoiceSettings(endpoint_silence_ms=300, min_utterance_ms=100, max_utterance_s=5)
    detector = TurnDetector.from_settings(new_detector("silero"), settings)
    assert detector.endpoint_wait_ms == 300
    turn = ended(run(detector, np.concatenate([question, N.silence(1)])))[0]
    assert 300 <= turn.silence_ms < 340


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ConfigError):
        TurnDetector(new_detector("webrtc"), endpoint_silence_ms=0)
    with pytest.raises(ConfigError):
        TurnDetector(new_detector("webrtc"), start_threshold=0.3, stop_threshold=0.6)
