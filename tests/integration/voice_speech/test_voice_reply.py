"""``libra voice reply`` end to end: Piper asks, Whisper hears, the LLM answers, Piper speaks.

Real processes and real models, only offline assets (Whisper tiny.en from its package,
the packaged Piper voice, no models folder), the fake Ollama as the LLM. The answer's
WAV is checked by an independent recogniser (faster-whisper decoding the file itself),
so a silent, garbled or truncated answer fails.
"""

from __future__ import annotations

import re
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
    """The question as a CD-quality recorder writes it: 44.1 kHz stereo."""
    return spoken_question(tmp_path_factory.mktemp("q"), rate=44_100, channels=2)


async def test_a_cd_quality_stereo_question_is_answered_aloud(
    question: Path, whisper: Any, fake_ollama: FakeOllama, pg_url: str, tmp_path: Path
) -> None:
    fake_ollama.default_answer = ANSWER
    run = await voice_reply(tmp_path, "--in", str(question), "--out", "answer.wav",
                            LIBRA_LLM__SERVERS=fake_ollama.url, DATABASE_URL=pg_url)
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    lines = run.out.splitlines()
    assert lines[0].startswith("question  ") and "44100 Hz, stereo" in lines[0]
    assert re.fullmatch(rf"heard     \[en · whisper:[\w-]*tiny\.en\] {re.escape(QUESTION)}",
                        lines[1]), lines[1]
    assert lines[2].startswith("answer    [en · piper:") and lines[2].endswith(ANSWER)
    assert lines[3].startswith("wrote     answer.wav (")
    table = {line[:26].strip(): float(line[26:]) for line in lines[6:]}
    assert set(table) >= {"endpoint wait", "STT final", "LLM first token", "first sentence",
                          "TTS first audio", "total"}
    assert 0 < table["STT final"] < table["total"]
    assert asked(fake_ollama) == [QUESTION]  # the transcript is what the LLM was asked
    answer = (tmp_path / "answer.wav").read_bytes()
    assert loudness_dbfs(answer) > -35  # speech, not silence
    words = heard(whisper, tmp_path / "answer.wav")
    # Both sentences are in the file, in order (a cut-off answer loses the second).
    assert words_heard(ANSWER, words) >= 0.75, words
    assert words_heard("lovely city", words) == 1, words
