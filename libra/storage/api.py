"""Storage models and the repository interface other plugins use.

Implemented by :mod:`libra.storage.repositories` over asyncpg (behind the
write-behind :class:`~libra.storage.durable.DurableStorage`); the composition root
hands each feature the narrow store port it needs. Discord ids are ``int``
(``BIGINT`` in SQL); internal ids are ``int`` (``INTEGER`` keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

MAX_INTERNAL_ID = 2**31 - 1
"""The largest internal id (users, sessions, memories are ``INTEGER`` columns)."""


class Role(StrEnum):
    """Who wrote a message."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class MessageStatus(StrEnum):
    """How a stored assistant message ended."""

    COMPLETE = "complete"
    STOPPED = "stopped"
    """A user stopped the generation; the text is what was delivered."""
    CUT = "cut"
    """The model's stream broke part-way; the text is the partial answer."""
    FAILED = "failed"


class MemoryScope(StrEnum):
    """Where a memory is used: the kind of place it was made in, or everywhere."""

    GUILD = "guild"
    """One Discord server (the memory's ``guild_id``)."""
    DM = "dm"
    """The user's direct messages with Libra."""
    CONSOLE = "console"
    """The local ``libra chat`` console."""
    EVERYWHERE = "everywhere"
    """Every place: only when the user asked for it."""
    UNKNOWN = "unknown"
    """Saved before memories had a scope (migration 0002): it may hold something said
    in a DM, so it is used in DMs only, where nobody but its author reads the answer."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a conversation happens (or, for a memory, where it may be used)."""

    scope: MemoryScope
    guild_id: int | None = None

    def __post_init__(self) -> None:
        if (self.scope is MemoryScope.GUILD) != (self.guild_id is not None):
            msg = f"a {self.scope} place {'needs' if self.guild_id is None else 'has no'} guild id"
            raise ValueError(msg)

    @classmethod
    def of(cls, guild_id: int | None, *, console: bool = False) -> Place:
        """The place of a message: the console, a guild, or (without a guild) the DMs."""
        if console:
            return cls(MemoryScope.CONSOLE)
        return cls(MemoryScope.GUILD, guild_id) if guild_id is not None else cls(MemoryScope.DM)

    def sees(self, memory: Memory) -> bool:
        """Whether ``memory`` may go into a prompt answered here."""
        if memory.scope is MemoryScope.EVERYWHERE:
            return True
        if memory.scope is MemoryScope.UNKNOWN:
            return self.scope is MemoryScope.DM
        return memory.scope is self.scope and memory.guild_id == self.guild_id


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A Discord user Libra has met."""

    id: int
    discord_id: int
    language: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredMessage:
    """One message of a conversation."""

    id: int
    session_id: int
    user_id: int
    channel_id: int
    role: Role
    content: str
    language: str | None
    model: str | None
    status: MessageStatus
    created_at: datetime
    source: str | None = None
    """The transport of the turn (``discord``, ``console``, ``voice``), if recorded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Memory:
    """Something a user asked Libra to remember."""

    id: int
    user_id: int
    scope: MemoryScope
    guild_id: int | None = None
    """The guild of a ``GUILD`` memory."""
    content: str
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelLanguageState:
    """A channel's reply language and the hysteresis counter behind it."""

    channel_id: int
    language: str | None = None
    pinned_language: str | None = None
    candidate: str | None = None
    candidate_count: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMCallRecord:
    """One row of ``llm_calls``."""

    model: str
    language: str | None
    prompt_tokens: int
    completion_tokens: int
    first_token_ms: float | None
    latency_ms: float
    cache_hit: bool
    error_code: str | None
    guild_id: int | None = None
    created_at: datetime | None = None
    """When the call ended (``None`` = when stored); a queued row keeps its own time."""
    user_id: int | None = None
    """The Discord id of the user whose turn the call served."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRecord:
    """One message of a turn to store, by Discord ids so it can wait for the database.

    ``created_at`` is set by the caller: it orders queued messages and makes storing
    one twice detectable (a write that timed out may still have been committed).
    """

    discord_user_id: int
    channel_id: int
    guild_id: int | None
    role: Role
    content: str
    created_at: datetime
    user_id: int | None = None
    """The internal user id, when the caller knows it (else resolved when stored)."""
    session_id: int | None = None
    """The open session, when the caller knows it (else the user's open one then)."""
    language: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    status: MessageStatus = MessageStatus.COMPLETE
    source: str | None = None
    """The transport of the turn (``discord``, ``console``, ``voice``; a reply carries
    its question's); ``None`` when unknown (queued before migration 0004)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageTotals:
    """Row counts and LLM call figures, for ``/stats``, doctor and metrics."""

    users: int
    sessions: int
    messages: int
    memories: int
    translations: int
    llm_calls: int
    llm_errors: int
    llm_cache_hits: int
    llm_latency_p50_ms: float | None
    llm_latency_p95_ms: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserData:
    """Every stored row of one user, as JSON-ready dicts (Discord ids as strings)."""

    user: dict[str, Any]
    sessions: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    """The user's messages and Libra's replies to them (both live in their sessions)."""
    memories: list[dict[str, Any]]
    translations: list[dict[str, Any]]
    llm_calls: list[dict[str, Any]]
    translate_opt_ins: list[dict[str, Any]] = field(default_factory=list)
    """Channels where the user asked for their own messages to be translated."""
    linked_channel_posts: list[dict[str, Any]] = field(default_factory=list)
    """The user's messages kept for linked/auto-translated channels (text, ids, where
    their translation was posted): ``translation_post_sources`` by ``author_id``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GuildUsage:
    """LLM usage of one guild since a point in time."""

    guild_id: int | None
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cache_hits: int
    errors: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GuildDay:
    """LLM usage of one guild on one UTC day."""

    guild_id: int | None
    day: date
    calls: int
    tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelLatency:
    """Latency percentiles of one model's successful, uncached calls."""

    model: str
    calls: int
    first_token_p50_ms: float | None
    first_token_p95_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolSizes:
    """How many database connections are busy and idle, and the pool's bound."""

    busy: int
    idle: int
    max: int


