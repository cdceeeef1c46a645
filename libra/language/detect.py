"""Language detection tuned for short chat messages.

Three layers, cheapest and surest first:

1. **Script rules.** Hangul -> ko, any kana -> ja, Bopomofo -> zh-tw, Han only ->
   Chinese, Cyrillic/Greek/Arabic/... -> the configured languages of that script.
   Chinese variants are told apart by characters that exist in only one standard
   (这/這, 们/們 ...); text with none of them (你好, 哈哈) is *ambiguous* and gets the
   caller's preferred variant when it is Chinese, else ``zh_default`` (``zh-cn``
   unless configured), at a confidence just above the default threshold. Han-only
   text may also be Japanese: Japanese-only character forms and words
   (:mod:`libra.language.han`) settle it, and Han text with no evidence either way
   ("好家伙", "最高") is reported at low confidence, so the channel's language stands.
2. **Character n-grams** from langdetect's profiles, restricted to the candidate
   languages. langdetect samples n-grams at random (hence its seed); we score every
   n-gram once instead, which uses the same profiles and smoothing, is deterministic
   by construction and ten times faster on chat-sized text.
3. **Word and letter signals** (:mod:`libra.language.signals`,
   :mod:`libra.language.chat_words`): function words, chat slang and abbreviations
   (elongations squeezed: "lmaooo" is "lmao"), toneless Vietnamese syllables and
   language-specific letters, which settle "danke!", "tqm" or "cam on ban" where
   three-letter statistics cannot.

Scores are log-domain and summed; the confidence is the softmax share of the winner.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.utils.ngram import NGram

from libra.errors import ConfigError
from libra.language.api import Detection
from libra.language.chat_words import SLANG_LANGUAGES, squeeze_variants, vietnamese_syllable
from libra.language.han import chinese_evidence, japanese_evidence
from libra.language.names import KNOWN_CODES, normalize_code
from libra.language.scripts import (
    NON_LATIN_LANGUAGES,
    SCRIPT_LANGUAGES,
    Script,
    count_scripts,
    dominant_script,
)
from libra.language.signals import (
    LETTER_LANGUAGES,
    SIMPLIFIED_ONLY,
    TAIWAN_LATIN_RE,
    TAIWAN_PARTICLES,
    TRADITIONAL_ONLY,
    VIETNAMESE_RANGE,
    WORD_LANGUAGES,
    WORD_RE,
)

MAX_CHARS = 1000
"""Only the start of long texts is read: the answer does not change, the cost does."""

NGRAM_SMOOTHING = 0.5 / 10_000
"""langdetect's default smoothing (alpha / BASE_FREQ)."""
NGRAM_WEIGHT = 0.2
"""Scale of the summed n-gram log-likelihood against the signal bonuses."""
WORD_BONUS = 2.0
"""Log-score added per recognised word, to each language it belongs to."""
LETTER_BONUS = 2.0
"""Log-score of a distinctive letter, split among the languages that use it."""
VIETNAMESE_BONUS = 3.0
"""Log-score per stacked-tone Vietnamese letter."""
SLANG_BONUS = 2.5
"""Log-score per chat word: mostly of one language, and often the whole message."""
VIETNAMESE_SHAPE_BONUS = 0.75
"""Log-score per word when every word of a multi-word message is a Vietnamese syllable."""
JAPANESE_WORD_CONFIDENCE = 0.85
"""Kanji-only text with Japanese words and no Chinese particles: Japanese, fairly sure."""
UNSURE_CONFIDENCE = 0.6
"""Below the default ``min_confidence``: reported, but never moves a channel."""
AMBIGUOUS_ZH_CONFIDENCE = 0.8
"""Chinese without variant-specific characters: surely Chinese, variant a default."""
UNCONFIGURED_CONFIDENCE = 0.05
"""Text in a script none of the configured languages use."""

_NOISE_RE = re.compile(
    r"```.*?```|`[^`]*`"  # code
    r"|https?://\S+|www\.\S+"  # links
    r"|<a?:\w+:\d+>|<[@#][!&]?\d+>|<t:\d+(?::\w)?>"  # Discord emoji, mentions, times
    r"|:[a-z0-9_+-]+:"  # :shortcode: emoji
    r"|@\w+",  # plain @names
    re.DOTALL,
)
_LAUGHS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(?:ja){2,}j?a?$|^(?:je){2,}$"), "es"),
    (re.compile(r"^k{3,}$|^(?:rs){2,}$"), "pt"),
    (re.compile(r"^(?:ah){2,}a?h?$"), "it"),
    (re.compile(r"^(?:ha){2,}h?$"), "en"),
)


def clean_text(text: str) -> str:
    """Drop what carries no language: code, links, mentions, custom emoji."""
    return _NOISE_RE.sub(" ", unicodedata.normalize("NFC", text[:MAX_CHARS]))


