"""``libra voice reply`` on a telephone-quality question, with the answer piped to stdout.

8 kHz mono is the poorest input a user is likely to have (a phone recording); the
question must still be understood once upsampled, and ``--out -`` must give a WAV on
standard output with the ``--json`` report on standard error.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fake_ollama import FakeOllama
from tests.integration.voice_speech.reply_process import (
    ANSWER,
    QUESTION,
    asked,
    heard,
    loudness_dbfs,
    spoken_question,
    voice_reply,
    whisper_model,
    words_heard,
)


@pytest.fixture(scope="module")
def whisper() -> Any:
    return whisper_model()


@pytest.fixture(scope="module")
def question(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return spoken_question(tmp_path_factory.mktemp("q"), rate=8_000, channels=1)


async def test_a_phone_quality_question_answered_to_stdout_with_a_json_report(
    question: Path, whisper: Any, fake_ollama: FakeOllama, pg_url: str, tmp_path: Path
) -> None:
    fake_ollama.default_answer = ANSWER
    run = await voice_reply(tmp_path, "--in", str(question), "--out", "-", "--language", "en",
                            "--stt", "whisper", "--json", binary=True,
                            LIBRA_LLM__SERVERS=fake_ollama.url, DATABASE_URL=pg_url)
    assert run.code == 0, run.err
    report = json.loads(run.err[run.err.index("{\n"):])
    assert report["input"]["format"] == "WAV 16-bit PCM, 8000 Hz, mono"
    assert report["transcript"]["text"].lower().rstrip("?.") == QUESTION.lower().rstrip("?")
    assert report["transcript"]["engine"].startswith("whisper:")
    assert asked(fake_ollama) == [report["transcript"]["text"]]
    assert report["answer"]["text"] == ANSWER
    assert report["output"] == {"path": None, "seconds": report["output"]["seconds"],
                                "sample_rate": 48_000}
    latency = report["latency_ms"]
    assert latency["total_ms"] > 0 and latency["tts_first_audio_ms"] is not None
    assert run.stdout_bytes[:4] == b"RIFF"
    assert loudness_dbfs(run.stdout_bytes) > -35
    words = heard(whisper, io.BytesIO(run.stdout_bytes))
    assert words_heard(ANSWER, words) >= 0.75, words
