"""The cross-plugin event catalogue.

Every event is a frozen, keyword-only, typed record. Each carries a
``correlation_id`` so one conversational turn can be followed across plugins and
logs; derive follow-up events with ``correlation_id=cause.correlation_id``.
Subscribing to a base class (``Event``, ``VoiceEvent`` ...) receives subclasses.

Sections: lifecycle · bus · language · chat · llm · translation · voice · discord · admin.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


def new_correlation_id() -> str:
    """Return a short random id, unique enough to follow one turn in the logs."""
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event on the bus."""

    correlation_id: str = field(default_factory=new_correlation_id)
    created_at: float = field(default_factory=time.monotonic)


# --- lifecycle ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginStarted(Event):
    """A plugin finished ``start()``."""

    name: str
    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginFailed(Event):
    """A plugin failed to start or stop; Libra goes on without it."""

    name: str
    phase: str
    error_code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginStopped(Event):
    """A plugin finished ``stop()``."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AppReady(Event):
    """Every plugin that could start has started."""

    seconds: float
    failed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CriticalFailure(Event):
    """A critical plugin can no longer work while running: Libra stops and exits 1.

    Exiting lets a supervisor (Docker's restart policy, systemd) see the failure
    instead of a process that looks alive and does nothing.
    """

    name: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AppStopping(Event):
    """Shutdown has begun."""

    reason: str


# --- bus ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerFailed(Event):
    """A bus handler raised; dispatch to the other handlers went on."""

    event_type: str
    handler: str
    error_type: str
    message: str


# --- language ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LanguageDetected(Event):
    """A message's language was detected."""

    channel_id: int
    language: str
    confidence: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LanguageChanged(Event):
    """The reply language of a channel changed (after hysteresis or a pin)."""

    channel_id: int
    previous: str | None
    language: str
    pinned: bool = False


# --- chat --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived(Event):
    """A user message reached the chat layer (from Discord, the console or voice)."""

    user_id: int
    channel_id: int
    guild_id: int | None
    text: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyStarted(Event):
    """The chat layer began answering a message."""

    channel_id: int
    language: str
    model: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyFinished(Event):
    """A reply ended: completed, stopped by a user, or failed part-way."""

    channel_id: int
    text: str
    language: str
    model: str
    stopped: bool = False
    error_code: str | None = None
    first_token_ms: float | None = None
    total_ms: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    """Milliseconds per stage (``language``, ``context``, ``first_token``, ``generate``)."""
    guild_id: int | None = None


# --- llm ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelReady(Event):
    """A routed model was warmed up (or failed to)."""

    model: str
    ready: bool
    seconds: float
    error_code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMCallFinished(Event):
    """One LLM call ended; the storage plugin records it in ``llm_calls``."""

    model: str
    language: str | None
    prompt_tokens: int
    completion_tokens: int
    first_token_ms: float | None
    latency_ms: float
    cache_hit: bool
    error_code: str | None = None
    server: str | None = None
    guild_id: int | None = None
    """The guild the call served (None for DMs and the console), for per-guild usage."""
    user_id: int | None = None
    """The Discord user whose turn the call served (None for calls for nobody)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheFlushed(Event):
    """A cache namespace was flushed."""

    namespace: str


# --- voice -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceEvent(Event):
    """Base of voice events, all scoped to one guild's connection."""

    guild_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceConnected(VoiceEvent):
    """The voice connection finished its handshake and can send and receive."""

    channel_id: int
    mode: str
    dave_protocol_version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceDisconnected(VoiceEvent):
    """The voice connection closed for good."""

    reason: str
    close_code: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceSpeakingStarted(VoiceEvent):
    """A member began speaking (first audio after silence)."""

    user_id: int
    ssrc: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceSpeakingStopped(VoiceEvent):
    """A member stopped speaking (silence or speaking flag cleared)."""

    user_id: int
    ssrc: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceFailed(VoiceEvent):
    """A voice failure that users and operators must see (never silent).

    ``code`` is the stable code of the :class:`~libra.errors.VoiceError` behind it.
    Received audio is not an event: it streams through ``VoiceLink.audio``.
    """

    code: str
    message: str


# --- discord -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscordReady(Event):
    """The gateway is connected and commands are synced."""

    user_id: int
    guild_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscordRateLimited(Event):
    """Discord answered 429 (we count these to prove our pacing works)."""

    route: str
    retry_after: float
