"""Which model answers in which language."""

from __future__ import annotations

from collections.abc import Mapping

from libra.language.names import normalize_code


class ModelRouter:
    """Maps a language to its model: an exact route, then its base language, then default.

    Route keys are normalised like any language code, except that a bare ``zh`` key
    covers both Chinese variants (``{"zh": "qwen2.5:7b-instruct"}`` routes zh-cn and
    zh-tw alike); an exact ``zh-tw`` route still wins over it.
    """

    def __init__(self, routes: Mapping[str, str], default_model: str, *,
                 zh_default: str = "zh-cn") -> None:
        self.default_model = default_model
        self._zh_default = zh_default
        self._routes: dict[str, str] = {}
        for key, model in routes.items():
            cleaned = key.strip().lower().replace("_", "-")
            self._routes[cleaned if cleaned == "zh" else normalize_code(cleaned)] = model

    def model_for(self, language: str) -> str:
        """The model routed for ``language`` (the default model when none is)."""
        code = normalize_code(language, zh_default=self._zh_default)
        base = code.split("-", 1)[0]
        return self._routes.get(code) or self._routes.get(base) or self.default_model

    def models(self, languages: tuple[str, ...]) -> dict[str, str]:
        """Language -> model for every language given (for listings and warm-up)."""
        return {language: self.model_for(language) for language in languages}
