"""A transcribed turn, as the listener hands it to the answering side."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libra.voice.latency import TurnClock

LanguageGuess = Callable[[str], "str | None"]
"""Libra's detector applied to a transcript, for engines that do not say the language."""


def no_guess(text: str) -> str | None:
    """A guess that never guesses (the chat service still detects the reply language)."""
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Utterance:
    """One speaker's finished turn, transcribed."""

    text: str
    language: str | None
    """The engine's language, else Libra's detector's; None when neither could tell."""
    audio_ms: float
    """How long the utterance's speech was."""
    clock: TurnClock
    """Its marks so far (speech end, turn end, final transcript)."""
