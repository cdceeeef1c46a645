"""Language names users type ("Korean", "한국어", "ko", "zh_TW") → supported codes."""

from __future__ import annotations

import unicodedata

from libra.errors import LanguageUnknown
from libra.language.names import LANGUAGE_NAMES, english_name, native_name, normalize_code

_EXTRA_NAMES: dict[str, str | None] = {
    "chinese": None,  # the configured default variant
    "中文": None,
    "simplified chinese": "zh-cn", "traditional chinese": "zh-tw",
    "简体中文": "zh-cn", "繁體中文": "zh-tw", "繁体中文": "zh-tw", "简体": "zh-cn",
    "繁體": "zh-tw", "mandarin": None, "castellano": "es", "espanol": "es",
    "francais": "fr", "portugues": "pt", "brazilian portuguese": "pt", "farsi": "fa",
    "tieng viet": "vi", "bahasa": "id", "nihongo": "ja", "hangul": "ko", "hanguk-eo": "ko",
}


def _key(name: str) -> str:
    """Case-, accent- and space-insensitive form of a name."""
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.replace("_", " ").split())


class LanguageNames:
    """The languages translation supports and the names that reach them."""

    def __init__(self, supported: tuple[str, ...], *, zh_default: str = "zh-cn") -> None:
        self.zh_default = zh_default
        self.supported = tuple(normalize_code(c, zh_default=zh_default) for c in supported)
        names: dict[str, str] = {}
        for code in self.supported:
            english, native = LANGUAGE_NAMES.get(code, (code, code))
            names[_key(english)] = code
            names[_key(native)] = code
        for name, extra in _EXTRA_NAMES.items():
            resolved = extra or zh_default
            if resolved in self.supported:
                names.setdefault(_key(name), resolved)
        self._names = names

    def parse(self, name: str) -> str:
        """The supported code ``name`` stands for.

        Raises:
            LanguageUnknown: no supported language has this code or name.
        """
        code = normalize_code(name, zh_default=self.zh_default)
        if code in self.supported:
            return code
        found = self._names.get(_key(name))
        if found is not None:
            return found
        raise LanguageUnknown(name, self.supported)

    def label(self, code: str) -> str:
        """How a language is shown to users: "Korean (한국어)", "English"."""
        english, native = english_name(code), native_name(code)
        return english if english == native else f"{english} ({native})"

    def listing(self) -> str:
        """Every supported language with its code, for "unknown language" answers."""
        return ", ".join(f"{self.label(c)} `{c}`" for c in self.supported)