class UsageStats(Protocol):
    """LLM usage and latency read from ``llm_calls`` (``/stats``, the admin API).

    Every method raises :class:`~libra.errors.StorageError` (a ``LibraError``) when
    the database is not connected or fails.
    """

    @property
    def connected(self) -> bool:
        """Whether a database is connected now (the figures can be read)."""
        ...

    def pool_sizes(self) -> PoolSizes | None:
        """The connection pool's sizes (``None`` while not connected)."""
        ...

    async def guild_usage(self, since: datetime, *, limit: int = 50) -> list[GuildUsage]:
        """Calls and tokens per guild since ``since``, busiest first."""
        ...

    async def guild_daily_usage(self, since: datetime) -> list[GuildDay]:
        """Calls and tokens per guild and UTC day since ``since``."""
        ...

    async def model_latency(self, since: datetime) -> list[ModelLatency]:
        """Latency percentiles per model since ``since``."""
        ...


class UserStore(Protocol):
    """Users by Discord id (every conversation and language pin starts here)."""

    async def ensure_user(self, discord_id: int) -> User:
        """Return the user, creating it on first sight."""
        ...


class ChatStore(UserStore, Protocol):
    """Sessions and messages of conversations (chat)."""

    async def open_session(self, user_id: int, channel_id: int, guild_id: int | None) -> int:
        """Return the user's open session in the channel, starting one if needed."""
        ...

    async def end_session(self, user_id: int, channel_id: int) -> bool:
        """End the open session (``/reset``); ``False`` when none was open."""
        ...

    async def append_message(
        self,
        *,
        session_id: int,
        user_id: int,
        channel_id: int,
        role: Role,
        content: str,
        language: str | None = None,
        model: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        latency_ms: float | None = None,
        status: MessageStatus = MessageStatus.COMPLETE,
    ) -> int:
        """Store one message and return its id."""
        ...

    async def recent_messages(self, session_id: int, limit: int) -> list[StoredMessage]:
        """The session's last ``limit`` messages, oldest first."""
        ...

    async def record_message(self, record: MessageRecord) -> None:
        """Store one message of a turn (queued, not lost, while the database is out)."""
        ...


