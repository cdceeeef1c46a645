"""espeak-ng, the fallback voice: Korean and other languages, and a missing binary."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from libra.errors import SpeechEngineFailed
from libra.voice.backends.espeak import EspeakSpeaker, espeak_languages

if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)",
                allow_module_level=True)


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


async def test_korean_text_is_spoken_sentence_by_sentence() -> None:
    speaker = EspeakSpeaker("ko")
    assert (speaker.engine, speaker.voice, speaker.language) == ("espeak-ng", "ko", "ko")
    chunks = [audio async for audio in speaker.synthesize(
        "안녕하세요. 만나서 반갑습니다! 오늘 날씨가 정말 좋네요.")]
    assert [c.text for c in chunks] == ["안녕하세요.", "만나서 반갑습니다!",
                                        "오늘 날씨가 정말 좋네요."]
    for chunk in chunks:
        assert chunk.sample_rate == 22050
        assert 0.5 < len(chunk.pcm) / 2 / chunk.sample_rate < 6.0
        assert rms(chunk.pcm) > 300


@pytest.mark.parametrize(("language", "voice", "text"), [
    ("zh-cn", "cmn", "你好。"), ("zh-tw", "cmn", "你好。"), ("ja", "ja", "こんにちは。"),
    ("vi", "vi", "Xin chào."), ("en", "en-us", "Hello."),
])
async def test_libra_codes_map_to_espeak_voices(language: str, voice: str, text: str) -> None:
    speaker = EspeakSpeaker(language)
    assert speaker.voice == voice
    chunks = [audio async for audio in speaker.synthesize(text)]
    assert len(chunks) == 1 and rms(chunks[0].pcm) > 300


def test_languages_it_can_speak() -> None:
    languages = espeak_languages()
    assert {"ko", "ja", "zh-cn", "zh-tw", "vi", "en", "es", "fr", "de", "ru"} <= languages
    assert espeak_languages("/nonexistent/espeak-ng") == frozenset()


async def test_a_missing_binary_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(SpeechEngineFailed, match="not installed") as missing:
        EspeakSpeaker("ko", binary=str(tmp_path / "espeak-ng"))
    assert "apt-get install espeak-ng" in (missing.value.hint or "")


async def test_a_failing_binary_or_voice_is_a_clear_error() -> None:
    with pytest.raises(SpeechEngineFailed, match="voice xx"):
        async for _ in EspeakSpeaker("xx").synthesize("Hello."):
            pass
    false = shutil.which("false")
    assert false is not None
    with pytest.raises(SpeechEngineFailed, match="exit 1"):
        async for _ in EspeakSpeaker("ko", binary=false).synthesize("안녕."):
            pass
