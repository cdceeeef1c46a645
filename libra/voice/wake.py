"""Wake words: does an utterance start with Libra's name, as speech-to-text wrote it?

In a busy voice channel (``/voice mode wake-word``) Libra answers only what is
addressed to it. Speech-to-text rarely spells a name it does not know: measured with
Whisper tiny.en on Piper saying "Libra, …", the name came back as *Libra*, *Library*,
*Liber* and *Liver* (and with a filler first: "Hey, Libra", "Okay, Liber"). So a word
matches a name when their consonant skeletons agree (``libra``, ``library``, ``liber``,
``liver`` and ``libre`` are all ``lbr``: vowels dropped after the first letter, close
consonants such as b/v/p merged, doubles collapsed), or when they are nearly the same
spelling. Only the first word counts, after fillers such as "hey" and "okay": a
name in the middle of a sentence is people talking *about* Libra.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

FILLERS = frozenset({"hey", "hi", "hello", "ok", "okay", "oh", "yo", "so", "um", "uh", "and"})
"""Words people put before a name ("Hey Libra, …")."""
SPELLING_RATIO = 0.75
"""Similarity (difflib ratio) at which a word is taken as the name spelt differently."""
EXTRA_LETTERS = 2
"""How much longer than the name a word sharing its skeleton may be ("library")."""
_WORD = re.compile(r"\w+", re.UNICODE)
_MERGED = str.maketrans({"v": "b", "p": "b", "f": "b", "w": "b", "k": "c", "q": "c",
                         "z": "s", "x": "s", "d": "t", "g": "c"})
_VOWELS = frozenset("aeiouy")


def skeleton(word: str) -> str:
    """The consonant skeleton of a Latin-script word (``"library"`` → ``"lbr"``)."""
    letters = word.casefold().translate(_MERGED)
    if not letters:
        return ""
    out = [letters[0]]
    for char in letters[1:]:
        if char in _VOWELS or char == out[-1]:
            continue
        out.append(char)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class WakeMatch:
    """An utterance addressed to Libra."""

    name: str
    """The configured name it matched."""
    rest: str
    """What was said after the name (the question), stripped of the comma after it."""


class WakeWords:
    """The configured names (``voice.wake_words``) and the fuzzy matcher above."""

    def __init__(self, names: Iterable[str]) -> None:
        """``names``: one or more single words (e.g. ``["Libra"]``)."""
        self.names = tuple(n.strip() for n in names if n.strip())

    def match(self, text: str) -> WakeMatch | None:
        """The name ``text`` starts with (after fillers), or ``None``."""
        words = list(_WORD.finditer(text))
        position = 0
        while position < len(words) and words[position].group().casefold() in FILLERS:
            position += 1
        for found in words[position:position + 1]:
            for name in self.names:
                if _same(found.group(), name):
                    rest = text[found.end():].lstrip(" ,.!?;:-–—").strip()
                    return WakeMatch(name=name, rest=rest)
        return None


def _same(word: str, name: str) -> bool:
    folded, target = word.casefold(), name.casefold()
    if folded == target:
        return True
    if not folded.isascii() or not target.isascii():
        return False  # skeletons are for Latin script; others must match as written
    said, wanted = skeleton(folded), skeleton(target)
    if len(wanted) >= 2 and said.startswith(wanted) \
            and len(folded) <= len(target) + EXTRA_LETTERS and len(said) <= len(wanted) + 1:
        return True
    return SequenceMatcher(None, folded, target).ratio() >= SPELLING_RATIO