class MemoryStore(Protocol):
    """What users asked Libra to remember (chat)."""

    async def add_memory(
        self, user_id: int, content: str, *, place: Place,
        metadata: dict[str, Any] | None = None,
    ) -> Memory:
        """Remember ``content`` for the user, to be used in ``place`` only."""
        ...

    async def list_memories(self, user_id: int) -> list[Memory]:
        """The user's memories (of every place), oldest first."""
        ...

    async def forget_memories(self, user_id: int, memory_id: int | None = None) -> int:
        """Delete one memory (or all with ``None``); return how many were deleted."""
        ...


class PrivacyStore(Protocol):
    """Everything stored about one user, for ``/privacy export`` and ``delete``."""

    async def delete_user(self, discord_id: int) -> bool:
        """Delete a user and, by cascade, everything stored about them.

        Also the linked-channel mappings of their messages (keyed by Discord id, not
        by ``users``): the posted translations stay on Discord, but no longer follow
        edits or deletions of the originals. ``True`` when anything was deleted.

        Call it through ``ChatService.erase``, which also drops what is cached.
        """
        ...

    async def export_user(self, discord_id: int) -> UserData | None:
        """Every row stored about a user (``None`` when there is none)."""
        ...


class LanguageStore(UserStore, Protocol):
    """Channel language state and users' pinned languages (language)."""

    async def set_user_language(self, discord_id: int, language: str | None) -> None:
        """Pin (or with ``None`` unpin) a user's preferred language."""
        ...

    async def get_channel_language(self, channel_id: int) -> ChannelLanguageState | None:
        """The channel's saved language state."""
        ...

    async def save_channel_language(self, state: ChannelLanguageState) -> None:
        """Upsert the channel's language state."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TranslationRow:
    """One row of ``translations``, as its user's history shows it."""

    id: int
    source_language: str
    target_language: str
    source_text: str
    translated_text: str
    model: str
    guild_id: int | None
    channel_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class GlossaryRow:
    """One row of ``glossary_entries`` (``rendering`` ``None`` = do not translate)."""

    term: str
    language: str | None
    rendering: str | None
    created_by: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class GuildGlossaryRow:
    """One glossary entry and its guild (the operator page lists every guild's)."""

    guild_id: int
    term: str
    language: str | None
    rendering: str | None
    """``None``: the term is never translated."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LanguagePairVolume:
    """Translations from one language into another since a point in time."""

    source_language: str
    target_language: str
    translations: int


class TranslationStore(UserStore, Protocol):
    """Translations, glossaries and personal opt-ins (the translation feature).

    User arguments named ``discord_id`` are Discord ids; ``user_id`` is internal.
    """

    async def record_translation(
        self, *, user_id: int, source_language: str, target_language: str,
        source_text: str, translated_text: str, model: str,
        guild_id: int | None = None, channel_id: int | None = None,
    ) -> int:
        """Store one translation; return its id."""
        ...

    async def translation_history(self, discord_id: int, *, query: str | None, offset: int,
                                  limit: int) -> tuple[list[TranslationRow], int]:
        """The user's translations newest first, and how many match in all.

        ``query`` matches (case-insensitively) the original or the translation.
        """
        ...

    async def delete_translations(self, discord_id: int) -> int:
        """Delete every translation of the user; return how many."""
        ...

    async def glossary(self, guild_id: int) -> list[GlossaryRow]:
        """The guild's glossary, by term."""
        ...

    async def save_glossary_entry(self, guild_id: int, *, term: str, language: str | None,
                                  rendering: str | None, created_by: int | None,
                                  max_entries: int) -> bool:
        """Add or replace the entry for (term, language).

        ``False`` when the guild already has ``max_entries`` other entries (nothing stored).
        """
        ...

    async def delete_glossary_entry(self, guild_id: int, term: str,
                                    language: str | None) -> int:
        """Delete the term's entry for ``language`` (every language's with ``None``)."""
        ...

    async def set_translate_opt_in(self, discord_id: int, channel_id: int,
                                   guild_id: int | None, on: bool) -> None:
        """Turn a user's personal opt-in for a channel on or off."""
        ...

    async def translate_opt_in(self, discord_id: int, channel_id: int) -> bool:
        """Whether the user opted in for the channel."""
        ...

    async def translation_volume(self, since: datetime) -> list[LanguagePairVolume]:
        """Translations per language pair since ``since``, busiest first."""
        ...

    async def glossary_overview(self, *, limit: int = 200) -> list[GuildGlossaryRow]:
        """Every guild's glossary entries (at most ``limit``), by guild and term."""
        ...


