"""``libra voice reply`` refuses bad input with its own message, fast, and never a traceback.

Each refusal happens before the database, the LLM or a speech model starts, so the
LLM here is a dead port: reaching it would be a failure of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.voice_speech.reply_process import Run, silent_wav, voice_reply

DEAD_LLM = {"LIBRA_LLM__SERVERS": "http://127.0.0.1:9", "LIBRA_LLM__BACKEND": "openai",
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}


def refused(run: Run, *, code: int = 1) -> str:
    assert "Traceback" not in run.err, run.err
    assert run.code == code, run.err
    assert run.out == ""
    assert run.err.startswith("libra: ") and run.err.count("\n") == 1, run.err
    # Refused before anything heavy starts (python start-up is most of this).
    assert run.seconds < 15
    return run.err


async def test_a_text_file_named_wav_is_not_audio(tmp_path: Path) -> None:
    (tmp_path / "question.wav").write_text("What is the capital of France?\n")
    err = refused(await voice_reply(tmp_path, "--in", "question.wav", "--out", "a.wav",
                                    **DEAD_LLM))
    assert "question.wav is not audio Libra can read" in err
    assert "supported: WAV" in err and "FLAC" in err
    assert not (tmp_path / "a.wav").exists()


async def test_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "question.wav").touch()
    err = refused(await voice_reply(tmp_path, "--in", "question.wav", "--out", "a.wav",
                                    **DEAD_LLM))
    assert "question.wav is empty (0 bytes)" in err


async def test_five_seconds_of_silence_has_no_speech(tmp_path: Path) -> None:
    silent_wav(tmp_path / "question.wav", seconds=5)
    err = refused(await voice_reply(tmp_path, "--in", "question.wav", "--out", "a.wav",
                                    **DEAD_LLM))
    assert "no speech found in question.wav (5 s of audio, digital silence" in err
    assert "microphone" in err


async def test_ten_minutes_are_refused_with_the_limit_and_the_setting(tmp_path: Path) -> None:
    silent_wav(tmp_path / "lecture.wav", seconds=600)
    err = refused(await voice_reply(tmp_path, "--in", "lecture.wav", "--out", "a.wav",
                                    **DEAD_LLM))
    assert "lecture.wav is 10:00 min long; a spoken question may last at most 30 s" in err
    assert "voice.max_utterance_s" in err and "trim" in err
    # The setting moves the limit (and the check comes before the silence check).
    err = refused(await voice_reply(tmp_path, "--in", "lecture.wav", "--out", "a.wav",
                                    LIBRA_VOICE__MAX_UTTERANCE_S="300", **DEAD_LLM))
    assert "at most 5:00 min" in err


async def test_a_missing_file_is_named(tmp_path: Path) -> None:
    err = refused(await voice_reply(tmp_path, "--in", "nope.wav", "--out", "a.wav",
                                    **DEAD_LLM))
    assert "no such file: nope.wav" in err


@pytest.mark.parametrize("out", ["./question.wav", "link.wav"])
async def test_the_answer_never_overwrites_the_question(tmp_path: Path, out: str) -> None:
    question = silent_wav(tmp_path / "question.wav", seconds=1)
    (tmp_path / "link.wav").hardlink_to(question)
    before = question.read_bytes()
    err = refused(await voice_reply(tmp_path, "--in", "question.wav", "--out", out,
                                    **DEAD_LLM), code=2)
    assert "--out names the question file itself" in err
    assert question.read_bytes() == before


async def test_an_unknown_language_is_a_usage_error(tmp_path: Path) -> None:
    silent_wav(tmp_path / "question.wav", seconds=1)
    err = refused(await voice_reply(tmp_path, "--in", "question.wav", "--out", "a.wav",
                                    "--language", "xx", **DEAD_LLM), code=2)
    assert "--language xx is not one of Libra's languages (en, ko," in err
