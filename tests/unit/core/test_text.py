"""``clean_text``: what every entry point of user text does before the core sees it."""

from __future__ import annotations

import pytest

from libra.text import clean_text


@pytest.mark.parametrize(("raw", "clean"), [
    ("plain text", "plain text"),
    ("tea\x00 time", "tea time"),
    ("I like \ud83c tea", "I like \ufffd tea"),  # half of a pair, alone
    ("\udc80\udc81", "\ufffd\ufffd"),  # surrogate escapes of two undecodable bytes
    ("\ud83d\ude00 ok", "\U0001f600 ok"),  # a split pair is joined back
    ("\x00\ud800\x00", "\ufffd"),
    ("", ""),
])
def test_nul_is_dropped_and_lone_surrogates_become_replacement_characters(
    raw: str, clean: str
) -> None:
    assert clean_text(raw) == clean
    clean_text(raw).encode("utf-8")  # whatever came in, the result encodes
