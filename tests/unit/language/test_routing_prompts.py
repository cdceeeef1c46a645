"""Model routing, system prompts from config/prompts, and change notices."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from libra.bus import EventBus
from libra.config import Settings
from libra.language.notices import CHANGE_NOTICES
from libra.language.routing import ModelRouter
from libra.language.service import ChannelLanguageService

REPO_CONFIG = Path(__file__).parents[3] / "config"


def settings_with(config_dir: Path, **llm: object) -> Settings:
    return Settings.model_validate({"app": {"config_dir": str(config_dir)}, "llm": llm})


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    seen: list[str] = []
    sink = logger.add(lambda message: seen.append(message.record["message"]), level="WARNING")
    yield seen
    logger.remove(sink)


# --- routing ---------------------------------------------------------------------------


def test_default_routes_send_cjk_to_qwen_and_the_rest_to_llama() -> None:
    service = ChannelLanguageService(Settings(), EventBus())
    for language in ("ko", "ja", "zh-cn", "zh-tw"):
        assert service.model_for(language) == "qwen2.5:7b-instruct"
    for language in ("en", "es", "fr", "de", "ru", "vi"):
        assert service.model_for(language) == "llama3:8b-instruct-q4_K_M"


def test_routes_accept_any_spelling_and_bare_zh_covers_both_variants() -> None:
    router = ModelRouter({"zh": "qwen-zh", "pt_BR": "sabia", "zh-TW": "taide"}, "base")
    assert router.model_for("zh-cn") == "qwen-zh"
    assert router.model_for("zh_TW") == "taide"  # the exact route wins
    assert router.model_for("pt") == "sabia"
    assert router.model_for("it") == "base"


# --- prompts ---------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "marker"), [
    ("en", "Always answer in English"),
    ("ko", "한국어로 답하세요"),
    ("ja", "日本語で答えてください"),
    ("zh-cn", "简体中文回答"),
])
def test_each_language_gets_its_own_prompt_file(language: str, marker: str) -> None:
    service = ChannelLanguageService(settings_with(REPO_CONFIG), EventBus())
    prompt = service.system_prompt(language)
    assert marker in prompt
    assert prompt == (REPO_CONFIG / "prompts" / f"{language}.md").read_text("utf-8").strip()


def test_a_language_without_a_file_gets_the_default_naming_it(warnings: list[str]) -> None:
    service = ChannelLanguageService(settings_with(REPO_CONFIG), EventBus())
    prompt = service.system_prompt("es")
    assert "Always answer in Spanish" in prompt
    assert "{language_name}" not in prompt
    service.system_prompt("es")
    assert len([w for w in warnings if "es.md" in w]) == 1  # one warning, not one per call


def test_an_edited_prompt_file_is_used_by_a_new_service(tmp_path: Path) -> None:
    shutil.copytree(REPO_CONFIG / "prompts", tmp_path / "prompts")
    old = ChannelLanguageService(settings_with(tmp_path), EventBus())
    assert "Always answer in English" in old.system_prompt("en")
    (tmp_path / "prompts" / "en.md").write_text("Talk like a pirate, in English.", "utf-8")
    new = ChannelLanguageService(settings_with(tmp_path), EventBus())
    assert new.system_prompt("en") == "Talk like a pirate, in English."
    assert "Always answer in English" in old.system_prompt("en")  # no change mid-run


def test_a_deleted_prompt_file_falls_back_to_the_default(
    tmp_path: Path, warnings: list[str],
) -> None:
    shutil.copytree(REPO_CONFIG / "prompts", tmp_path / "prompts")
    (tmp_path / "prompts" / "ko.md").unlink()
    service = ChannelLanguageService(settings_with(tmp_path), EventBus())
    assert "Always answer in Korean" in service.system_prompt("ko")
    assert any("ko.md" in w for w in warnings)


def test_without_any_prompt_file_a_built_in_default_is_used(
    tmp_path: Path, warnings: list[str],
) -> None:
    service = ChannelLanguageService(settings_with(tmp_path), EventBus())
    assert "answer in Italian" in service.system_prompt("it")
    assert any("default.md" in w for w in warnings)


def test_braces_in_an_edited_prompt_do_not_break_it(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "default.md").write_text(
        "Answer in {language_name}; JSON like {\"a\": 1} stays.", "utf-8")
    service = ChannelLanguageService(settings_with(tmp_path), EventBus())
    assert service.system_prompt("de") == 'Answer in German; JSON like {"a": 1} stays.'


# --- change notices ----------------------------------------------------------------------


def test_change_notices_are_written_in_the_new_language() -> None:
    service = ChannelLanguageService(Settings(), EventBus())
    assert service.change_notice("en") == "🌐 Switching to English."
    assert service.change_notice("ko") == "🌐 한국어로 전환합니다."
    for language in ("en", "ko", "ja", "zh-cn", "zh-tw", "es", "fr", "de", "ru", "pt",
                     "it", "vi"):
        assert language in CHANGE_NOTICES
        assert service.change_notice(language).startswith("🌐 ")
    # each notice is detected as the language it announces
    for language in ("ko", "ja", "zh-cn", "zh-tw", "es", "fr", "de", "ru", "pt", "vi"):
        assert service.detect(service.change_notice(language)).language == language


def test_an_unknown_language_gets_an_english_notice_naming_it() -> None:
    service = ChannelLanguageService(Settings(), EventBus())
    assert service.change_notice("sv") == "🌐 Switching to Swedish."
