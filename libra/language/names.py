"""Language codes: normalisation, validation and human names.

Libra speaks in langdetect's codes (``en``, ``ko``, ``zh-cn``, ``zh-tw`` ...). Codes
from users and config files arrive in many spellings (``zh_TW``, ``pt-BR``, ``zh``,
``iw``); :func:`normalize_code` maps them onto that vocabulary. Bare ``zh`` has no
single right answer, so it maps to an explicit, configurable variant.
"""

from __future__ import annotations

from collections.abc import Iterable

from libra.errors import UnknownLanguage

_PROFILE_CODES = (
    "af ar bg bn ca cs cy da de el en es et fa fi fr gu he hi hr hu id it ja kn ko lt lv "
    "mk ml mr ne nl no pa pl pt ro ru sk sl so sq sv sw ta te th tl tr uk ur vi zh-cn zh-tw"
)
KNOWN_CODES: frozenset[str] = frozenset(_PROFILE_CODES.split(" "))
"""Every code langdetect ships a profile for."""

_ALIASES: dict[str, str] = {
    "zh-hans": "zh-cn", "zh-sg": "zh-cn", "zh-my": "zh-cn", "cmn": "zh-cn",
    "zh-hant": "zh-tw", "zh-hk": "zh-tw", "zh-mo": "zh-tw", "yue": "zh-tw",
    "iw": "he", "in": "id", "nb": "no", "nn": "no", "fil": "tl",
    "jp": "ja", "kr": "ko", "cn": "zh-cn", "tw": "zh-tw",
}

LANGUAGE_NAMES: dict[str, tuple[str, str]] = {
    "en": ("English", "English"),
    "ko": ("Korean", "한국어"),
    "ja": ("Japanese", "日本語"),
    "zh-cn": ("Simplified Chinese", "简体中文"),
    "zh-tw": ("Traditional Chinese", "繁體中文"),
    "es": ("Spanish", "Español"),
    "fr": ("French", "Français"),
    "de": ("German", "Deutsch"),
    "ru": ("Russian", "Русский"),
    "pt": ("Portuguese", "Português"),
    "it": ("Italian", "Italiano"),
    "vi": ("Vietnamese", "Tiếng Việt"),
    "nl": ("Dutch", "Nederlands"),
    "pl": ("Polish", "Polski"),
    "tr": ("Turkish", "Türkçe"),
    "uk": ("Ukrainian", "Українська"),
    "ar": ("Arabic", "العربية"),
    "he": ("Hebrew", "עברית"),
    "hi": ("Hindi", "हिन्दी"),
    "th": ("Thai", "ไทย"),
    "id": ("Indonesian", "Bahasa Indonesia"),
    "sv": ("Swedish", "Svenska"),
    "el": ("Greek", "Ελληνικά"),
}
"""Code -> (English name, native name) for the languages users meet most."""


def normalize_code(code: str, *, zh_default: str = "zh-cn") -> str:
    """Map a language code in any common spelling onto Libra's vocabulary.

    ``zh`` (no variant) becomes ``zh_default``; regional tags of languages without
    variants lose their region (``pt-BR`` -> ``pt``). Unknown codes are returned
    lower-cased so the caller can report them.
    """
    cleaned = code.strip().lower().replace("_", "-")
    if cleaned == "zh":
        return zh_default
    if cleaned in KNOWN_CODES:
        return cleaned
    if cleaned in _ALIASES:
        return _ALIASES[cleaned]
    base = cleaned.split("-", 1)[0]
    if base == "zh":
        return zh_default
    if base in KNOWN_CODES:
        return base
    return _ALIASES.get(base, cleaned)


def parse_language(code: str, configured: Iterable[str], *, zh_default: str = "zh-cn") -> str:
    """Normalise ``code`` and check it is one of the ``configured`` languages.

    Raises:
        UnknownLanguage: the code is not configured, with the list that is.
    """
    allowed = tuple(configured)
    normalized = normalize_code(code, zh_default=zh_default)
    if normalized not in allowed:
        raise UnknownLanguage(
            f"unknown language {code!r}",
            hint=f"use one of: {', '.join(allowed)} (or 'auto')",
        )
    return normalized


def english_name(code: str) -> str:
    """The English name of ``code`` (the code itself when unnamed)."""
    return LANGUAGE_NAMES.get(code, (code, code))[0]


def native_name(code: str) -> str:
    """The name of ``code`` in that language (the English name when unknown)."""
    return LANGUAGE_NAMES.get(code, (code, code))[1]