MIN_DISTINCT_LETTERS = 4
"""Latin text with fewer distinct letters than this is not evidence of a language."""
LOW_DIVERSITY_CONFIDENCE = 0.3
"""The confidence such text gets (below any sensible ``min_confidence``)."""


class LanguageDetector:
    """Detects the language of a message among a fixed set of candidates.

    Args:
        languages: Candidate codes (any spelling :func:`normalize_code` accepts).
        default: Answer for empty text and for scripts no candidate uses.
        zh_default: Variant chosen for Chinese text that fits both standards.
        seed: Seed of the langdetect factory, so any ``Detector`` it creates is
            reproducible (our own scoring is deterministic regardless).

    Raises:
        ConfigError: a language has no langdetect profile.
    """

    def __init__(self, languages: Sequence[str], *, default: str = "en",
                 zh_default: str = "zh-cn", seed: int = 0) -> None:
        self.zh_default = normalize_code(zh_default)
        codes = [normalize_code(code, zh_default=self.zh_default) for code in languages]
        unknown = [code for code in codes if code not in KNOWN_CODES]
        if unknown:
            raise ConfigError(
                f"language.languages: no detection profile for {', '.join(unknown)}",
                hint=f"use codes among: {', '.join(sorted(KNOWN_CODES))}",
            )
        self.languages: tuple[str, ...] = tuple(dict.fromkeys(codes))
        self.default = normalize_code(default, zh_default=self.zh_default)
        self._latin = tuple(c for c in self.languages if c not in NON_LATIN_LANGUAGES)
        self._factory = DetectorFactory()
        self._factory.set_seed(seed)
        statistical = [c for c in self.languages if c not in ("ko", "ja", "zh-cn", "zh-tw")]
        if len(statistical) >= 2:
            profiles = [(Path(PROFILES_DIRECTORY) / code).read_text(encoding="utf-8")
                        for code in statistical]
            self._factory.load_json_profile(profiles)
        self._table: dict[str, list[float]] = self._factory.word_lang_prob_map
        self._index = {code: i for i, code in enumerate(self._factory.get_lang_list())}

    # -- public ------------------------------------------------------------------------

    def detect(self, text: str, *, prefer: str | None = None) -> Detection:
        """The most likely configured language of ``text``, never raising.

        ``prefer`` (usually the channel's current language) settles Chinese text
        that fits both variants.
        """
        cleaned = clean_text(text)
        counts = count_scripts(cleaned)
        if not counts:
            return Detection(language=self.default, confidence=0.0, method="none")
        script, share = dominant_script(counts)
        if script is Script.LATIN:
            detection = self._statistical(cleaned, self._latin, share)
            if len({ch for ch in cleaned.lower() if ch.isalpha()}) < MIN_DISTINCT_LETTERS:
                # "aaaa", "hmmm", "lololol": no language in it, whatever the n-grams
                # say; never strong enough to move a channel's reply language.
                return replace(detection, confidence=min(detection.confidence,
                                                         LOW_DIVERSITY_CONFIDENCE))
            return detection
        if script in (Script.HAN, Script.BOPOMOFO):
            return self._chinese(cleaned, share, prefer)
        # _statistical settles zero or one candidate by the script rule alone.
        candidates = tuple(c for c in SCRIPT_LANGUAGES.get(script, ()) if c in self.languages)
        return self._statistical(cleaned, candidates, share)

    # -- script rules ------------------------------------------------------------------

    def _chinese(self, text: str, share: float, prefer: str | None) -> Detection:
        variants = tuple(c for c in ("zh-cn", "zh-tw") if c in self.languages)
        if not variants:
            fallback = "ja" if "ja" in self.languages else self.default
            return Detection(language=fallback, confidence=UNCONFIGURED_CONFIDENCE,
                             method="script")
        confidence = _script_confidence(share)
        # Kanji-only text with no Chinese-only character or particle could be Japanese:
        # its Chinese variant may still be clear, but it is not confident.
        chinese = chinese_evidence(text)
        could_be_japanese = "ja" in self.languages and not chinese
        if "ja" in self.languages:
            japanese = self._japanese(text, confidence, prefer, chinese)
            if japanese is not None:
                return japanese
        if could_be_japanese:
            confidence = min(confidence, UNSURE_CONFIDENCE)
        if len(variants) == 1:
            return Detection(language=variants[0], confidence=confidence, method="script")
        simplified = float(sum(ch in SIMPLIFIED_ONLY for ch in text))
        traditional = float(sum(ch in TRADITIONAL_ONLY for ch in text))
        traditional += 0.5 * sum(ch in TAIWAN_PARTICLES for ch in text)
        traditional += 0.5 * len(TAIWAN_LATIN_RE.findall(text))
        traditional += 2.0 * sum("\u3100" <= ch <= "\u312f" for ch in text)  # Bopomofo
        if simplified != traditional:
            language = "zh-cn" if simplified > traditional else "zh-tw"
            return Detection(language=language, confidence=confidence, method="script")
        language = prefer if prefer in variants else self.zh_default
        return Detection(language=language or "zh-cn",
                         confidence=min(confidence, AMBIGUOUS_ZH_CONFIDENCE), method="script")

    @staticmethod
    def _japanese(text: str, confidence: float, prefer: str | None,
                  chinese: float) -> Detection | None:
        """Japanese for kanji-only text that reads as Japanese, else ``None``.

        ``chinese`` is the text's :func:`chinese_evidence`.
        """
        japanese, proven = japanese_evidence(text)
        if japanese <= chinese:
            if prefer == "ja" and chinese == 0:
                # Nothing tells Japanese from Chinese: keep the channel's language.
                return Detection(language="ja", confidence=min(confidence, UNSURE_CONFIDENCE),
                                 method="script")
            return None
        if chinese == 0 and proven:
            sure = confidence
        elif chinese == 0 and japanese >= 1:
            sure = min(confidence, JAPANESE_WORD_CONFIDENCE)
        else:
            sure = min(confidence, UNSURE_CONFIDENCE)
        return Detection(language="ja", confidence=sure, method="script")

    # -- statistics and signals --------------------------------------------------------

    def _statistical(self, text: str, candidates: Sequence[str], share: float) -> Detection:
        if not candidates:
            return Detection(language=self.default, confidence=UNCONFIGURED_CONFIDENCE,
                             method="script")
        if len(candidates) == 1:
            return Detection(language=candidates[0], confidence=_script_confidence(share),
                             method="script")
        scores = self.scores(text, candidates)
        best = max(scores, key=lambda c: scores[c])
        top = scores[best]
        total = sum(math.exp(s - top) for s in scores.values())
        confidence = min(0.99, share / total)
        return Detection(language=best, confidence=round(confidence, 4), method="statistical")

    def scores(self, text: str, candidates: Sequence[str]) -> dict[str, float]:
        """Log-domain score of each candidate: n-gram evidence plus signal bonuses."""
        scores = dict.fromkeys(candidates, 0.0)
        self._add_ngram_scores(text, scores)
        lowered = text.lower()
        words = WORD_RE.findall(lowered)
        for word in words:
            self._add_word_scores(word, scores)
        if "vi" in scores and len(words) >= 2 and all(
                vietnamese_syllable(word) for word in words):
            # Only words no other language claims: "mi sa di no" is Italian, and
            # every one of its words also has the shape of a Vietnamese syllable.
            unclaimed = sum(not _claimed_by_others(word) for word in words)
            scores["vi"] += VIETNAMESE_SHAPE_BONUS * unclaimed
        for letter in set(lowered):
            users = LETTER_LANGUAGES.get(letter)
            if users:
                for language in users:
                    if language in scores:
                        scores[language] += LETTER_BONUS / len(users)
            elif "vi" in scores and VIETNAMESE_RANGE[0] <= ord(letter) <= VIETNAMESE_RANGE[1]:
                scores["vi"] += VIETNAMESE_BONUS
        return scores

    @staticmethod
    def _add_word_scores(word: str, scores: dict[str, float]) -> None:
        """Function-word, chat-word and laughter bonuses of one lower-cased word."""
        for spelling in (word, *squeeze_variants(word)):
            known = WORD_LANGUAGES.get(spelling, ())
            slang = SLANG_LANGUAGES.get(spelling, ())
            laughs = [language for pattern, language in _LAUGHS if pattern.match(spelling)]
            if not (known or slang or laughs):
                continue  # try the squeezed spelling of "lmaooo", "siii", "mdrrr"
            for language in known:
                if language in scores:
                    scores[language] += WORD_BONUS
            for language in slang:
                if language in scores:
                    scores[language] += SLANG_BONUS
            for language in laughs:
                if language in scores:
                    scores[language] += WORD_BONUS
            return

    def _add_ngram_scores(self, text: str, scores: dict[str, float]) -> None:
        columns = [(code, self._index[code]) for code in scores if code in self._index]
        if len(columns) < 2:
            return
        sums = [0.0] * len(columns)
        ngram = NGram()
        table = self._table
        log = math.log
        for ch in text:
            ngram.add_char(ch)
            if ngram.capitalword:
                continue
            grams = ngram.grams
            for n in (1, 2, 3):
                if len(grams) < n:
                    break
                probs = table.get(grams[-n:])
                if probs is None:
                    continue
                for k, (_, i) in enumerate(columns):
                    sums[k] += log(probs[i] + NGRAM_SMOOTHING)
        for (code, _), total in zip(columns, sums, strict=True):
            scores[code] += total * NGRAM_WEIGHT


def _claimed_by_others(word: str) -> bool:
    """Whether a word is in the tables of a Latin-script language other than Vietnamese."""
    return bool((WORD_LANGUAGES.get(word, frozenset()) | SLANG_LANGUAGES.get(word, frozenset()))
                - {"vi"})


def _script_confidence(share: float) -> float:
    """Certain when the script carries the whole text; less so when mixed."""
    return round(min(0.99, 0.5 + 0.6 * share), 4)
