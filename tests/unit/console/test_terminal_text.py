"""Model output shown on a terminal carries no terminal control sequences."""

from __future__ import annotations

import pytest

from libra.console.terminal import ControlFilter, strip_controls


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain, 한국어, emoji 🎉\n\tindented", "plain, 한국어, emoji 🎉\n\tindented"),
        ("\x1b[2J\x1b[1;1Hcleared", "cleared"),  # CSI: clear screen, move cursor
        ("\x1b[31mred\x1b[0m", "red"),  # SGR colours
        ("\x1b]0;pwned\x07title", "title"),  # OSC window title, ended by BEL
        ("\x1b]52;c;ZXZpbA==\x1b\\copied", "copied"),  # OSC 52 clipboard, ended by ST
        ("\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\", "link"),  # hyperlink
        ("\x1bPq#0;2;0;0;0\x1b\\sixel", "sixel"),  # DCS
        ("\x9b31mC1 CSI", "C1 CSI"),  # the 8-bit forms
        ("\x9d0;t\x9cC1 OSC", "C1 OSC"),
        ("\x1b(0line\x1b(B", "line"),  # charset designation (nF)
        ("\x1bcreset", "reset"),  # RIS: full terminal reset
        ("a\rb\x08c\x07d\x00e\x7ff\x85g", "abcdefg"),  # other C0/C1 controls and DEL
        ("\x1b]0;runaway title\nnext line", "\nnext line"),  # a string ends at a newline
    ],
)
def test_control_sequences_are_removed(raw: str, shown: str) -> None:
    assert strip_controls(raw) == shown


def test_a_sequence_split_across_chunks_is_removed_whole() -> None:
    text = "Hello \x1b[38;5;196mworld\x1b[0m \x1b]0;pwned title\x07and bye"
    for size in (1, 2, 3, 5, 7):
        screen = ControlFilter()
        chunks = [text[i:i + size] for i in range(0, len(text), size)]
        shown = "".join(screen.feed(chunk) for chunk in chunks) + screen.end()
        assert shown == "Hello world and bye", size


def test_an_unfinished_sequence_is_dropped_at_the_end() -> None:
    screen = ControlFilter()
    assert screen.feed("done\x1b[3") == "done"
    assert screen.end() == ""
    assert screen.feed("1mnext") == "1mnext"  # a new answer starts clean
