"""What a translation must leave alone, swapped for placeholders the model keeps.

Code blocks, inline code, URLs (and masked links), mentions, channel and role
references, custom emoji, timestamps, markdown markers and the guild's
do-not-translate terms are replaced by ``⟦n⟧`` before the text reaches the model and
put back afterwards. The model only ever sees prose and opaque markers, so nothing
it does can alter a URL or a code sample; :func:`placeholder_problem` then checks
that every marker came back exactly once (a lost or doubled marker means lost or
duplicated content, and the answer is refused).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_PROTECTED = [
    r"```[\s\S]*?```",  # fenced code block
    r"``[^`]+?``|`[^`\n]+`",  # inline code
    r"\[[^\]\n]+\]\(<?https?://[^)\s]+>?\)",  # masked link: kept whole
    # URL: balanced "(...)" belong to it (Wikipedia's Libra_(constellation)), as in
    # Discord; trailing punctuation and an unmatched ")" are prose.
    r"<?https?://(?:[^\s<>()]|\([^\s<>()]*\))*"
    r"(?:[^\s<>().,;:!?\]'\"]|\([^\s<>()]*\))>?",
    r"<a?:\w{2,32}:\d{5,20}>",  # custom emoji
    r"<(?:@[!&]?|#)\d{5,20}>",  # user, role, channel mention
    r"</[\w -]{1,32}:\d{5,20}>",  # slash-command mention
    r"<t:-?\d{1,13}(?::[tTdDfFR])?>",  # timestamp
    r"@(?:everyone|here)\b",
    r"⟦\s*\d+\s*⟧",  # text that already looks like a placeholder stays as it is
    r"\*\*|__|~~|\|\|",  # markdown emphasis, strike, spoiler markers
    r"^(?:#{1,3}|-#|>>>|>|[-*+]|\d{1,3}[.)])(?= )",  # markdown line prefix
]
PROTECTED_RE = re.compile("|".join(f"(?:{p})" for p in _PROTECTED), re.MULTILINE)
"""Every token a translation keeps byte for byte (markdown markers included)."""

CONTENT_RE = re.compile("|".join(f"(?:{p})" for p in _PROTECTED[:10]))
"""The protected tokens that are content (code, links, mentions...), not markup: what a
message made only of these holds nothing to translate."""

PLACEHOLDER_RE = re.compile(r"⟦\s*(\d+)\s*⟧")
"""A placeholder in the model's answer (spaces inside tolerated)."""


def placeholder(index: int) -> str:
    """The marker standing for protected token ``index``."""
    return f"⟦{index}⟧"


@dataclass(frozen=True, slots=True)
class Shielded:
    """A text with its protected tokens swapped for placeholders."""

    text: str
    """What the model sees."""
    tokens: tuple[str, ...]
    """The original of placeholder ``i`` at index ``i``."""


_UNSPACED_SCRIPTS = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH", "HANGUL", "THAI",
                               "LAO", "KHMER", "MYANMAR", "TIBETAN"})
"""Scripts (first word of a character's Unicode name) where a term is matched inside a
run of letters. Chinese, Japanese, Thai, Lao, Khmer, Myanmar and Tibetan put no spaces
between words. Korean does, but particles attach to the noun ("리브라가" is "리브라" +
subject marker) and compounds are often written solid ("디스코드서버"), so a word
boundary there would miss most uses of a term."""


def _needs_boundary(char: str) -> bool:
    """Whether a term edge at ``char`` must not continue into a neighbouring letter."""
    if not (char.isalnum() or char == "_"):
        return False  # "C++", "#general": the edge is punctuation, nothing to extend
    if char.isascii():
        return True
    return unicodedata.name(char, "").split(" ", 1)[0] not in _UNSPACED_SCRIPTS


def _term_pattern(term: str) -> str:
    escaped = re.escape(term)
    # "Über" must not match in "gegenüber", nor "Мир" in "Мировой": a word boundary on
    # every edge that is a letter or digit, except in scripts without spaces.
    start = r"(?<!\w)" if _needs_boundary(term[:1]) else ""
    end = r"(?!\w)" if _needs_boundary(term[-1:]) else ""
    return f"{start}{escaped}{end}"


def term_regex(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern matching any of ``terms`` (longest first)."""
    ordered = sorted({t for t in terms if t.strip()}, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile("|".join(_term_pattern(t) for t in ordered), re.IGNORECASE)


def shield(text: str, keep_terms: Iterable[str] = ()) -> Shielded:
    """Swap every protected token (and each of ``keep_terms``) for a placeholder."""
    tokens: list[str] = []

    def swap(match: re.Match[str]) -> str:
        tokens.append(match.group(0))
        return placeholder(len(tokens) - 1)

    shielded = PROTECTED_RE.sub(swap, text)
    terms = term_regex(keep_terms)
    if terms is not None:
        # Terms are matched in the prose between placeholders only.
        parts = re.split(r"(⟦\d+⟧)", shielded)
        shielded = "".join(p if PLACEHOLDER_RE.fullmatch(p) else terms.sub(swap, p)
                           for p in parts)
    return Shielded(text=shielded, tokens=tuple(tokens))


def placeholder_problem(answer: str, shielded: Shielded) -> str | None:
    """Why the model's answer lost protected content, or ``None`` when it kept it all.

    Each placeholder must appear exactly once and no unknown one may appear.
    """
    seen = [int(m.group(1)) for m in PLACEHOLDER_RE.finditer(answer)]
    expected = range(len(shielded.tokens))
    missing = [i for i in expected if i not in seen]
    doubled = sorted({i for i in seen if seen.count(i) > 1})
    unknown = sorted({i for i in seen if i not in expected})
    if not (missing or doubled or unknown):
        return None
    parts = []
    if missing:
        parts.append("lost " + ", ".join(repr(shielded.tokens[i]) for i in missing[:3]))
    if doubled:
        parts.append("repeated " + ", ".join(repr(shielded.tokens[i]) for i in doubled[:3]))
    if unknown:
        parts.append(f"invented {len(unknown)} marker(s)")
    return "; ".join(parts)


def unshield(answer: str, shielded: Shielded) -> str:
    """Put the protected tokens back (call after :func:`placeholder_problem` said none)."""
    return PLACEHOLDER_RE.sub(lambda m: shielded.tokens[int(m.group(1))], answer)


def prose_of(text: str) -> str:
    """``text`` without its placeholders: what is left to be in some language."""
    return PLACEHOLDER_RE.sub(" ", text)
