"""The ``voice.models_*`` settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from libra.config import Settings, VoiceSettings


def test_a_mirror_is_an_http_base_url_without_a_trailing_slash() -> None:
    assert VoiceSettings(models_mirror="https://mirror.lan/models/").models_mirror == (
        "https://mirror.lan/models")
    assert VoiceSettings(models_mirror="  ").models_mirror is None
    for bad in ("ftp://mirror.lan", "mirror.lan/models", "https://mirror.lan/m?x=1"):
        with pytest.raises(ValidationError):
            VoiceSettings(models_mirror=bad)


def test_a_mirror_password_is_a_secret_to_redact() -> None:
    settings = Settings(voice=VoiceSettings(models_mirror="http://u:pa55word@proxy.lan/m"))
    assert "pa55word" in settings.secret_values()
    assert "pa55word" not in str(settings.masked())


def test_models_live_in_the_data_dir_unless_told_otherwise(tmp_path: Path) -> None:
    from libra.voice.models.commands import ModelsCommands

    settings = Settings.model_validate({"app": {"data_dir": str(tmp_path)}})
    cmd = ModelsCommands.from_settings(settings, out=None, err=None)  # type: ignore[arg-type]
    assert cmd.store.root == tmp_path / "models"
    moved = Settings.model_validate({"voice": {"models_dir": str(tmp_path / "elsewhere")}})
    cmd = ModelsCommands.from_settings(moved, out=None, err=None)  # type: ignore[arg-type]
    assert cmd.store.root == tmp_path / "elsewhere"
