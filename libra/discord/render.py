"""Shaping answer text for Discord: 2,000-character parts, balanced code fences, tables.

Pure functions, no transport: the streaming renderer (``pacing.py``) calls
:func:`split_message` on the whole text on every render, so a part is always what a
user would see if the answer ended there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from libra.errors import LibraError

DISCORD_MESSAGE_LIMIT = 2000
FENCE = "```"
_CLOSE = "\n" + FENCE
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
# A cut this far into the window keeps parts reasonably full; earlier cuts look choppy.
_PARAGRAPH_MIN_FRACTION = 0.5
_LINE_MIN_FRACTION = 0.3


class DiscordRateLimitedError(LibraError):
    """Discord answered 429: the transport raises this so the renderer waits and retries."""

    code = "discord_rate_limited"

    def __init__(self, retry_after: float, *, message: str = "Discord rate limit hit") -> None:
        super().__init__(f"{message}; retry after {retry_after:.2f}s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Fence:
    """An open code block: the marker line that opened it (with its language tag)."""

    opener: str


def _fence_marker(line: str) -> str | None:
    """The fence line's language tag ('' for none), or None if it is not a fence line."""
    stripped = line.strip()
    if not stripped.startswith(FENCE):
        return None
    return stripped[len(FENCE) :].strip()


def _fence_after(text: str, fence: _Fence | None) -> tuple[_Fence | None, int]:
    """The fence state after ``text`` and the offset of the line that opened it (or -1)."""
    offset, opened_at = 0, -1
    for line in text.splitlines(keepends=True):
        tag = _fence_marker(line)
        if tag is not None:
            if fence is None:
                fence, opened_at = _Fence(opener=FENCE + tag), offset
            else:
                fence, opened_at = None, -1
        offset += len(line)
    return fence, opened_at


def wrap_tables(text: str) -> str:
    """Put markdown tables (outside code blocks) into code blocks: Discord cannot draw them."""
    lines = text.split("\n")
    out: list[str] = []
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _fence_marker(line) is not None:
            in_fence = not in_fence
        is_table_start = (
            not in_fence
            and "|" in line
            and i + 1 < len(lines)
            and _TABLE_SEPARATOR.match(lines[i + 1]) is not None
            and "|" in lines[i + 1]
        )
        if not is_table_start:
            out.append(line)
            i += 1
            continue
        end = i + 2
        while end < len(lines) and "|" in lines[end] and lines[end].strip():
            end += 1
        out.extend([FENCE, *lines[i:end], FENCE])
        i = end
    return "\n".join(out)


def _cut_position(window: str) -> tuple[int, int]:
    """Where to end a part inside ``window``: (end of kept text, start of the rest)."""
    for separator, fraction in (("\n\n", _PARAGRAPH_MIN_FRACTION), ("\n", _LINE_MIN_FRACTION)):
        at = window.rfind(separator)
        if at > 0 and at >= len(window) * fraction:
            return at, at + len(separator)
    at = window.rfind(" ")
    if at > 0:
        return at, at + 1
    at = window.rfind("\n")
    if at > 0:
        return at, at + 1
    # A single word longer than the part: the only case where a word is cut.
    return len(window), len(window)


def split_message(text: str, limit: int = DISCORD_MESSAGE_LIMIT) -> list[str]:
    """Split ``text`` into Discord messages of at most ``limit`` characters.

    Cuts at paragraph, then line, then word boundaries (a word is only cut when it
    alone is longer than a part). A code block open at a cut is closed at the end of
    the part and reopened, with the same language tag, at the start of the next; a
    block the text never closes is closed too, so every part renders on its own.
    Markdown tables are wrapped in code blocks.

    Raises:
        ValueError: ``limit`` is too small to hold a fence and some text.
    """
    if limit < 16:
        msg = f"message limit {limit} is too small (minimum 16)"
        raise ValueError(msg)
    rest = wrap_tables(text).strip("\n")
    parts: list[str] = []
    fence: _Fence | None = None
    while rest:
        prefix = fence.opener + "\n" if fence is not None else ""
        if len(prefix) > limit // 4:
            prefix = FENCE + "\n"  # an absurd language tag must not eat the part
        whole_fence, _ = _fence_after(rest, fence)
        whole = prefix + rest + (_CLOSE if whole_fence is not None else "")
        if len(whole) <= limit:
            parts.append(whole)
            break
        available = limit - len(prefix) - len(_CLOSE)
        window = rest[:available]
        end, resume = _cut_position(window)
        chunk = rest[:end]
        fence_after, opened_at = _fence_after(chunk, fence)
        if fence_after is not None and fence is None and opened_at >= end * _LINE_MIN_FRACTION:
            # A block opened late in the part starts in the next one instead of being cut.
            end = resume = opened_at
            chunk, fence_after = rest[:end], None
        body = (prefix + chunk).rstrip("\n")
        parts.append(body + (_CLOSE if fence_after is not None else ""))
        rest = rest[resume:].lstrip("\n")
        fence = fence_after
        if fence is not None and _fence_marker(rest.split("\n", 1)[0]) is not None:
            # The block closes right here: our closing fence already did it.
            rest = rest.split("\n", 1)[1] if "\n" in rest else ""
            rest = rest.lstrip("\n")
            fence = None
    return [part for part in parts if part.strip()]


def balanced_fences(part: str) -> bool:
    """True if every code block opened in ``part`` is closed in it."""
    fence, _ = _fence_after(part, None)
    return fence is None
