"""Cut a streamed LLM answer into speakable units as soon as each one ends.

Text-to-speech starts on the first sentence while the model is still writing the
rest, so the cut must be early and right. A boundary is judged with the least
look-ahead that settles it:

* ``. ! ? …`` end a sentence only when whitespace follows (so ``3.14``, URLs and
  ``a.m.,`` never split); ``.`` and ellipses also not when the next word starts
  lowercase, after a known abbreviation (``Dr.``, ``e.g.``), an initialism (``U.S.``)
  or a list number at the start of a line (``1. ``).
* ``。！？`` (Chinese, Japanese) end a sentence with no space after.
* A line break ends a unit after a heading, list item, table row or quote, before a
  line that starts one, at a blank line, or after a colon; otherwise it is a soft wrap.
* A fenced code block (```` ``` ```` or ``~~~``) is never cut: it is one unit from its
  opening to its closing fence, so :func:`libra.voice.speakable.speakable` can turn it
  into "a code block". Inline code spans are not cut either, unless a line break or
  ``soft_limit`` of text shows the backtick was stray: then its text is judged as prose.
* A sentence that runs long is cut at a clause mark (``,;:`` or ``，、；：``) once it
  passes ``soft_limit``, and at the last space (or anywhere, for text without spaces)
  at ``hard_limit``. East Asian characters weigh more (each is about a syllable).
* The opening units of an answer may be clauses: until ``2 * first_clause_chars`` have
  been emitted, a clause mark ends a unit once it is ``first_clause_chars`` long, so the
  first audio does not wait for a long sentence, and a short first sentence ("Good
  question!") is not followed by a stall while a long second one is written.

Units are slices of the input with surrounding whitespace removed, so nothing but
whitespace is ever lost. ``first_clause_chars=20`` was chosen with ``bench/tts.py``
(fake LLM at 150 ms first token, 30 tokens/s, real Piper): against no clause cut it
brought the first audio of an answer with a long first sentence from 2.7 s to 0.57 s,
and playback stalls after a short first sentence from 0.96 s to 0.11 s; 40 and 60
missed the typical first comma. A 20-character clause is over a second of speech,
enough to cover the making of the next unit, and cuts fall only at commas, where a
speaker pauses anyway.
"""

from __future__ import annotations

import re
import unicodedata

_LATIN_ENDS = ".!?…"
_CJK_ENDS = "。！？｡"
_ENDS = _LATIN_ENDS + _CJK_ENDS
_CLOSERS = "\"'”’)]}」』）】》〉»*_~"
"""What may follow a sentence's last mark and still belong to it (quotes, brackets,
closing markdown emphasis)."""
_LATIN_CLAUSE = ",;:"
_CJK_CLAUSE = "，、；："
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "mt", "vs", "e.g", "i.e", "cf", "approx",
    "nr", "fig", "vol", "inc", "ltd", "corp", "dept", "jan", "feb", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "z.b", "bzw", "u.a", "d.h", "mme", "mlle", "sra",
    "srta", "dra", "p.ej", "т.е", "т.д", "т.п", "ул",
})
"""Words that end with a period without ending a sentence (lowercase, no final dot).

Words that are also ordinary words (``no``, ``mar``, ``dec``) and ``etc.``/``usw.`` are
left out on purpose: they end sentences more often than not, and a lowercase next word
keeps them inside one anyway."""
_INITIALISM = re.compile(r"^(?:[^\W\d_]\.)+[^\W\d_]$|^[A-HJ-Z]$")
"""``U.S``, ``a.m``, ``e.g`` or a single capital initial (not ``I``, a word)."""
_LIST_MARKER = re.compile(r"^\s*(?:\d{1,3}|[a-zA-Z])$")
_BLOCK_LINE = re.compile(r"^\s*(?:#{1,6}\s|[-*+]\s|\d{1,3}[.)]\s|>|\|)")
"""A heading, bullet, numbered item, quote or table row."""
_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})")


