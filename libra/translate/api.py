"""What the translation feature offers: the ``Translator`` port and its models.

Dependency-neutral (no hikari, no LLM imports): the Discord commands, the linked and
auto-translated channel relay and the tests all talk to translation through these.
``libra/translate/service.py`` implements :class:`Translator` on the local LLM.

Errors (``libra/errors.py``, translate section): ``TranslationFailed`` (the model's
answer failed a check twice; nothing wrong is posted), ``LanguageUnknown`` (carries
the supported languages), ``TranslationTooLong``, ``GlossaryInvalid``; and the LLM's
own errors (``LLMError`` subclasses) when no model answered at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class TranslationOutcome(StrEnum):
    """What ``translate`` did with a text."""

    TRANSLATED = "translated"
    """``text`` is the model's (checked) translation."""
    SAME_LANGUAGE = "same_language"
    """The text already is in the target language: ``text`` is the original, unchanged."""
    NOTHING_TO_TRANSLATE = "nothing_to_translate"
    """Emoji, mentions, URLs, code or a chat token ("gg", "lol", "ㅋㅋ") only:
    ``text`` is the original and nothing should be posted for it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Translation:
    """The result of one ``translate`` call."""

    source: str
    """Language code of the original (given, or detected)."""
    target: str
    """Language code translated into."""
    text: str
    """The translation (the original itself unless ``outcome`` is ``TRANSLATED``)."""
    original: str
    """The text that was asked for."""
    outcome: TranslationOutcome = TranslationOutcome.TRANSLATED
    cached: bool = False
    """The model's answer came from the LLM cache."""
    model: str | None = None
    """The model that translated (``None`` when no model was asked)."""
    translation_id: int | None = None
    """The row in the history (``None`` when not stored: not translated, or no database)."""

    @property
    def translated(self) -> bool:
        """Whether ``text`` is a new translation worth showing or posting."""
        return self.outcome is TranslationOutcome.TRANSLATED


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextMessage:
    """One earlier message of the conversation, given to the model as context only."""

    author: str
    text: str


class Translator(Protocol):
    """Translation on the local LLM: faithful, glossary-aware, checked, cached, stored."""

    def supported_languages(self) -> tuple[str, ...]:
        """Language codes translation accepts (the configured languages)."""
        ...

    def parse_language(self, name: str) -> str:
        """A language code for a code or a name in English or natively ("Korean", "한국어").

        Raises:
            LanguageUnknown: not a supported language; the error lists the supported ones.
        """
        ...

    def worth_translating(self, text: str) -> bool:
        """Whether ``text`` holds prose to translate (cheap: no model, no detection).

        ``False`` for emoji-, mention-, URL- or code-only messages and short chat
        tokens; ``translate`` answers those with ``NOTHING_TO_TRANSLATE``.
        """
        ...

    async def preferred_language(self, user_id: int) -> str | None:
        """The language the user chose for themselves (``/lang``), if any and supported."""
        ...

    async def translate(
        self,
        text: str,
        *,
        target: str,
        source: str | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
        context: Sequence[ContextMessage] = (),
        record: bool = True,
    ) -> Translation:
        """Translate ``text`` into ``target``.

        Args:
            text: the message as written (markdown, code, mentions, emoji kept as is).
            target: a supported language code (see ``parse_language``).
            source: the original's language; ``None`` = detected (per message, with the
                channel's language when the detection is unsure).
            guild_id: whose glossary applies (``None`` = none).
            channel_id: where the message was written (its language when unsure).
            user_id: the Discord user the translation is for/by (its history row).
            context: the previous few messages, oldest first (never translated).
            record: store it in the user's history (needs ``user_id``).

        Raises:
            TranslationTooLong: over ``translate.max_chars``.
            LanguageUnknown: ``target`` or ``source`` is not supported.
            TranslationFailed: the model's answer failed the checks twice.
            LLMError: no model answered (unreachable, overloaded, ...).
        """
        ...


# --- glossary ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GlossaryEntry:
    """One term of a guild's glossary.

    Without ``rendering`` the term is never translated (do-not-translate list). With
    one, the term becomes ``rendering`` in translations into ``language`` (all target
    languages when ``language`` is ``None``).
    """

    term: str
    rendering: str | None = None
    language: str | None = None
    created_by: int | None = None
    created_at: datetime | None = None

    @property
    def keep(self) -> bool:
        """The term stays exactly as written (do-not-translate)."""
        return self.rendering is None


class Glossary(Protocol):
    """Per-guild glossary and do-not-translate list (``/glossary``)."""

    async def entries(self, guild_id: int) -> list[GlossaryEntry]:
        """The guild's entries, by term."""
        ...

    async def add(self, guild_id: int, entry: GlossaryEntry) -> GlossaryEntry:
        """Add or replace the entry for (term, language).

        Raises:
            GlossaryInvalid: empty or over-long term, or the guild has too many entries.
        """
        ...

    async def remove(self, guild_id: int, term: str, language: str | None = None) -> int:
        """Remove the term's entries (one language's, or all with ``None``); how many."""
        ...


# --- history and opt-in --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryItem:
    """One stored translation, as its user sees it in ``/translate history``."""

    id: int
    source_language: str
    target_language: str
    source_text: str
    translated_text: str
    guild_id: int | None
    channel_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryPage:
    """One page of a user's history, newest first."""

    items: list[HistoryItem]
    total: int
    """Matching translations in all pages."""
    page: int
    """0-based."""
    page_size: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1)."""
        return max(1, -(-self.total // self.page_size))


class TranslationHistory(Protocol):
    """A user's own translation history (``/translate history``)."""

    async def history(self, user_id: int, *, query: str | None = None, page: int = 0,
                      page_size: int = 5) -> HistoryPage:
        """The user's translations, newest first; ``query`` matches original or result."""
        ...

    async def delete_history(self, user_id: int) -> int:
        """Delete every translation of the user; how many were deleted."""
        ...


class PersonalOptIn(Protocol):
    """``/translate me on|off``: a user's own messages in a channel get translated.

    When on, each of the user's messages in that channel is translated into the
    channel's language and posted beneath it (unless already in that language).
    """

    async def set_opt_in(self, user_id: int, channel_id: int, on: bool, *,
                         guild_id: int | None = None) -> None:
        """Turn the user's opt-in for the channel on or off."""
        ...

    async def opted_in(self, user_id: int, channel_id: int) -> bool:
        """Whether the user opted in for the channel."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TranslationFeature:
    """The translation parts the composition root hands to transports."""

    translator: Translator
    glossary: Glossary
    history: TranslationHistory
    opt_in: PersonalOptIn