class LLMCallLog(Protocol):
    """One row per LLM call, for usage statistics."""

    async def record_llm_call(self, record: LLMCallRecord) -> None:
        """Store one LLM call (queued like ``record_message`` while the database is out)."""
        ...


class StoreTotals(Protocol):
    """Row counts for doctor and metrics."""

    async def usage_stats(self, since_seconds: float | None = None) -> UsageTotals:
        """Counts of stored rows and LLM call figures (``since_seconds`` limits llm_calls)."""
        ...


class Storage(ChatStore, MemoryStore, PrivacyStore, LanguageStore, TranslationStore,
              LLMCallLog, StoreTotals, Protocol):
    """Every store port at once: what the storage plugin implements.

    Consumers take the narrow port they use (``ChatStore``, ``LanguageStore``, ...),
    so a feature's dependencies can be read off its constructor.
    """


# --- voice channels (``/voice``; not part of ``Storage``: its own table and store) ------


class VoiceMode(StrEnum):
    """How Libra answers in a guild's voice channel (``/voice mode``)."""

    OPEN = "open"
    """Every finished utterance is answered."""
    WAKE_WORD = "wake-word"
    """Only utterances that start with Libra's name are answered (busy channels)."""
    OFF = "off"
    """Listen only: transcripts are mirrored in text, nothing is said aloud."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VoicePreferences:
    """A guild's voice settings; ``None`` fields follow the configuration."""

    mode: VoiceMode = VoiceMode.OPEN
    voice: str | None = None
    """The Piper voice (``/voice voice``); ``None``: the language's configured voice."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RememberedVoiceChannel:
    """A voice channel Libra is in, kept so that a restart rejoins it."""

    guild_id: int
    channel_id: int
    text_channel_id: int | None
    """Where ``/voice join`` was run: the language of Libra's notices follows it."""


class VoiceChannelStore(Protocol):
    """Which voice channels Libra is in and each guild's voice preferences.

    Every call raises :class:`~libra.errors.DatabaseUnavailable` while no database is
    connected (callers degrade: Libra stays in voice, it just will not rejoin).
    """

    async def remembered_voice_channels(self) -> list[RememberedVoiceChannel]:
        """Every remembered voice channel, by guild id."""
        ...

    async def remember_voice_channel(self, channel: RememberedVoiceChannel) -> None:
        """Remember (or move) the guild's voice channel."""
        ...

    async def forget_voice_channel(self, guild_id: int) -> None:
        """Libra left the guild's voice channel (``/voice leave``, kicked, alone, lost)."""
        ...

    async def voice_preferences(self, guild_id: int) -> VoicePreferences:
        """The guild's voice mode and voice (defaults when never set)."""
        ...

    async def set_voice_preferences(self, guild_id: int, preferences: VoicePreferences) -> None:
        """Store the guild's voice mode and voice."""
        ...
