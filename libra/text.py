"""Text that every part of Libra can store, encode and send, whatever a user typed.

Two things a Python ``str`` can hold break Libra's own layers further on:

* **U+0000**: PostgreSQL ``text`` refuses it, so a message carrying one would be
  answered but silently left out of the history.
* **Lone surrogates** (U+D800–U+DFFF without their pair): they cannot be encoded as
  UTF-8 at all, so a database driver, an HTTP client or a log line fails on them. They
  arrive from JSON (an escape of half a pair is valid JSON) and from terminals that
  decode bytes with ``surrogateescape``.

:func:`clean_text` removes the first and replaces the second with U+FFFD; every entry
point of user text into the core (chat turns, memories, from Discord, the console or
voice) goes through it, and storage applies it once more to what it writes.
"""

from __future__ import annotations

NUL = "\x00"
REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """``text`` without NUL characters and with each lone surrogate made U+FFFD.

    A surrogate *pair* (a character outside the BMP split in two, as some JSON
    encoders write it) is joined back into that character.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16 with surrogatepass, pairs decode as the characters they are
        # and each lone half becomes one U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text.replace(NUL, "") if NUL in text else text
