"""``libra doctor``'s voice section: which engines serve each language, and the fix."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.fakes.fake_ollama import FakeOllama
from tests.integration.test_doctor import REPO, doctor, row


async def test_each_voice_language_names_its_engines_or_the_pull_command(
        tmp_path: Path, pg_url: str, fake_ollama: FakeOllama) -> None:
    models = tmp_path / "models"  # empty: only what packages carry is installed
    code, out = await doctor(
        tmp_path, DATABASE_URL=pg_url, LIBRA_LLM__SERVERS=fake_ollama.url,
        LIBRA_VOICE__MODELS_DIR=str(models),
        LIBRA_VOICE__LANGUAGES=json.dumps(["en", "ko", "fr"]),
        LIBRA_VOICE__TTS_VOICES=json.dumps({"fr": "fr_FR-siwis-medium"}))

    assert code == 0, out  # missing speech models warn; they do not fail the check
    english = row(out, "voice en")
    assert english.startswith("ok")
    assert "listens with whisper:whisper-tiny.en" in english
    assert "speaks with piper:en_US-joe-medium" in english
    korean = row(out, "voice ko")
    assert "listens with vosk:vosk-model-small-ko-0.22" in korean
    assert "speaks with espeak-ng:ko" in korean
    french = row(out, "voice fr")
    assert french.startswith("WARN")
    assert "listens with nothing, speaks with nothing" in french
    assert ("fix: libra models pull vosk-model-small-fr-0.22; "
            "libra models pull fr_FR-siwis-medium") in out
    conversation = row(out, "voice conversation")
    assert conversation.startswith("ok")
    assert "hears each channel in its reply language" in conversation
    assert "no multilingual model" in conversation


async def test_the_speech_rows_show_even_without_the_discord_voice_pieces(
        tmp_path: Path, pg_url: str, fake_ollama: FakeOllama) -> None:
    """Missing DAVE/Opus is one fix; it must not hide which speech engines are there."""
    hide = tmp_path / "hide"
    hide.mkdir()
    # The child sees no davey package, as on a machine without it.
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['davey'] = None\n")
    code, out = await doctor(
        tmp_path, DATABASE_URL=pg_url, LIBRA_LLM__SERVERS=fake_ollama.url,
        LIBRA_VOICE__MODELS_DIR=str(tmp_path / "models"),
        PYTHONPATH=f"{hide}{os.pathsep}{REPO}")

    assert code == 0, out  # a warning, not a failure
    assert "missing davey" in row(out, "voice"), out
    assert "listens with whisper:whisper-tiny.en" in row(out, "voice en"), out
