"""The console's two kinds of output lines: meta (prompts, notices) and errors."""

from __future__ import annotations

from typing import TextIO

from libra.console.terminal import strip_controls
from libra.output import write_data


class Screen:
    """Writes meta and error lines where a person or a script expects them.

    On a terminal both go to stdout; scripted, stdout holds replies only and meta and
    errors go to stderr (errors prefixed ``libra:``). Counts the errors it showed.
    """

    def __init__(self, out: TextIO, err: TextIO, *, tty: bool) -> None:
        self.out = out
        self.err = err
        self.tty = tty
        self.failures = 0

    def meta(self, text: str, *, data: bool = False) -> None:
        """A line about the conversation (not part of a reply).

        ``data``: the line holds the user's own words (a memory), shown like a reply:
        configured secrets are masked, secret shapes are not ("key: C minor" is no key).
        """
        stream = self.out if self.tty else self.err
        line = (strip_controls(text) if stream.isatty() else text) + "\n"
        if data:
            write_data(stream, line)
        else:
            stream.write(line)
        stream.flush()

    def error(self, text: str) -> None:
        """A failure the user must see; it makes the console's exit code 1."""
        self.failures += 1
        stream, line = ((self.out, f"! {text}\n") if self.tty
                        else (self.err, f"libra: {text}\n"))
        # It may quote an LLM server's own words: a terminal must not execute them.
        stream.write(strip_controls(line) if stream.isatty() else line)
        stream.flush()
