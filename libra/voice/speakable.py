"""Turn a chat answer's markdown into what should be said aloud.

A text answer is written for eyes: fenced code, URLs, emoji, Discord mentions and
markdown markup read aloud literally are noise ("backtick backtick backtick", "h t t
p s colon slash slash", "smiling face with smiling eyes"). :func:`speakable` keeps the
words and drops or names the rest:

* a fenced code block → "a code block" in the answer's language (closed or not: the
  sentence splitter hands over a whole block, or the unclosed rest at the end);
* inline code → its words (``max_retries`` → "max retries");
* ``[text](url)`` → text; an image → its alt text; a bare URL → its site
  (``github.com``), which tells a listener where it points in two words;
* emoji (Unicode and Discord's ``<:name:id>``) → dropped: speech engines skip them or
  read their long Unicode names, and an answer's words already carry its tone;
* mentions ``<@id>``/``<@&id>``/``<#id>`` → dropped (no names are known here, and a
  generic "someone" reads worse than nothing in "thanks <@1>!"); ``@everyone`` →
  "everyone";
* headings, emphasis, strike, spoilers, bullets, quotes, rules and table pipes →
  plain prose, each structural line ending in a pause; HTML entities unescaped;
  whitespace collapsed.

The phrases use the same shape and fallbacks as :mod:`libra.chat.messages` (base
code, ``zh-tw`` falling back to ``zh-cn``, English last) but live here: they are spoken
words, not error messages, and voice should not import the chat package for them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import urlsplit

_PHRASES: dict[str, dict[str, str]] = {
    "code_block": {
        "en": "a code block", "ko": "코드 블록", "ja": "コードブロック", "zh-cn": "代码块",
        "zh-tw": "程式碼區塊", "es": "un bloque de código", "fr": "un bloc de code",
        "de": "ein Codeblock", "ru": "блок кода", "pt": "um bloco de código",
        "it": "un blocco di codice", "vi": "một khối mã",
    },
    "link": {
        "en": "a link", "ko": "링크", "ja": "リンク", "zh-cn": "链接", "zh-tw": "連結",
        "es": "un enlace", "fr": "un lien", "de": "ein Link", "ru": "ссылка",
        "pt": "um link", "it": "un link", "vi": "một liên kết",
    },
    "everyone": {
        "en": "everyone", "ko": "여러분", "ja": "皆さん", "zh-cn": "大家", "zh-tw": "大家",
        "es": "todos", "fr": "tout le monde", "de": "alle", "ru": "все", "pt": "todos",
        "it": "tutti", "vi": "mọi người",
    },
}


def phrase(key: str, language: str) -> str:
    """The spoken phrase ``key`` in ``language`` (English when not translated)."""
    table = _PHRASES[key]
    lang = language.lower().replace("_", "-")
    if lang not in ("zh-cn", "zh-tw"):
        lang = lang.split("-", maxsplit=1)[0]
    if lang == "zh":
        lang = "zh-cn"
    if lang == "zh-tw" and "zh-tw" not in table:
        lang = "zh-cn"
    return table.get(lang) or table["en"]


def _full_stop(language: str) -> str:
    return "。" if language.lower().startswith(("ja", "zh")) else "."


_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n?(?:.*?\n[ \t]*\1[`~]*[ \t]*(?:\n|$)|.*\Z)",
                    re.DOTALL | re.MULTILINE)
"""A fenced block: up to its closing fence, or to the end when it was never closed."""
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
_LINK = re.compile(r"\[([^\]]+)\]\(\s*<?[^)\s>]*>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^>\s]+)>")
_URL = re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>()\[\]\"']+[^\s<>()\[\]\"'.,;:!?]")
_CUSTOM_EMOJI = re.compile(r"<a?:\w{2,32}:\d{15,21}>")
_MENTION = re.compile(r"<(?:@[!&]?|#)\d{15,21}>")
_TIMESTAMP = re.compile(r"<t:-?\d+(?::[tTdDfFR])?>")
_SLASH_COMMAND = re.compile(r"</([\w -]{1,32}):\d{15,21}>")
_EVERYONE = re.compile(r"@(everyone|here)\b")
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # pictographs, emoticons, transport, flags, skin tones
    "\u2600-\u27bf"  # misc symbols and dingbats
    "\u2b00-\u2bff"  # stars, arrows used as emoji
    "\u2190-\u21ff"  # arrows ("A → B" is read "rightwards arrow")
    "\u2300-\u23ff"  # watch, hourglass, media keys
    "\ufe0e\ufe0f\u200d\u20e3"  # variation selectors, joiner, keycap
    "\U000e0020-\U000e007f"  # tag characters (subdivision flags)
    "]+"
)
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+(.*?)[ \t#]*$")
_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+(?:\[[ xX]\][ \t]+)?")
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_RULE = re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$")
_TABLE_SEPARATOR = re.compile(r"^[ \t]*\|?(?:[ \t]*:?-{2,}:?[ \t]*\|?)+[ \t]*$")
_NUMBERED = re.compile(r"^[ \t]*\d{1,3}[.)][ \t]+")
_EMPHASIS = (
    re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*"),
    re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)"),
    re.compile(r"\*(?=\S)(.+?)(?<=\S)\*"),
    re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"),
    re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"),
    re.compile(r"\|\|(.+?)\|\|"),  # Discord spoiler
)
_TIMES = re.compile(r"(?<=\d)\*(?=\d)")
"""An asterisk between digits ("2*3"); a spaced one ("5 * 3") is never emphasis."""
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~>])")
_ENDS_CLAUSE = re.compile(r"[.!?…:;,。！？、，：；]['\"”’)」』）]*$")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")


def speakable(text: str, language: str) -> str:
    """What to say aloud for ``text`` (markdown from a chat answer) in ``language``.

    Returns an empty string when nothing in ``text`` is worth saying (only emoji,
    mentions or markup).
    """
    spoken: list[str] = []

    def hold(words: str) -> str:
        # Finished pieces wait behind placeholders so later rules cannot mangle them.
        spoken.append(words)
        return f"\x00{len(spoken) - 1}\x00"

    stop = _full_stop(language)
    code = phrase("code_block", language)
    text = _FENCE.sub(lambda m: "\n" + hold(f"{code}{stop}") + "\n", text)
    text = _INLINE_CODE.sub(lambda m: hold(_code_words(m.group(2))), text)
    text = _ESCAPE.sub(lambda m: hold(m.group(1)), text)  # "\*" is a star, not emphasis
    text = _CUSTOM_EMOJI.sub("", text)
    text = _MENTION.sub("", text)
    text = _TIMESTAMP.sub("", text)
    text = _SLASH_COMMAND.sub(lambda m: hold(m.group(1)), text)
    text = _EVERYONE.sub(lambda m: hold(phrase("everyone", language)), text)
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _AUTOLINK.sub(lambda m: hold(_site(m.group(1), language)), text)
    text = _URL.sub(lambda m: hold(_site(m.group(0), language)), text)
    text = _EMOJI.sub("", text)
    text = _HTML_TAG.sub(" ", text)
    text = _prose(text, stop, lambda s: _PLACEHOLDER.sub(lambda m: spoken[int(m.group(1))], s))
    # "2*3*4" is a product, not emphasis around "3" (which left "234"); espeak-ng (and
    # so Piper) says "×" as "times".
    text = _TIMES.sub(" × ", text)
    for pattern in _EMPHASIS:
        text = pattern.sub(r"\1", text)
    text = re.sub(r"(?<=[^\W_])_+(?=[^\W_])", " ", text)  # snake_case read as words
    text = html.unescape(text)
    text = _PLACEHOLDER.sub(lambda m: spoken[int(m.group(1))], text)
    return _tidy(text)


def _prose(text: str, stop: str, expand: Callable[[str], str]) -> str:
    """Markdown lines → one line of prose; structural lines end with a pause.

    ``expand`` resolves placeholders, to see how a line really ends.
    """
    parts: list[str] = []
    for raw in text.split("\n"):
        line = raw
        structural = False
        if _RULE.match(line) or _TABLE_SEPARATOR.match(line):
            continue
        if (heading := _HEADING.match(line)) is not None:
            line, structural = heading.group(1), True
        if _QUOTE.match(line):
            line, structural = _QUOTE.sub("", line), True
        if _BULLET.match(line):
            line, structural = _BULLET.sub("", line), True
        elif _NUMBERED.match(line):
            structural = True  # keep the number: "1. Preheat" is read "one. Preheat"
        if line.count("|") >= 2 and line.strip().startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            line, structural = ", ".join(c for c in cells if c), True
        line = line.strip()
        if not line:
            if parts and not _ENDS_CLAUSE.search(expand(parts[-1])):
                parts[-1] += stop  # a paragraph ends with a pause
            continue
        if structural and not _ENDS_CLAUSE.search(expand(line)):
            line += stop
        parts.append(line)
    return " ".join(parts)


def _code_words(code: str) -> str:
    """Inline code as words: ``max_retries`` → "max retries", ``--verbose`` → "verbose"."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", code)
    words = re.sub(r"[_./\\:]+|(?<!\w)-+|-+(?!\w)", " ", words)
    words = re.sub(r"[`(){}\[\]<>;\"'$#@*^|]+", " ", words)
    return " ".join(words.split())


def _site(url: str, language: str) -> str:
    """A URL as its site's name (``github.com``), or "a link" when it has none."""
    try:
        host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    except ValueError:
        host = ""
    host = host.removeprefix("www.")
    return host if "." in host else phrase("link", language)


def _tidy(text: str) -> str:
    text = " ".join(text.split())
    text = re.sub(r"\s+([.,!?;:。！？、，])", r"\1", text)  # "thanks <@1>!" → "thanks!"
    text = re.sub(r"([(\[])\s*[)\]]", "", text)  # brackets emptied by the rules above
    text = re.sub(r"([.!?。！？])[.。]+", r"\1", text)  # "block.." from joined pauses
    text = re.sub(r"^[\s.,;:!?。、，]+", "", text)
    return text.strip()
