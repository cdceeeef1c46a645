"""The endpoint wait judged from the words so far, per language."""

from __future__ import annotations

import pytest

from libra.voice.endpointing import CUES, Completeness, completeness, endpoint_wait_ms

SHORT, BASE, LONG = 275, 500, 800


@pytest.mark.parametrize(
    ("text", "language", "wait"),
    [
        # punctuation, whatever the language
        ("What is the capital of France?", "en", SHORT),
        ("Turn the lights off.", "en", SHORT),
        ("東京はどこですか？", "ja", SHORT),
        ("好的。", "zh", SHORT),
        ("So I was thinking, ", "en", LONG),
        ("well...", "en", LONG),
        ("“Is it raining?”", "en", SHORT),
        # English words without punctuation (Vosk gives none)
        ("what time is it", "en", SHORT),
        ("can you tell me a joke", "en", SHORT),
        ("i went to the", "en", LONG),
        ("i want pasta and", "en", LONG),
        ("we could go but", "en", LONG),
        ("it was late because", "en", LONG),
        ("send it to", "en", LONG),
        ("so um", "en", LONG),
        ("hello there", "en", BASE),
        ("what now", "en", BASE),  # too short to call a question form
        # Korean endings
        ("어디에 가요", "ko", SHORT),
        ("이것은 무엇입니까", "ko", SHORT),
        ("정말 좋다", "ko", SHORT),
        ("밥을 먹고", "ko", LONG),
        ("비가 오는데", "ko", LONG),
        ("비싸지만", "ko", LONG),
        ("비가 오니까", "ko", LONG),
        ("저는 학교에", "ko", LONG),
        ("그리고", "ko", LONG),
        # the other tables
        ("¿dónde está la estación", "es", SHORT),
        ("quiero ir a la", "es", LONG),
        ("por qué no vienes", "es", SHORT),
        ("je voudrais aller à la", "fr", LONG),
        ("comment tu t'appelles", "fr", SHORT),
        ("ich gehe nach Hause und", "de", LONG),
        ("wie spät ist es", "de", SHORT),
        ("o que você quer fazer", "pt", SHORT),
        ("eu fui para a", "pt", LONG),
        ("voglio andare al", "it", LONG),
        ("dove si trova la stazione", "it", SHORT),
        # languages without a table, and nothing at all
        ("東京は", "ja", BASE),
        ("what time is it", None, BASE),
        ("", "en", BASE),
        ("   ", "ko", BASE),
    ],
)
def test_wait_follows_the_words(text: str, language: str | None, wait: int) -> None:
    assert endpoint_wait_ms(text, language, 500) == wait


def test_waits_scale_with_the_configured_base() -> None:
    assert endpoint_wait_ms("Done.", "en", 1000) == 550
    assert endpoint_wait_ms("and", "en", 1000) == 1600
    assert endpoint_wait_ms("Done.", "en", 300) == 200  # never under a breath
    assert endpoint_wait_ms("Done.", "en", 150) == 150  # nor longer than the base


def test_region_tags_use_the_language_table() -> None:
    assert completeness("quiero ir a la", "es-MX") is Completeness.UNFINISHED


def test_every_required_language_has_cues() -> None:
    assert {"en", "ko", "es", "fr", "de", "pt", "it"} <= set(CUES)
