"""Text for a terminal: a model's output must not drive it.

A reply may carry escape sequences (echoed from a prompt, a web page or a hostile user)
that clear the screen, retitle the window, write the clipboard (OSC 52) or hide text.
:class:`ControlFilter` removes every ECMA-48 control sequence and every C0/C1 control
character except newline and tab, keeping its place between chunks, because a
streamed reply splits a sequence anywhere. (rich's ANSI decoder is neither streaming
nor complete: it misses BEL-terminated OSC and the 8-bit forms.)
"""

from __future__ import annotations

from enum import StrEnum

_KEPT = frozenset("\n\t")
_ESC, _BEL, _ST8, _CSI8 = "\x1b", "\x07", "\x9c", "\x9b"
_STRING_INTRODUCERS = frozenset("]PX^_")  # OSC, DCS, SOS, PM, APC after ESC
_STRING_INTRODUCERS_8 = frozenset("\x9d\x90\x98\x9e\x9f")  # the same as C1 controls


class _State(StrEnum):
    TEXT = "text"
    ESCAPE = "escape"  # after ESC
    CSI = "csi"  # parameters and intermediates, up to a final byte
    NF = "nf"  # ESC + intermediates (charset designation ...), up to a final byte
    STRING = "string"  # OSC/DCS/... payload, up to BEL or ST
    STRING_ESCAPE = "string-escape"  # ESC inside a string: ST if "\" follows


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F


class ControlFilter:
    """Removes terminal control sequences from streamed text (see the module)."""

    def __init__(self) -> None:
        self._state = _State.TEXT

    def feed(self, text: str) -> str:
        """The visible part of ``text``; an unfinished sequence is held for the next chunk."""
        shown: list[str] = []
        for char in text:
            if not self._step(char):
                continue
            if char in _KEPT or not _is_control(char):
                shown.append(char)
        return "".join(shown)

    def end(self) -> str:
        """Drop an unfinished sequence and start clean; nothing is left to show."""
        self._state = _State.TEXT
        return ""

    def _step(self, char: str) -> bool:
        """Advance the state machine; return whether ``char`` is text to consider."""
        state = self._state
        if state is _State.STRING:
            if char in (_BEL, _ST8):
                self._state = _State.TEXT
            elif char == _ESC:
                self._state = _State.STRING_ESCAPE
            elif char == "\n":
                # A runaway string must not swallow the rest of the reply.
                self._state = _State.TEXT
                return True
            return False
        if state is _State.STRING_ESCAPE:
            self._state = _State.TEXT
            if char == "\\":
                return False
            state = _State.ESCAPE  # another sequence starts: read char as its next byte
            self._state = state
        if state is _State.ESCAPE:
            return self._after_escape(char)
        if state in (_State.CSI, _State.NF):
            low, high = ("\x20", "\x3f") if state is _State.CSI else ("\x20", "\x2f")
            if low <= char <= high:
                return False
            self._state = _State.TEXT
            final = "\x40" <= char <= "\x7e" if state is _State.CSI else "\x30" <= char <= "\x7e"
            # A byte that cannot continue the sequence ends it and is read as text.
            return not final
        return self._in_text(char)

    def _after_escape(self, char: str) -> bool:
        self._state = _State.TEXT
        if char == "[":
            self._state = _State.CSI
        elif char in _STRING_INTRODUCERS:
            self._state = _State.STRING
        elif "\x20" <= char <= "\x2f":
            self._state = _State.NF
        elif char == _ESC:
            self._state = _State.ESCAPE
        elif not "\x30" <= char <= "\x7e":
            return self._in_text(char)  # not a sequence: ESC alone is dropped
        return False

    def _in_text(self, char: str) -> bool:
        if char == _ESC:
            self._state = _State.ESCAPE
            return False
        if char == _CSI8:
            self._state = _State.CSI
            return False
        if char in _STRING_INTRODUCERS_8:
            self._state = _State.STRING
            return False
        return True


def strip_controls(text: str) -> str:
    """``text`` without terminal control sequences (a whole message, not a stream)."""
    screen = ControlFilter()
    return screen.feed(text) + screen.end()
