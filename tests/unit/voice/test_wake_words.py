"""Wake words as Whisper tiny.en wrote them for Piper saying "Libra, …" (measured)."""

from __future__ import annotations

import pytest

from libra.voice.wake import WakeWords, skeleton

HEARD = [  # what Whisper tiny.en wrote for Piper's "Libra, …" (docs/voice-conversation.md)
    ("Libra, what is the capital of France?", "what is the capital of France?"),
    ("Library what time is it?", "what time is it?"),
    ("Hey, Libra, tell me a joke.", "tell me a joke."),
    ("Liver, how are you today?", "how are you today?"),
    ("Liber, stop.", "stop."),
    ("Library. What color is the sky?", "What color is the sky?"),
    ("Okay, Liber, what is the weather light?", "what is the weather light?"),
]


@pytest.mark.parametrize(("text", "rest"), HEARD)
def test_what_speech_to_text_makes_of_the_name_still_wakes_libra(text: str, rest: str) -> None:
    match = WakeWords(["Libra"]).match(text)
    assert match is not None and match.name == "Libra" and match.rest == rest


@pytest.mark.parametrize("text", [
    "What is the capital of France?", "The library is open late today.",
    "Zebras are striped.", "Labrador puppies are cute.", "", "Hey!",
])
def test_other_speech_does_not(text: str) -> None:
    assert WakeWords(["Libra"]).match(text) is None


def test_several_names_and_non_latin_names_match_as_written() -> None:
    wake = WakeWords(["Libra", "리브라"])
    assert wake.match("리브라, 안녕?") is not None
    assert wake.match("리브, 안녕?") is None
    assert skeleton("library") == skeleton("Liber") == skeleton("libra") == "lbr"
