"""Every translation message exists in all of Libra's languages, with English's placeholders."""

from __future__ import annotations

import string

import pytest

from libra.config import LanguageSettings
from libra.translate.messages import (
    LANGUAGES,
    message_keys,
    message_table,
    translate_message,
)


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_the_messages_cover_exactly_the_languages_libra_supports() -> None:
    assert set(LANGUAGES) == set(LanguageSettings().languages)
    assert len(LANGUAGES) == 12


@pytest.mark.parametrize("key", message_keys())
def test_every_message_has_every_language_with_the_same_placeholders(key: str) -> None:
    table = message_table(key)
    assert sorted(table) == sorted(LANGUAGES), f"{key}: languages missing or extra"
    english = placeholders(table["en"])
    for language, template in table.items():
        assert template.strip(), f"{key}/{language} is empty"
        assert placeholders(template) == english, f"{key}/{language}: {template!r}"
        if language != "en" and key != "badge":  # the badge has no words to translate
            assert template != table["en"], f"{key}/{language} is still English"


def test_a_user_reads_their_own_language_with_the_shared_fallbacks() -> None:
    assert translate_message("opt_in_off", "de") == (
        "Deine Nachrichten in diesem Kanal werden nicht mehr übersetzt.")
    assert translate_message("opt_in_off", "pt-BR") == translate_message("opt_in_off", "pt")
    assert translate_message("links_none", "zh-tw") == "本頻道既沒有連結,也沒有自動翻譯。"
    assert translate_message("links_none", "xx") == (
        "This channel is not linked or auto-translated.")
    assert translate_message("too_long", "vi", length=2500, limit=2000) == (
        "Đoạn văn có 2500 ký tự; mỗi lần mình dịch tối đa 2000. Hãy chia nhỏ ra.")
