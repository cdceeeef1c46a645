"""Per-language system prompts, read from editable files.

``<config_dir>/prompts/<code>.md`` holds the prompt for one language (written in
that language); ``default.md`` (English) serves every language without its own
file and names the target language through the ``{language_name}`` placeholder.
Files are read once per :class:`PromptLibrary`, so an edit takes effect when the
service is rebuilt (a restart), never half-way through a conversation.
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from libra.language.names import english_name

BUILTIN_DEFAULT_PROMPT = (
    "You are Libra, a friendly assistant in a Discord chat. Always answer in "
    "{language_name}, whatever language the question quotes. Be concise: a few "
    "sentences unless asked for more. If you are not sure of something, say so "
    "plainly instead of guessing."
)
"""Used only when ``default.md`` itself is missing or unreadable."""

PLACEHOLDERS = ("{language_name}", "{language_code}")


class PromptLibrary:
    """Loads and caches system prompts; a missing file falls back with one warning."""

    def __init__(self, config_dir: Path) -> None:
        self.directory = _locate(config_dir) / "prompts"
        self._cache: dict[str, str] = {}
        self._default: str | None = None

    def system_prompt(self, language: str) -> str:
        """The prompt for ``language``, placeholders filled in."""
        prompt = self._cache.get(language)
        if prompt is None:
            template = self._read(language)
            if template is None:
                logger.warning(
                    "no system prompt file for {} ({}); using the default prompt",
                    language, self.directory / f"{language}.md",
                )
                template = self._default_template()
            prompt = _fill(template, language)
            self._cache[language] = prompt
        return prompt

    def _default_template(self) -> str:
        if self._default is None:
            template = self._read("default")
            if template is None:
                logger.warning("default system prompt {} is missing; using the built-in one",
                               self.directory / "default.md")
                template = BUILTIN_DEFAULT_PROMPT
            self._default = template
        return self._default

    def _read(self, name: str) -> str | None:
        if "/" in name or "\\" in name or name.startswith("."):
            return None  # a language code never names another directory
        path = self.directory / f"{name}.md"
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as err:
            logger.warning("cannot read system prompt {}: {}", path, err)
            return None
        if not text:
            # An empty prompt would drop the reply language along with the persona.
            logger.warning("system prompt {} is empty; falling back", path)
            return None
        return text


def _fill(template: str, language: str) -> str:
    # str.replace, not str.format: prompt files are edited by hand and may hold braces.
    return template.replace("{language_name}", english_name(language)).replace(
        "{language_code}", language
    )


def _locate(config_dir: Path) -> Path:
    """``config_dir``, or the checkout's ``config/`` when a relative one is not here.

    ``app.config_dir`` defaults to the relative ``config``, which only exists when
    Libra runs from its checkout (or /app in the image); started from anywhere else,
    the prompts shipped next to the package are still the ones users edit.
    """
    if config_dir.is_absolute() or (config_dir / "prompts").is_dir():
        return config_dir
    beside_package = Path(__file__).resolve().parents[2] / config_dir
    return beside_package if (beside_package / "prompts").is_dir() else config_dir
