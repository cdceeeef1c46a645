"""The one-line notice shown when a channel's reply language changes.

Each notice is written in the language it announces, so the people who just
switched languages can read it; unknown languages get an English line naming them.
"""

from __future__ import annotations

from libra.language.names import english_name

CHANGE_NOTICES: dict[str, str] = {
    "en": "🌐 Switching to English.",
    "ko": "🌐 한국어로 전환합니다.",
    "ja": "🌐 日本語に切り替えます。",
    "zh-cn": "🌐 切换到简体中文。",
    "zh-tw": "🌐 切換到繁體中文。",
    "es": "🌐 Cambiando a español.",
    "fr": "🌐 Je passe au français.",
    "de": "🌐 Ich wechsle zu Deutsch.",
    "ru": "🌐 Переключаюсь на русский.",
    "pt": "🌐 Mudando para português.",
    "it": "🌐 Passo all'italiano.",
    "vi": "🌐 Chuyển sang tiếng Việt.",
    "nl": "🌐 Ik schakel over naar het Nederlands.",
    "pl": "🌐 Przełączam na polski.",
    "tr": "🌐 Türkçeye geçiyorum.",
    "uk": "🌐 Перемикаюся на українську.",
    "id": "🌐 Beralih ke bahasa Indonesia.",
}
"""Language code -> notice written in that language."""


def change_notice(language: str) -> str:
    """One line, in ``language`` when known, announcing the new reply language."""
    return CHANGE_NOTICES.get(language) or f"🌐 Switching to {english_name(language)}."
