"""How long to wait for more speech, judged from the words heard so far.

A fixed trailing silence is a compromise: long enough not to cut a speaker who pauses
mid-sentence, and then wasted on every finished question. The partial transcript
says which case we are in. :func:`endpoint_wait_ms` shortens the wait when the words
plainly end a sentence (terminal punctuation, a Korean sentence ending, a complete
question such as "what time is it") and lengthens it when they plainly do not (a
trailing comma, conjunction, article, preposition, filler, or a Korean connective
ending). Anything else keeps the configured wait. Streaming recognisers such as Vosk
give no punctuation, so the word tables matter as much as the punctuation.

Pure functions and data only; :class:`libra.voice.turns.TurnDetector` applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

SHORT_FACTOR: Final = 0.55
"""Finished sentence: wait this share of the base (500 ms → 275 ms)."""
SHORT_FLOOR_MS: Final = 200
"""Never wait less than this: a breath between sentences is about that long."""
LONG_FACTOR: Final = 1.6
"""Mid-sentence: wait this multiple of the base (500 ms → 800 ms)."""
MIN_QUESTION_WORDS: Final = 3
"""A question form ("what time is it") counts as finished from this many words."""


class Completeness(StrEnum):
    """What the partial transcript says about the sentence."""

    FINISHED = "finished"
    UNFINISHED = "unfinished"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class LanguageCues:
    """Words and endings that mark a sentence as open or finished in one language."""

    open_words: frozenset[str] = frozenset()
    """A last word from this set leaves the sentence open (and, the, to, because …)."""
    question_starts: frozenset[str] = frozenset()
    """A first word from this set makes a question form (what, is, can …)."""
    open_endings: tuple[str, ...] = ()
    """Suffixes of the last word that leave it open (Korean 고, 는데, 지만 …)."""
    finished_endings: tuple[str, ...] = ()
    """Suffixes of the last word that end a sentence (Korean 요, 다, 까 …)."""
    two_word_starts: frozenset[str] = field(default_factory=frozenset)
    """Question openers of two words ("por qué", "est-ce que", "o que")."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


CUES: Final[dict[str, LanguageCues]] = {
    "en": LanguageCues(
        open_words=_words(
            "and or but because so nor yet although though while whereas unless until "
            "if when whether than as that which who whom whose where "
            "the a an this these those my your his her its our their some any every no "
            "to of in on at for with from by about into onto over under between through "
            "after before during without within against toward towards like "
            "is are was were am be been being can could would should will shall may might "
            "must do does did have has had it's i'm "
            "um uh er erm hmm also then just very really maybe"
        ),
        question_starts=_words(
            "what what's whats where where's who who's when why how how's which whose "
            "is are was were am do does did can could will would should shall may "
            "have has had isn't aren't don't doesn't didn't can't won't"
        ),
    ),
    "es": LanguageCues(
        open_words=_words(
            "y e o u ni pero porque pues que aunque si cuando como mientras donde "
            "el la los las un una unos unas lo mi mis tu tus su sus nuestro "
            "a de del al en con por para sin sobre entre hasta desde hacia según "
            "es son está están fue ser estar muy más también eh este"
        ),
        question_starts=_words(
            "qué que quién quien quiénes dónde donde cuándo cuando cómo como cuál cuáles "
            "cuánto cuánta cuántos cuántas puedes puede tienes tiene hay es está eres"
        ),
        two_word_starts=frozenset({"por qué", "para qué"}),
    ),
    "fr": LanguageCues(
        open_words=_words(
            "et ou mais parce que qu' qui donc car si quand comme lorsque puisque "
            "le la les l' un une des du de d' au aux à en dans sur sous pour avec sans "
            "par chez vers entre mon ma mes ton ta tes son sa ses notre votre leur ce cette "
            "est sont était je tu il elle nous vous ils elles très aussi euh ben"
        ),
        question_starts=_words(
            "qu'est-ce est-ce quoi qui où quand comment pourquoi quel quelle quels "
            "quelles combien peux-tu pouvez-vous as-tu avez-vous es-tu êtes-vous"
        ),
    ),
    "de": LanguageCues(
        open_words=_words(
            "und oder aber weil dass denn sondern ob wenn als obwohl damit während "
            "der die das den dem des ein eine einen einem einer eines mein meine dein "
            "sein seine ihr ihre unser zu mit von für in im auf an am aus bei nach "
            "über unter vor zwischen durch gegen ohne um bis "
            "ist sind war bin hat habe sehr auch äh ähm"
        ),
        question_starts=_words(
            "was wer wo wann warum wieso weshalb wie welche welcher welches woher wohin "
            "ist sind kannst können kann hast haben hat bist gibt würdest könntest"
        ),
    ),
    "pt": LanguageCues(
        open_words=_words(
            "e ou mas porque pois que se quando como enquanto embora "
            "o a os as um uma uns umas meu minha seu sua nosso "
            "de do da dos das em no na nos nas para por pelo pela com sem sobre entre "
            "até desde ao à é são está estão foi muito também tipo né hum"
        ),
        question_starts=_words(
            "que quem onde quando como qual quais quanto quanta quantos quantas "
            "você vocês pode podes tem há é está"
        ),
        two_word_starts=frozenset({"o que", "por que", "por quê", "para que"}),
    ),
    "it": LanguageCues(
        open_words=_words(
            "e o ma perché che se quando come mentre anche però quindi cioè "
            "il lo la i gli le un uno una l' mio mia tuo tua suo sua nostro "
            "di a da in con su per tra fra del dello della dei degli delle al allo "
            "alla ai agli alle dal nel sul è sono era molto più ehm"
        ),
        question_starts=_words(
            "che chi dove quando come perché quale quali quanto quanta quanti quante "
            "cosa puoi può hai ha sei è c'è ci"
        ),
    ),
    "ko": LanguageCues(
        # Korean closes a sentence in the verb ending and leaves it open with a
        # connective ending or a particle; longest match wins ("습니까" is a
        # finished question, "니까" alone means "because").
        open_endings=(
            "고", "는데", "은데", "인데", "지만", "니까", "으니까", "어서", "아서", "해서",
            "서", "면", "으면", "며", "으며", "거나", "든지", "도록", "려고", "으려고",
            "는", "은", "을", "를", "이", "가", "에", "에서", "의", "와", "과", "랑",
            "이랑", "하고", "도", "로", "으로", "께서", "한테",
        ),
        open_words=_words("그리고 그런데 그래서 하지만 근데 그러니까 음 어 저 그 아"),
        finished_endings=(
            "요", "다", "까", "죠", "습니까", "니다", "네", "냐", "니", "래",
            "나요", "가요", "세요", "해", "야", "지",
        ),
    ),
}
"""Cues per language; a language without an entry keeps the base wait (punctuation
still counts, it is universal)."""

