"""Chat models and the service interface transports (Discord, console, voice) use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from libra.events import MessageSource, new_correlation_id
from libra.llm.api import ChatMessage
from libra.storage.api import ChatStore, Memory, MemoryStore, MessageStatus, Place, PrivacyStore


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatTurn:
    """One user message to answer."""

    user_id: int
    """Discord user id (the console uses a fixed local id)."""
    channel_id: int
    guild_id: int | None
    text: str
    source: MessageSource = MessageSource.DISCORD
    context: tuple[ChatMessage, ...] | None = None
    """Explicit context (a Discord reply chain) used instead of the session history."""
    private: bool = False
    """Only the author sees the answer, so only the author may stop it.

    A private turn reads the session's history but is not stored in it, so no later
    public reply can repeat it."""
    correlation_id: str = field(default_factory=new_correlation_id)

    @property
    def place(self) -> Place:
        """Where the turn happens, which decides the memories its prompt may use."""
        return Place.of(self.guild_id, console=self.source is MessageSource.CONSOLE)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyResult:
    """How a reply ended, known once its stream is exhausted."""

    text: str
    status: MessageStatus
    error_code: str | None = None
    first_token_ms: float | None = None
    total_ms: float = 0.0


class ReplyStream(Protocol):
    """An answer being generated: iterate for text deltas, then read ``result``."""

    language: str
    model: str
    notice: str | None
    """A one-line language-change notice to show before the answer, if any."""
    result: ReplyResult | None
    restarts: int
    """How often the answer started over (an LLM server died and another took over).

    When it grows, the text delivered so far is void and the next delta begins the
    new answer: transports clear what they showed before appending it.
    """

    def __aiter__(self) -> AsyncIterator[str]:
        """Text deltas as the model produces them (coalesced)."""
        ...

    def hold(self) -> None:
        """Store the answer only once :meth:`settle` says how much of it was delivered.

        For a spoken answer, which the listener may interrupt after it is written.
        """
        ...

    def settle(self, delivered: str | None = None) -> None:
        """A held answer's end: ``None`` = all delivered, else only ``delivered`` (stopped)."""
        ...


class ConversationStore(ChatStore, MemoryStore, PrivacyStore, Protocol):
    """The store ports chat needs: conversations, memories, a user's data."""


class ChatService(Protocol):
    """What the chat feature offers (the transports use it)."""

    async def reply(self, turn: ChatTurn) -> ReplyStream:
        """Validate, route and start answering ``turn``.

        Raises:
            EmptyInput, InputTooLong: refused before anything is generated.
        """
        ...

    async def stop(self, channel_id: int, *, user_id: int | None = None) -> bool:
        """Stop what ``user_id`` may stop in the channel; ``False`` when nothing was.

        A private reply can be stopped only by its author; ``None`` stops everything.
        """
        ...

    async def reset(self, user_id: int, channel_id: int) -> bool:
        """Start a fresh session for the user in the channel."""
        ...

    async def remember(self, user_id: int, text: str, *, place: Place) -> Memory:
        """Store a memory for the user, used in ``place`` only (which may be everywhere)."""
        ...

    async def forget(self, user_id: int, memory_id: int | None = None) -> int:
        """Forget one or all memories; return how many."""
        ...

    async def memories(self, user_id: int) -> list[Memory]:
        """The user's memories of every place (for the user's own eyes only)."""
        ...

    async def export_data(self, user_id: int) -> dict[str, Any]:
        """Everything stored about the user, as a JSON-ready document."""
        ...

    async def erase(self, user_id: int) -> bool:
        """Delete everything stored and cached about the user; ``False`` if nothing was stored."""
        ...
