"""A multiplication is said as one, not eaten as markdown emphasis."""

from __future__ import annotations

import pytest

from libra.voice.speakable import speakable


@pytest.mark.parametrize(("text", "said"), [
    ("2*3*4 = 24", "2 × 3 × 4 = 24"),
    ("It is 2*3, so *six*.", "It is 2 × 3, so six."),
])
def test_an_asterisk_between_numbers_is_times(text: str, said: str) -> None:
    assert speakable(text, "en") == said


def test_emphasis_is_still_dropped() -> None:
    assert speakable("**bold** and *it* and 2 *apples*", "en") == "bold and it and 2 apples"
