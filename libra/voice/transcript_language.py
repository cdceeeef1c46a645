"""The language of a transcript whose engine does not say it (Libra's own detector).

A Vosk model knows its one language and Whisper detects it; an engine that reports
neither gets Libra's text detector, over the configured languages, so the utterance
names its language in logs, mirrored text and the latency report. The reply language
itself is decided by the chat service from the transcript, as for a text message.
"""

from __future__ import annotations

from libra.config import Settings
from libra.language.detect import LanguageDetector
from libra.voice.utterance import LanguageGuess


def guess_for(settings: Settings) -> LanguageGuess:
    """A guess over ``language.languages``; the detector is built once, when first needed."""
    detector: LanguageDetector | None = None

    def guess(text: str) -> str | None:
        nonlocal detector
        if detector is None:  # built on the first transcript that needs it, not at start
            detector = LanguageDetector(settings.language.languages,
                                        default=settings.language.default)
        found = detector.detect(text)
        # Below the chat's own threshold the guess is None rather than a coin toss.
        return found.language if found.confidence >= settings.language.min_confidence else None

    return guess
