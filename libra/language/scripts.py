"""Writing systems: which script each letter belongs to, and what that implies.

Scripts settle most non-Latin messages with certainty (Hangul is Korean, kana is
Japanese, Bopomofo is Taiwanese Mandarin), which is cheaper and far more reliable
on a three-character message than any n-gram statistics.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from enum import StrEnum


class Script(StrEnum):
    """The writing systems the detector tells apart."""

    LATIN = "latin"
    HANGUL = "hangul"
    KANA = "kana"
    HAN = "han"
    BOPOMOFO = "bopomofo"
    CYRILLIC = "cyrillic"
    GREEK = "greek"
    ARABIC = "arabic"
    HEBREW = "hebrew"
    THAI = "thai"
    DEVANAGARI = "devanagari"
    BENGALI = "bengali"
    GURMUKHI = "gurmukhi"
    GUJARATI = "gujarati"
    TAMIL = "tamil"
    TELUGU = "telugu"
    KANNADA = "kannada"
    MALAYALAM = "malayalam"
    OTHER = "other"


# (first code point, last code point, script), sorted by first code point.
_RANGES: tuple[tuple[int, int, Script], ...] = (
    (0x0041, 0x024F, Script.LATIN),
    (0x0370, 0x03FF, Script.GREEK),
    (0x0400, 0x052F, Script.CYRILLIC),
    (0x0590, 0x05FF, Script.HEBREW),
    (0x0600, 0x06FF, Script.ARABIC),
    (0x0750, 0x077F, Script.ARABIC),
    (0x0900, 0x097F, Script.DEVANAGARI),
    (0x0980, 0x09FF, Script.BENGALI),
    (0x0A00, 0x0A7F, Script.GURMUKHI),
    (0x0A80, 0x0AFF, Script.GUJARATI),
    (0x0B80, 0x0BFF, Script.TAMIL),
    (0x0C00, 0x0C7F, Script.TELUGU),
    (0x0C80, 0x0CFF, Script.KANNADA),
    (0x0D00, 0x0D7F, Script.MALAYALAM),
    (0x0E00, 0x0E7F, Script.THAI),
    (0x1100, 0x11FF, Script.HANGUL),
    (0x1E00, 0x1EFF, Script.LATIN),
    (0x3040, 0x30FF, Script.KANA),
    (0x3100, 0x312F, Script.BOPOMOFO),
    (0x3130, 0x318F, Script.HANGUL),
    (0x31A0, 0x31BF, Script.BOPOMOFO),
    (0x31F0, 0x31FF, Script.KANA),
    (0x3400, 0x4DBF, Script.HAN),
    (0x4E00, 0x9FFF, Script.HAN),
    (0xAC00, 0xD7A3, Script.HANGUL),
    (0xF900, 0xFAFF, Script.HAN),
    (0xFF21, 0xFF5A, Script.LATIN),
    (0xFF66, 0xFF9F, Script.KANA),
    (0x20000, 0x2FA1F, Script.HAN),
)
_STARTS = tuple(r[0] for r in _RANGES)

SCRIPT_LANGUAGES: dict[Script, tuple[str, ...]] = {
    Script.HANGUL: ("ko",),
    Script.KANA: ("ja",),
    Script.HAN: ("zh-cn", "zh-tw", "ja"),
    Script.BOPOMOFO: ("zh-tw",),
    Script.CYRILLIC: ("ru", "uk", "bg", "mk"),
    Script.GREEK: ("el",),
    Script.ARABIC: ("ar", "fa", "ur"),
    Script.HEBREW: ("he",),
    Script.THAI: ("th",),
    Script.DEVANAGARI: ("hi", "mr", "ne"),
    Script.BENGALI: ("bn",),
    Script.GURMUKHI: ("pa",),
    Script.GUJARATI: ("gu",),
    Script.TAMIL: ("ta",),
    Script.TELUGU: ("te",),
    Script.KANNADA: ("kn",),
    Script.MALAYALAM: ("ml",),
}
"""Languages (langdetect codes) written in each non-Latin script."""

NON_LATIN_LANGUAGES: frozenset[str] = frozenset(
    code for codes in SCRIPT_LANGUAGES.values() for code in codes
)

CJK_WEIGHT: dict[Script, float] = {
    Script.HAN: 2.5, Script.KANA: 2.0, Script.HANGUL: 2.5, Script.BOPOMOFO: 2.0,
}
"""How many Latin letters one CJK character is worth when scripts are mixed.

A Han character or a Hangul syllable carries about as much as a short English
word does in five letters, so "I love 寿司" stays English while "寿司食べたい lol"
is Japanese.
"""


def script_of(ch: str) -> Script | None:
    """The script of one character, or ``None`` when it is not a letter."""
    if ch.isascii():
        return Script.LATIN if ch.isalpha() else None
    if not ch.isalpha():
        return None
    cp = ord(ch)
    i = bisect_right(_STARTS, cp) - 1
    if i >= 0 and cp <= _RANGES[i][1]:
        script = _RANGES[i][2]
        if script is Script.LATIN and cp in (0xD7, 0xF7):  # × and ÷ are not letters
            return None
        return script
    return Script.OTHER


def count_scripts(text: str) -> Counter[Script]:
    """How many letters of each script ``text`` holds."""
    counts: Counter[Script] = Counter()
    for ch in text:
        script = script_of(ch)
        if script is not None:
            counts[script] += 1
    return counts


def dominant_script(counts: Counter[Script]) -> tuple[Script, float]:
    """The script that carries most of the text, and its weighted share in [0, 1].

    Kana and Hangul outrank Han: Japanese and Korean text routinely contains Han
    characters, so any kana means Japanese and Hangul means Korean, provided the
    CJK block as a whole outweighs the Latin letters around it.
    """
    weighted = {s: n * CJK_WEIGHT.get(s, 1.0) for s, n in counts.items()}
    total = sum(weighted.values())
    if total == 0:
        return Script.OTHER, 0.0
    cjk = sum(weighted.get(s, 0.0) for s in CJK_WEIGHT)
    non_cjk = {s: w for s, w in weighted.items() if s not in CJK_WEIGHT}
    best_other = max(non_cjk, key=lambda s: non_cjk[s], default=None)
    if cjk > 0 and (best_other is None or cjk >= non_cjk[best_other]):
        if counts.get(Script.HANGUL, 0) >= max(counts.get(Script.KANA, 0), 1):
            return Script.HANGUL, cjk / total
        if counts.get(Script.KANA, 0) > 0:
            return Script.KANA, cjk / total
        if counts.get(Script.BOPOMOFO, 0) > 0:
            return Script.BOPOMOFO, cjk / total
        return Script.HAN, cjk / total
    assert best_other is not None
    return best_other, non_cjk[best_other] / total