def _weight(char: str) -> int:
    # A wide (CJK, kana, Hangul) character is about a syllable; a Latin one, a third.
    return 3 if unicodedata.east_asian_width(char) in "WF" else 1


class SentenceSplitter:
    """Feed LLM text deltas with :meth:`push`; get whole units back as they end.

    Not thread-safe; one per streamed answer.
    """

    def __init__(self, *, first_clause_chars: int | None = 20, soft_limit: int = 150,
                 hard_limit: int = 250) -> None:
        """Set the cut lengths (in weighted characters; see the module docstring).

        Args:
            first_clause_chars: Opening units (until twice this much was emitted) may
                end at a clause mark once this long; ``None`` = only at a sentence end
                (or the limits).
            soft_limit: Past this, a clause mark ends the unit.
            hard_limit: Past this, the last space ends the unit.
        """
        if not 0 < soft_limit <= hard_limit:
            raise ValueError("need 0 < soft_limit <= hard_limit")
        self._first_clause = first_clause_chars
        self._soft = soft_limit
        self._hard = hard_limit
        self._buf = ""
        """Text not yet emitted: the unit being built starts at index 0."""
        self._pos = 0
        """Where scanning resumes (everything before is judged)."""
        self._weight = 0
        """Weighted length of ``_buf[:_pos]`` outside code."""
        self._fence: str | None = None
        """The opening fence (e.g. ```` ``` ````) while inside a code block."""
        self._fence_opening = False
        """Whether the fence's own line is still being skipped."""
        self._inline = 0
        """Length of the backtick run that opened the inline code span we are in."""
        self._inline_from = (0, 0)
        """Where that span's text starts, and ``_weight`` there (to judge it again)."""
        self._overlong = False
        self._emitted = 0
        """Weighted length of the units emitted so far."""

    @property
    def in_code_block(self) -> bool:
        """Whether the text so far ends inside an unclosed fenced code block."""
        return self._fence is not None

    def push(self, delta: str) -> list[str]:
        """Add streamed text; return the units it completed, in order (maybe none)."""
        self._buf += delta
        return self._scan(final=False)

    def flush(self) -> str | None:
        """The text after the last unit (the stream ended), or None if only whitespace.

        The splitter is empty afterwards and can take a new answer.
        """
        # A final scan settles boundaries that waited for look-ahead; what it finds is
        # contiguous text, returned as one string (the caller speaks it next anyway).
        units = self._scan(final=True)
        rest = self._buf.strip()
        if rest:
            units.append(rest)
        self._reset()
        return "\n".join(units) if units else None

    def _reset(self) -> None:
        self._buf = ""
        self._pos = 0
        self._weight = 0
        self._fence = None
        self._fence_opening = False
        self._inline = 0
        self._inline_from = (0, 0)
        self._overlong = False
        self._emitted = 0

    # --- scanning --------------------------------------------------------------------
    # The buffer always starts at the unit being built: emitted text is dropped.

    def _scan(self, *, final: bool) -> list[str]:
        out: list[str] = []
        i = self._pos
        while i < len(self._buf):
            step = self._step(i, final)
            if step is None:
                break  # needs more text to judge
            cut, i = step
            if cut:
                self._cut(i, out)
                i = 0
        self._pos = i
        return out

    def _step(self, i: int, final: bool) -> tuple[bool, int] | None:
        """Judge position ``i``: (whether a unit ends, where), or None = wait for more."""
        buf = self._buf
        if self._fence is not None:
            return self._step_fence(i, final)
        if (i == 0 or buf[i - 1] == "\n") and not self._inline:
            opened = self._open_fence(i, final)
            if opened is None:
                return None
            if opened:
                return (True, i) if buf[:i].strip() else (False, i)
        char = buf[i]
        if char == "`":
            run = self._run_length(i, "`")
            if run is None:
                if not final:
                    return None
                run = len(buf) - i
            after = self._advance(i, i + run)
            if not self._inline:
                self._inline = run
                self._inline_from = (after, self._weight)
            elif self._inline == run:
                self._inline = 0
            return False, after
        if self._inline:
            if char == "\n" or self._weight - self._inline_from[1] >= self._soft:
                # A stray backtick must not swallow the answer (speech would wait for
                # the LLM to finish): real inline code neither spans lines nor runs
                # this long. Judge the text after the backtick again, as prose.
                self._inline = 0
                start, self._weight = self._inline_from
                return False, start
            return False, self._advance(i, i + 1)
        end = self._judge(i, final)
        if end is None:
            return None
        if end:
            return True, end
        i = self._advance(i, i + 1)
        cut = self._over_limit(i)
        return (True, cut) if cut is not None else (False, i)

    def _advance(self, i: int, j: int) -> int:
        self._weight += sum(_weight(c) for c in self._buf[i:j])
        return j

    def _cut(self, end: int, out: list[str]) -> None:
        unit = self._buf[:end].strip()
        if unit:
            out.append(unit)
            self._emitted += sum(_weight(c) for c in unit)
        self._buf = self._buf[end:]
        self._weight = 0
        self._overlong = False

    def _run_length(self, i: int, char: str) -> int | None:
        """Length of the run of ``char`` at ``i``; None if it may continue past the buffer."""
        j = i
        while j < len(self._buf) and self._buf[j] == char:
            j += 1
        return None if j == len(self._buf) else j - i

    # --- code fences -----------------------------------------------------------------

    def _open_fence(self, i: int, final: bool) -> bool | None:
        """Whether a fence opens the line at ``i``; None = not known yet."""
        end = self._buf.find("\n", i)
        line = self._buf[i:] if end < 0 else self._buf[i:end]
        match = _FENCE_OPEN.match(line)
        if match is None:
            if end >= 0 or final:
                return False
            head = line.lstrip(" \t")
            # "``" may still become a fence; so may a line of only indentation.
            return None if not head or (len(head) < 3 and len(set(head)) == 1
                                        and head[0] in "`~") else False
        if end < 0 and not final and match.end() == len(line):
            return None  # the fence may still grow ("````")
        self._fence = match.group(1)
        self._fence_opening = True
        return True

    def _step_fence(self, i: int, final: bool) -> tuple[bool, int] | None:
        """Inside a block, line by line: the closing fence's line ends the unit."""
        assert self._fence is not None
        end = self._buf.find("\n", i)
        if end < 0 and not final:
            return None
        line_end = len(self._buf) if end < 0 else end + 1
        stripped = self._buf[i:line_end].strip()
        if self._fence_opening:
            self._fence_opening = False
            return False, line_end
        if (stripped.startswith(self._fence) and set(stripped) == {self._fence[0]}):
            self._fence = None
            return True, line_end
        return False, line_end

    # --- boundaries ------------------------------------------------------------------

    def _judge(self, i: int, final: bool) -> int | None:
        """Where a unit ends if it ends at ``i`` (> 0), 0 if not, None if not known yet."""
        char = self._buf[i]
        if char == "\n":
            return self._judge_newline(i, final)
        if char in _ENDS:
            return self._judge_end(i, final)
        if char in _LATIN_CLAUSE or char in _CJK_CLAUSE:
            return self._judge_clause(i, final)
        return 0

    def _judge_newline(self, i: int, final: bool) -> int | None:
        buf = self._buf
        if not buf[:i].strip():
            return 0
        line = buf[buf.rfind("\n", 0, i) + 1:i]
        if not line.strip() or _BLOCK_LINE.match(line) or line.rstrip().endswith(":"):
            return i + 1
        j = i + 1
        while j < len(buf) and buf[j] in " \t":
            j += 1
        if j >= len(buf):
            return i + 1 if final else None
        starts_block = buf[j] == "\n" or _starts_block(buf[j:j + 5])
        if starts_block is None:
            return i + 1 if final else None
        return i + 1 if starts_block else 0

    def _judge_end(self, i: int, final: bool) -> int | None:
        buf = self._buf
        j = i
        while j < len(buf) and buf[j] in _ENDS:
            j += 1
        marks = buf[i:j]
        while j < len(buf) and buf[j] in _CLOSERS:
            j += 1
        if j >= len(buf):
            return j if final else None
        if any(c in _CJK_ENDS for c in marks):
            return j
        nxt = buf[j]
        if not nxt.isspace():
            return 0  # 3.14, example.com, a.m.,
        if nxt == "\n" or marks.strip(".…"):
            return j  # "!" and "?" end sentences; so does a line break
        word = _word_before(buf, i)
        if marks == "." and _LIST_MARKER.match(buf[buf.rfind("\n", 0, i) + 1:i]):
            return 0  # "1. " starts a list item
        if marks == "." and (word.lower() in _ABBREVIATIONS or _INITIALISM.match(word)):
            return 0
        k = j
        while k < len(buf) and buf[k].isspace():
            k += 1
        if k >= len(buf):
            return j if final else None
        if buf[k].islower():
            return 0  # "e.g. apples", "Well... maybe"
        return j

    def _judge_clause(self, i: int, final: bool) -> int | None:
        buf = self._buf
        if buf[i] in _LATIN_CLAUSE:
            if i + 1 >= len(buf):
                return i + 1 if final else None
            if not buf[i + 1].isspace():
                return 0  # 1,000 and 12:30 and https:
        length = self._weight + _weight(buf[i])
        first = self._first_clause
        opening = first is not None and self._emitted < 2 * first
        if length >= self._soft or (opening and length >= (first or 0)):
            return i + 1
        return 0

    def _over_limit(self, i: int) -> int | None:
        """Where to cut a unit that has grown past ``hard_limit``, if it has."""
        if self._weight < self._hard:
            return None
        buf = self._buf
        if not self._overlong:
            # First time over: cut at the last clause mark, else the last space, in
            # the last two thirds (never leave a tiny unit behind).
            self._overlong = True
            for is_cut in (lambda c: c in _LATIN_CLAUSE or c in _CJK_CLAUSE, str.isspace):
                for k in range(i - 1, i // 3, -1):
                    if is_cut(buf[k]):
                        return k + 1
        # One long token (a URL, text without spaces): cut at its end, or anywhere
        # inside East Asian text.
        return i if buf[i - 1].isspace() or _weight(buf[i - 1]) > 1 else None


def split_sentences(text: str) -> list[str]:
    """Whole ``text`` as the sentences a speaker synthesises one by one (no clause cut)."""
    splitter = SentenceSplitter(first_clause_chars=None)
    units = splitter.push(text)
    rest = splitter.flush()
    return [*units, rest] if rest else units


def _starts_block(head: str) -> bool | None:
    """Whether a line starting with ``head`` is a block line; None = not known yet."""
    if head[0] in "#>|":
        return True
    if head[0] in "`~":
        return True if len(head) >= 3 and head[:3] in ("```", "~~~") else (
            None if len(head) < 3 and set(head) == {head[0]} else False)
    if head[0] in "-*+":
        return None if len(head) < 2 else head[1] == " "
    match = re.match(r"\d{1,3}", head)
    if match:
        rest = head[match.end():]
        if len(rest) < 2:
            return None if len(head) < 5 else False
        return rest[0] in ".)" and rest[1] == " "
    return False


def _word_before(buf: str, i: int) -> str:
    """The token just before position ``i`` (back to whitespace or an opening bracket)."""
    k = i
    while k > 0 and not buf[k - 1].isspace() and buf[k - 1] not in "([{\"'“‘":
        k -= 1
    return buf[k:i]
