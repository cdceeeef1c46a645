"""Language models and the service interface the chat layer uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class Detection:
    """A detected language with a confidence in [0, 1]."""

    language: str
    confidence: float
    method: str = "statistical"
    """``script`` when a writing-system rule decided, ``statistical`` otherwise,
    ``none`` when the text holds no letters (default language, confidence 0)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyLanguage:
    """The language to answer a message in, and whether it just changed."""

    language: str
    detection: Detection | None
    changed: bool
    previous: str | None
    pinned: bool


class LanguageService(Protocol):
    """What the language feature offers (chat and the transports use it)."""

    def detect(self, text: str) -> Detection:
        """Detect the language of ``text`` among the configured languages."""
        ...

    async def observe(self, channel_id: int, text: str, *, user_id: int | None = None,
                      correlation_id: str | None = None, private: bool = False,
                      ) -> ReplyLanguage:
        """Detect ``text`` and advance the channel's hysteresis; publishes LanguageChanged.

        A ``private`` message (an ephemeral ``/ask``) is answered in its own language
        when that is confident, and leaves the channel's state as it was.
        """
        ...

    async def message_language(self, channel_id: int, text: str) -> str:
        """The language of one message, for a decision about it alone (translation).

        Its detected language when confident, else the channel's reply language: a
        low-confidence guess ("tqm", "了解") never decides. The channel's state is
        not advanced (``observe`` does that).
        """
        ...

    async def pin(self, channel_id: int, language: str | None) -> ReplyLanguage:
        """Pin the channel's reply language; ``None`` (``auto``) unpins.

        Raises:
            UnknownLanguage: ``language`` is not a configured language.
        """
        ...

    async def current(self, channel_id: int) -> ReplyLanguage:
        """The channel's reply language without observing a message."""
        ...

    def model_for(self, language: str) -> str:
        """The model routed for ``language``."""
        ...

    async def forget_user(self, user_id: int) -> None:
        """Drop what is kept in memory about a user (their data is being erased).

        A pin not yet written is dropped too, so it cannot recreate the user's row.
        """
        ...

    def system_prompt(self, language: str) -> str:
        """The system prompt for ``language`` (falls back to the default prompt)."""
        ...

    def change_notice(self, language: str) -> str:
        """One line, in ``language``, telling users the reply language changed."""
        ...
