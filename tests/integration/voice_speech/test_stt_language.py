"""The language of a transcript: the engine's answer, checked by Libra's detector."""

from __future__ import annotations

import pytest

from libra.voice.backends.language import TranscriptLanguage, best_allowed


@pytest.fixture(scope="module")
def settle() -> TranscriptLanguage:
    """Configured for English, Korean, Japanese and both Chinese standards."""
    return TranscriptLanguage(["en", "ko", "ja", "zh-cn", "zh-tw"])


def test_no_engine_language_means_the_detector_decides(settle: TranscriptLanguage) -> None:
    assert settle.settle("오늘 저녁에 뭐 먹을까요") == "ko"
    assert settle.settle("what is the capital of france") == "en"


def test_whisper_zh_becomes_the_variant_the_text_is_written_in(
        settle: TranscriptLanguage) -> None:
    assert settle.settle("我們這裡說的是台灣話", engine_language="zh",
                         engine_probability=0.95) == "zh-tw"
    assert settle.settle("我们这里说的是普通话", engine_language="zh",
                         engine_probability=0.95) == "zh-cn"


def test_an_unsure_guess_on_short_text_is_overruled_by_the_script(
        settle: TranscriptLanguage) -> None:
    # Whisper on a half-second "네": Japanese at 40 %, but the text is Hangul.
    assert settle.settle("네", engine_language="ja", engine_probability=0.4) == "ko"


def test_a_sure_guess_or_long_text_keeps_the_engine_answer(
        settle: TranscriptLanguage) -> None:
    assert settle.settle("네", engine_language="ja", engine_probability=0.9) == "ja"
    assert settle.settle("the meeting starts at ten tomorrow", engine_language="en",
                         engine_probability=0.5) == "en"


def test_no_letters_keeps_whatever_the_engine_said(settle: TranscriptLanguage) -> None:
    assert settle.settle("", engine_language="ko") == "ko"
    assert settle.settle("123", engine_language=None) is None


def test_best_allowed_picks_the_likeliest_configured_language() -> None:
    probabilities = [("ja", 0.5), ("ko", 0.3), ("zh", 0.15), ("en", 0.05)]
    assert best_allowed(probabilities, frozenset({"ko", "en"})) == ("ko", 0.3)
    assert best_allowed(probabilities, frozenset({"zh-tw", "en"})) == ("zh", 0.15)
    assert best_allowed(probabilities, frozenset({"fr"})) is None
