"""The cross-plugin event catalogue.

Every event is a frozen, keyword-only, typed record. Each carries a
``correlation_id`` so one conversational turn can be followed across plugins and
logs; derive follow-up events with ``correlation_id=cause.correlation_id``.
Subscribing to a base class (``Event``, ``VoiceEvent`` ...) receives subclasses.

Each event declares its ``kind``:

* **contract** — another feature acts on it (Libra exits on ``CriticalFailure``,
  storage records ``LLMCallFinished``, ``/stats`` reads ``ReplyFinished``): its fields
  are an interface, changed only with every subscriber.
* **telemetry** — published for observers (metrics, logs, tests); nothing may depend
  on it to behave correctly, so it can gain fields or go away freely.

A feature that starts acting on a telemetry event declares it a contract
(``tests/unit/core/test_event_catalogue.py`` checks both directions).

Sections: lifecycle · bus · language · chat · llm · translation · voice · discord · admin.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar


def new_correlation_id() -> str:
    """Return a short random id, unique enough to follow one turn in the logs."""
    return uuid.uuid4().hex[:16]


class EventKind(StrEnum):
    """Whether other features act on an event or only observe it."""

    CONTRACT = "contract"
    TELEMETRY = "telemetry"


class PluginPhase(StrEnum):
    """The lifecycle step a plugin failed in."""

    START = "start"
    STOP = "stop"


class MessageSource(StrEnum):
    """The transport a user message came through."""

    DISCORD = "discord"
    CONSOLE = "console"
    VOICE = "voice"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event on the bus."""

    kind: ClassVar[EventKind]
    correlation_id: str = field(default_factory=new_correlation_id)
    created_at: float = field(default_factory=time.monotonic)


# --- lifecycle ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginStarted(Event):
    """A plugin finished ``start()``."""

    kind = EventKind.TELEMETRY

    name: str
    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginFailed(Event):
    """A plugin failed to start or stop; Libra goes on without it."""

    kind = EventKind.TELEMETRY

    name: str
    phase: PluginPhase
    error_code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginStopped(Event):
    """A plugin finished ``stop()``."""

    kind = EventKind.TELEMETRY

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AppReady(Event):
    """Every plugin that could start has started."""

    # Telemetry since the root hands storage its metrics registry at construction:
    # no feature waits for this event any more.
    kind = EventKind.TELEMETRY

    seconds: float
    failed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CriticalFailure(Event):
    """A critical plugin can no longer work while running: Libra stops and exits 1.

    Exiting lets a supervisor (Docker's restart policy, systemd) see the failure
    instead of a process that looks alive and does nothing.
    """

    kind = EventKind.CONTRACT

    name: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AppStopping(Event):
    """Shutdown has begun."""

    kind = EventKind.TELEMETRY

    reason: str


# --- bus ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerFailed(Event):
    """A bus handler raised; dispatch to the other handlers went on."""

    kind = EventKind.TELEMETRY

    event_type: str
    handler: str
    error_type: str
    message: str


# --- language ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LanguageDetected(Event):
    """A message's language was detected."""

    kind = EventKind.TELEMETRY

    channel_id: int
    language: str
    confidence: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LanguageChanged(Event):
    """The reply language of a channel changed (after hysteresis or a pin)."""

    kind = EventKind.TELEMETRY

    channel_id: int
    previous: str | None
    language: str
    pinned: bool = False


# --- chat --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived(Event):
    """A user message reached the chat layer (from Discord, the console or voice)."""

    kind = EventKind.TELEMETRY

    user_id: int
    channel_id: int
    guild_id: int | None
    text: str
    source: MessageSource


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyStarted(Event):
    """The chat layer began answering a message."""

    kind = EventKind.TELEMETRY

    channel_id: int
    language: str
    model: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyFinished(Event):
    """A reply ended: completed, stopped by a user, or failed part-way."""

    kind = EventKind.CONTRACT

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

    kind = EventKind.TELEMETRY

    model: str
    ready: bool
    seconds: float
    error_code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMCallFinished(Event):
    """One LLM call ended; the storage plugin records it in ``llm_calls``."""

    kind = EventKind.CONTRACT

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

    kind = EventKind.TELEMETRY

    namespace: str


# --- voice -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceEvent(Event):
    """Base of voice events, all scoped to one guild's connection."""

    guild_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceConnected(VoiceEvent):
    """The voice connection finished its handshake and can send and receive."""

    kind = EventKind.TELEMETRY

    channel_id: int
    mode: str
    dave_protocol_version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceDisconnected(VoiceEvent):
    """The voice connection closed for good."""

    kind = EventKind.TELEMETRY

    reason: str
    close_code: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceSpeakingStarted(VoiceEvent):
    """A member began speaking (first audio after silence)."""

    kind = EventKind.TELEMETRY

    user_id: int
    ssrc: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceSpeakingStopped(VoiceEvent):
    """A member stopped speaking (silence or speaking flag cleared)."""

    kind = EventKind.TELEMETRY

    user_id: int
    ssrc: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceFailed(VoiceEvent):
    """A voice failure that users and operators must see (never silent).

    ``code`` is the stable code of the :class:`~libra.errors.VoiceError` behind it.
    Received audio is not an event: it streams through ``VoiceLink.audio``. A contract:
    the Discord side says each one in the voice channel's text chat.
    """

    kind = EventKind.CONTRACT

    code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceTurnLatency(Event):
    """Where one spoken turn's time went, from the end of the user's speech to Libra's voice.

    Stages are milliseconds, each from the end of the previous one; ``None`` = the
    stage was not reached (a failed turn) or not measured (``first_packet_ms`` outside
    a voice channel). Not a :class:`VoiceEvent`: files mode has no guild or connection.
    """

    kind = EventKind.TELEMETRY

    user_id: int
    channel_id: int
    guild_id: int | None
    stt: str
    """``engine:model`` that transcribed the turn."""
    tts: str | None
    """``engine:voice`` that spoke the answer."""
    endpoint_ms: float
    """From the last speech to the decision that the turn ended (the trailing silence)."""
    stt_final_ms: float
    """From the end of the turn to the final transcript."""
    chat_ms: float | None
    """Libra's chat work before the LLM is asked (language, history, memories)."""
    llm_first_token_ms: float | None
    """From the LLM request to its first token."""
    first_sentence_ms: float | None
    """From the first token to the first complete sentence."""
    tts_first_audio_ms: float | None
    """From the first sentence to its first synthesised audio."""
    first_packet_ms: float | None
    """From the first audio to the first packet sent (filled by the transport)."""
    total_ms: float | None
    """End of speech to the first synthesised audio."""
    libra_ms: float | None
    """Libra's own share: ``total_ms`` minus the endpoint silence and the LLM's time to
    its first sentence."""
    error_code: str | None = None


# --- discord -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscordReady(Event):
    """The gateway is connected and commands are synced."""

    kind = EventKind.TELEMETRY

    user_id: int
    guild_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscordRateLimited(Event):
    """Discord answered 429 (we count these to prove our pacing works)."""

    kind = EventKind.TELEMETRY

    route: str
    retry_after: float