_FINISHING_PUNCTUATION: Final = ("?", ".", "!", "。", "？", "！", "؟", "।")
_FULL_STOPS: Final = (".", "。")
_OPEN_PUNCTUATION: Final = (",", "、", "，", ";", ":", "-", "–", "—", "...", "…")
_TRAILING_QUOTES: Final = "\"'”’»)]"
_FINAL_B: Final = 17
"""Index of the final consonant ㅂ in a precomposed Hangul syllable."""
_WORD_EDGE = re.compile(r"^[¿¡\"'“‘«(\[]+|[\"'”’»)\].,!?;:、，。？！…]+$")


def completeness(partial_text: str, language: str | None) -> Completeness:
    """Whether ``partial_text`` plainly ends a sentence, plainly does not, or neither."""
    text = partial_text.strip().rstrip(_TRAILING_QUOTES).strip()
    if not text:
        return Completeness.UNKNOWN
    # Ellipses and commas before full stops: "so..." trails off, it does not end.
    if text.endswith(_OPEN_PUNCTUATION):
        return Completeness.UNFINISHED
    cues = CUES.get((language or "").lower().split("-")[0])
    words = [_WORD_EDGE.sub("", w).lower() for w in text.split()]
    words = [w for w in words if w]
    if text.endswith(_FINISHING_PUNCTUATION):
        # Whisper writes a full stop where the audio was cut: "I went to the." is
        # mid-sentence. A question or exclamation may end on such a word ("What are
        # you looking for?"), so only a full stop gives way to it.
        if (cues is not None and words and words[-1] in cues.open_words
                and text.endswith(_FULL_STOPS)):
            return Completeness.UNFINISHED
        return Completeness.FINISHED
    if cues is None or not words:
        return Completeness.UNKNOWN
    last = words[-1]
    if last in cues.open_words:
        return Completeness.UNFINISHED
    if cues.open_endings or cues.finished_endings:
        return _by_ending(last, cues)
    first_two = " ".join(words[:2])
    if len(words) >= MIN_QUESTION_WORDS and (
        words[0] in cues.question_starts or first_two in cues.two_word_starts
    ):
        return Completeness.FINISHED
    return Completeness.UNKNOWN


def _formal_question(word: str) -> bool:
    """Korean ``-ㅂ니까`` (입니까, 합니까): the ㅂ sits in the syllable before 니까."""
    if len(word) < 3 or not word.endswith("니까"):
        return False
    code = ord(word[-3]) - 0xAC00
    return 0 <= code < 11172 and code % 28 == _FINAL_B


def _by_ending(last: str, cues: LanguageCues) -> Completeness:
    if _formal_question(last):  # not the connective "-니까" ("because")
        return Completeness.FINISHED
    open_match = max((len(e) for e in cues.open_endings if last.endswith(e)), default=0)
    done_match = max((len(e) for e in cues.finished_endings if last.endswith(e)), default=0)
    if open_match == done_match == 0:
        return Completeness.UNKNOWN
    if open_match >= done_match:
        return Completeness.UNFINISHED
    return Completeness.FINISHED


def endpoint_wait_ms(partial_text: str, language: str | None, base_ms: int) -> int:
    """Trailing silence to wait before ending the turn, given the words so far.

    Args:
        partial_text: the latest partial (or final) transcript of the turn.
        language: its ISO 639-1 code, if known (cues exist for en, ko, es, fr, de,
            pt, it; other languages use punctuation only).
        base_ms: the configured wait (``voice.endpoint_silence_ms``).

    Returns:
        ``base_ms`` shortened (finished sentence) or lengthened (mid-sentence).
    """
    verdict = completeness(partial_text, language)
    if verdict is Completeness.FINISHED:
        return min(base_ms, max(SHORT_FLOOR_MS, round(base_ms * SHORT_FACTOR)))
    if verdict is Completeness.UNFINISHED:
        return round(base_ms * LONG_FACTOR)
    return base_ms
