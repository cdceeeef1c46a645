"""The language of a transcript: the engine's word, checked by Libra's own detector.

A Vosk model knows one language; Whisper guesses from the audio, which is reliable
on a sentence and shaky on "yes" or "네". Libra's text detector
(:class:`libra.language.detect.LanguageDetector`, tuned for short chat messages)
settles what the engine leaves open: no language at all, Whisper's bare ``zh``
(which variant?), and a doubtful guess on very short text. Pure and cheap (well
under a millisecond on an utterance), so it runs on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable

from libra.language.detect import LanguageDetector
from libra.language.names import KNOWN_CODES, normalize_code

SHORT_TEXT_CHARS = 12
"""Transcripts shorter than this (letters only) get the engine's guess double-checked."""
ENGINE_SURE = 0.8
"""An engine guess at least this probable stands on text of any length."""


def engine_code(code: str, *, zh_default: str = "zh-cn") -> str:
    """An engine's language code in Libra's vocabulary (Whisper's ``zh`` -> ``zh-cn``)."""
    return normalize_code(code, zh_default=zh_default)


def best_allowed(probabilities: Iterable[tuple[str, float]],
                 allowed: frozenset[str]) -> tuple[str, float] | None:
    """The most probable engine language among ``allowed`` Libra codes, if any.

    ``probabilities`` is what Whisper reports (``info.all_language_probs``), in the
    engine's codes; a configured ``zh-cn``/``zh-tw`` accepts Whisper's ``zh``.
    """
    best: tuple[str, float] | None = None
    for code, probability in probabilities:
        if _allows(allowed, code) and (best is None or probability > best[1]):
            best = (code, probability)
    return best


def _allows(allowed: frozenset[str], engine_language: str) -> bool:
    if engine_language == "zh":
        return bool(allowed & {"zh-cn", "zh-tw"})
    return engine_code(engine_language) in allowed


class TranscriptLanguage:
    """Decides a transcript's language among the configured ones.

    Args:
        languages: Candidate Libra codes (``voice.languages``); unknown ones (no
            detection profile) are left to the engine.
        default: Answer for text without letters when the engine says nothing.
        zh_default: Chinese variant when the text fits both.
    """

    def __init__(self, languages: Iterable[str], *, default: str = "en",
                 zh_default: str = "zh-cn") -> None:
        codes = [normalize_code(c, zh_default=zh_default) for c in languages]
        known = [c for c in dict.fromkeys(codes) if c in KNOWN_CODES]
        self.languages: tuple[str, ...] = tuple(known) or (normalize_code(default),)
        fallback = normalize_code(default, zh_default=zh_default)
        if fallback not in self.languages:
            fallback = self.languages[0]
        self._zh_default = zh_default
        self._detector = LanguageDetector(self.languages, default=fallback,
                                          zh_default=zh_default)

    def settle(self, text: str, *, engine_language: str | None = None,
               engine_probability: float | None = None) -> str | None:
        """The transcript's language.

        Args:
            text: What was recognised.
            engine_language: The engine's answer in its own code, if it gave one.
            engine_probability: How sure the engine was (``None`` = as sure as a
                one-language model: its answer stands unless it is bare ``zh``).

        Returns:
            A Libra code; ``None`` only when neither the engine nor the text says.
        """
        letters = sum(ch.isalpha() for ch in text)
        guess = engine_code(engine_language, zh_default=self._zh_default) \
            if engine_language else None
        if letters == 0:
            return guess
        if guess is None:
            return self._detector.detect(text).language
        if engine_language == "zh" and guess in ("zh-cn", "zh-tw"):
            # Whisper hears Chinese, not which standard it is written in.
            return self._detector.detect(text, prefer=guess).language
        if engine_probability is None or engine_probability >= ENGINE_SURE \
                or letters >= SHORT_TEXT_CHARS:
            return guess
        detection = self._detector.detect(text, prefer=guess)
        if detection.language != guess and detection.confidence > engine_probability:
            return detection.language
        return guess

