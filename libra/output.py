"""What commands print: standard output and error pass through the log redactor.

``libra`` wraps ``sys.stdout`` and ``sys.stderr`` first thing (:func:`redact_standard_streams`),
so every ``print`` in a command, an error message quoting a driver or a server, and the
interpreter's own traceback are redacted like a log line. :func:`~libra.logging.setup_logging`
later gives the wrappers its redactor, the one that knows the configured secrets, so logs
and output share one list.

Output that is data rather than diagnostics (a model's reply, an already masked config,
a password hash) goes through :func:`write_data`: it masks the configured secret values
but not the secret *shapes*, which would rewrite an innocent ``"metrics_token": null``
or a reply's "the key: practise daily".
"""

from __future__ import annotations

import sys
from typing import Any, TextIO, cast

from libra.logging import Redactor


class RedactingWriter:
    """A text stream that redacts each write before passing it to the real stream.

    Redaction is per write: a secret split over two writes would pass, so callers
    write whole messages (``print`` writes each argument whole).
    """

    def __init__(self, inner: TextIO, redactor: Redactor) -> None:
        self.inner = inner
        """The real stream (loguru's sinks write here: they redact on their own)."""
        self.redactor = redactor
        """Shared with the log sinks once logging is set up."""

    def write(self, text: str) -> int:
        """Write ``text`` with secrets and secret shapes masked; return its length."""
        self.inner.write(self.redactor(text))
        return len(text)

    def write_data(self, text: str) -> int:
        """Write ``text`` with only the configured secret values masked."""
        self.inner.write(self.redactor.mask_values(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        """Write each line, redacted."""
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        # flush, isatty, fileno, encoding ...: the real stream's.
        return getattr(self.inner, name)


def redact_standard_streams(redactor: Redactor | None = None) -> Redactor:
    """Wrap ``sys.stdout`` and ``sys.stderr`` (once); return the redactor they share.

    Args:
        redactor: use this one (also for streams already wrapped); default: keep the
            wrappers' own, or a new one that masks secret shapes until logging adds
            the configured values.
    """
    current = sys.stderr if isinstance(sys.stderr, RedactingWriter) else sys.stdout
    if redactor is None:
        redactor = current.redactor if isinstance(current, RedactingWriter) else Redactor()
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, RedactingWriter):
            stream.redactor = redactor
        elif stream is not None:
            setattr(sys, name, cast("TextIO", RedactingWriter(stream, redactor)))
    return redactor


def write_data(stream: TextIO, text: str) -> None:
    """Write output that is data: only configured secret values are masked (see module)."""
    if isinstance(stream, RedactingWriter):
        stream.write_data(text)
    else:
        stream.write(text)
