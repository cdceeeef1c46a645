"""What the Discord handlers share, injected into lightbulb commands by type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from libra.bounded import LruDict, LruSet
from libra.bus import EventBus
from libra.chat.api import ChatService
from libra.cluster.api import InstanceDirectory
from libra.config import Settings
from libra.discord.api import RateLimiter, VoiceTurnFigures
from libra.discord.confirmations import PendingErasures
from libra.discord.conversation import Responder
from libra.discord.pacing import EditPacer
from libra.discord.permissions import AccessPolicy
from libra.discord.stage_stats import StageStats
from libra.language.api import LanguageService
from libra.llm.api import LLMService
from libra.storage.api import UsageStats
from libra.tasks import Deadlines, TaskGroup
from libra.translate.api import TranslationFeature

if TYPE_CHECKING:
    from libra.discord.translate_relay import TranslationRelay
    from libra.discord.voice_sessions import VoiceSessions


class AskedPrompt(NamedTuple):
    """What a public ``/ask`` asked, and who asked it (their data, erased with them)."""

    user_id: int
    prompt: str


@dataclass(slots=True, kw_only=True)
class DiscordDeps:
    """Services and state of the running bot (one instance per plugin start)."""

    settings: Settings
    bus: EventBus
    chat: ChatService
    language: LanguageService
    llm: LLMService
    pacer: EditPacer
    policy: AccessPolicy
    limiter: RateLimiter
    responder: Responder
    stage_stats: StageStats
    tasks: TaskGroup
    usage: UsageStats | None = None
    """LLM usage figures for ``/stats`` (``None``: shown as unavailable)."""
    voice: VoiceSessions | None = None
    """Libra's voice sessions (``/voice``), set once the bot exists."""
    translation: TranslationFeature | None = None
    """``/translate``, the Translate menu, ``/translations``, ``/glossary`` (``None``: off)."""
    relay: TranslationRelay | None = None
    """Linked and auto-translated channels (set once connected; ``None`` without
    translation or a store)."""
    instances: InstanceDirectory | None = None
    """The bot's live instances when several share it (``/stats`` lists them)."""
    bot_threads: LruSet[int] = field(default_factory=LruSet)
    """Threads the bot started: every message in them is answered.

    Bounded: a thread quiet for longer than 10,000 newer ones just needs a mention again.
    """
    turns: LruDict[int, int] = field(default_factory=LruDict)
    """Turns answered per channel since the last move into a thread (bounded likewise)."""
    asked: LruDict[int, AskedPrompt] = field(default_factory=LruDict)
    """The prompt (and its author) of each public ``/ask`` answer, by message id.

    The question lives in the interaction, not in any message, so a reply to the
    answer would otherwise reach the model without it. Private answers are never
    recorded (nobody can reply to them, and they stay out of shared context).
    """
    erasures: PendingErasures = field(default_factory=PendingErasures)
    """``/privacy delete`` confirmations waiting for their button."""
    deadlines: Deadlines = field(default_factory=Deadlines)
    """Database reads for commands (``/stats``) cut off at ``database.query_timeout``."""
    voice_turns: VoiceTurnFigures | None = None
    """Recent voice turns' latency for ``/stats`` (``None``: voice is off)."""
