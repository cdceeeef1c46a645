"""Prompt files an operator emptied behave like missing ones."""

from __future__ import annotations

import shutil
from pathlib import Path

from libra.bus import EventBus
from libra.config import Settings
from libra.language.service import ChannelLanguageService

REPO_CONFIG = Path(__file__).parents[3] / "config"


def test_an_emptied_prompt_file_falls_back_to_the_default(tmp_path: Path) -> None:
    # An empty system prompt would drop "answer in Korean" and the persona alike.
    shutil.copytree(REPO_CONFIG / "prompts", tmp_path / "prompts")
    (tmp_path / "prompts" / "ko.md").write_text("\n  \n", "utf-8")
    (tmp_path / "prompts" / "default.md").write_text("", "utf-8")
    settings = Settings.model_validate({"app": {"config_dir": str(tmp_path)}})
    service = ChannelLanguageService(settings, EventBus())
    assert "answer in Korean" in service.system_prompt("ko")
    assert "answer in German" in service.system_prompt("de")
