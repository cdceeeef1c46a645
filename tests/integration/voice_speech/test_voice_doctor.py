"""``libra doctor``'s voice section: which engines serve each language, and the fix."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.fake_ollama import FakeOllama
from tests.integration.test_doctor import doctor, row


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
