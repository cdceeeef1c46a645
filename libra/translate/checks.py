"""Checks on the model's answer before anything is shown or posted.

A translation is refused when it lost or duplicated protected content (see
:mod:`libra.translate.protect`), when it is confidently in another language than the
target, or when it is garbage: empty, a model's chatter instead of a translation,
a loop repeating itself, or far longer than the original could justify.
"""

from __future__ import annotations

import re

from libra.language.api import LanguageService
from libra.translate.protect import prose_of

_PREAMBLE_RE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|okay|ok)[!,.]?\s*)?"
    r"(?:here(?:'s| is) (?:the |your |a )?translation[^:\n]*:|translation[^:\n]{0,30}:)\s*",
    re.IGNORECASE,
)
_QUOTES = ('"', "“", "”", "«", "»", "「", "」", "『", "』")
_QUOTE_PAIRS = {'"': '"', "“": "”", "”": "”", "«": "»", "»": "«", "「": "」", "『": "』"}
"""Opening quote → the closing quote that pairs with it (German and Swedish ones too)."""
_LOOP_RE = re.compile(r"(.{4,}?)\1{5,}", re.DOTALL)
"""A stretch of at least four characters said six times or more in a row."""
_RUN_RE = re.compile(r"(.{1,8}?)\1{2,}", re.DOTALL)
"""Any short unit repeated: "OOOO", "hahaha", "……", "ㅋㅋㅋ" (stretched chat)."""
LOOP_ALLOWANCE = (3, 16)
"""A repeated run in the answer is a loop when longer than ``a × r + b`` characters,
``r`` being the longest run in the text: "ㅋㅋㅋㅋ" may become "hahahahaha"."""
FAMILIES = {"zh-tw": "zh", "zh-cn": "zh"}
"""Codes the check treats as one language: the detector cannot always tell them apart."""
CONFIDENT = 0.75
"""A detection at least this sure of another language means a wrong-language answer."""
UNSURE = 0.45
"""Long text detected below this is no language at all (garbage)."""


def tidy(answer: str, original: str) -> str:
    """Strip what models add around a translation.

    That is a "Here is the translation:" line, quotes the original did not have, and
    surrounding blank lines.
    """
    text = _PREAMBLE_RE.sub("", answer, count=1).strip()
    if len(text) >= 2 and original.strip()[:1] not in _QUOTES and _wrapped(text):
        text = text[1:-1].strip()
    return text


def _wrapped(text: str) -> bool:
    """Whether one pair of quotes wraps all of ``text``.

    '"Bonjour" dit-il, "ça va"' starts and ends with a quote, but they belong to two
    quotations: only a pair with no quote of its kind inside is the model's wrapping.
    """
    closing = _QUOTE_PAIRS.get(text[0])
    if closing is None or text[-1] != closing:
        return False
    inner = text[1:-1]
    return text[0] not in inner and closing not in inner


def _longest_run(text: str) -> int:
    return max((len(m.group(0)) for m in _RUN_RE.finditer(text)), default=0)


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def garbage_problem(answer: str, shielded_text: str) -> str | None:
    """Why ``answer`` cannot be a translation of ``shielded_text``, or ``None``."""
    prose = prose_of(answer)
    if not prose.strip() and prose_of(shielded_text).strip():
        return "the answer was empty"
    if "\ufffd" in answer:
        return "the answer holds broken characters"
    loop = max((len(m.group(0)) for m in _LOOP_RE.finditer(answer)), default=0)
    factor, margin = LOOP_ALLOWANCE
    # Chat stretches words ("NOOOOO", "hahahaha", "ㅋㅋㅋㅋ") and a translation keeps
    # the stretch: only a run far beyond any in the text is the model looping.
    if loop and loop > factor * _longest_run(shielded_text) + margin:
        return "the answer repeats itself"
    if len(answer) > 4 * len(shielded_text) + 80:
        return "the answer is far longer than the text"
    return None


def language_problem(answer: str, target: str, language: LanguageService, *,
                     min_letters: int) -> str | None:
    """Why ``answer`` is not in ``target`` (confidently another language, or none)."""
    prose = prose_of(answer)
    if _letters(prose) < min_letters:
        return None  # too short to judge: names, "OK!", a single word
    detection = language.detect(prose)
    if detection.method == "none":
        return None
    found = FAMILIES.get(detection.language, detection.language)
    if found != FAMILIES.get(target, target) and detection.confidence >= CONFIDENT:
        return f"the answer is in {detection.language}, not {target}"
    if detection.confidence < UNSURE and _letters(prose) >= 2 * min_letters:
        return "the answer is not readable text in any language"
    return None
