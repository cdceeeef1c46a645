"""A wait shortened by a partial does not outlive the pause it was judged in."""

from __future__ import annotations

import numpy as np

from libra.voice.endpointing import Completeness, completeness
from libra.voice.turns import PauseStarted, SpeechResumed, TurnDetector, TurnEnded, TurnEvent
from libra.voice.vad import new_detector
from tests.fakes import noise as N
from tests.unit.voice.test_turns import CHUNK, trimmed


def test_a_shortened_wait_ends_with_the_pause_it_was_judged_in() -> None:
    """"I would like to order." (a speculative final) then more words: the next pause
    inside the sentence gets the whole wait again, not the finished sentence's."""
    detector = TurnDetector(new_detector("silero"), endpoint_silence_ms=500, pause_ms=150)
    pcm = N.to_pcm(np.concatenate([
        N.silence(0.3), trimmed("I would like to order"), N.silence(0.25),
        trimmed("a large pizza"), N.silence(0.4), trimmed("with mushrooms please."),
        N.silence(1.0)]))
    events: list[TurnEvent] = []
    for i in range(0, len(pcm), CHUNK):
        for event in detector.push(pcm[i : i + CHUNK]):
            events.append(event)
            if isinstance(event, PauseStarted) and not any(
                    isinstance(e, SpeechResumed) for e in events):
                # The first pause's transcript ends with a full stop: a shorter wait.
                events += detector.hint("I would like to order.", "en")

    assert any(isinstance(e, SpeechResumed) for e in events)
    turns = [e for e in events if isinstance(e, TurnEnded)]
    assert len(turns) == 1, [(t.speech_end_ms, t.endpoint_wait_ms) for t in turns]
    assert turns[0].speech_ms > 2500


def test_words_left_open_are_not_finished_by_a_full_stop() -> None:
    """Whisper writes a full stop where the audio was cut: "to the." is mid-sentence."""
    assert completeness("I want to go to the.", "en") is Completeness.UNFINISHED
    assert completeness("Quiero ir a la.", "es") is Completeness.UNFINISHED
    # A question may end on a preposition; a finished statement stays finished.
    assert completeness("What are you looking for?", "en") is Completeness.FINISHED
    assert completeness("Turn the lights off.", "en") is Completeness.FINISHED
