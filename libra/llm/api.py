"""LLM request/response models, the backend protocol and the service interface."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from libra.llm.pool import PooledServer


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    """One message of a prompt."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMRequest:
    """Everything a backend needs for one generation."""

    model: str
    messages: tuple[ChatMessage, ...]
    language: str | None = None
    options: dict[str, object] = field(default_factory=dict)
    """Backend options (``num_ctx``, ``temperature`` ...) already merged from config."""
    correlation_id: str | None = None
    guild_id: int | None = None
    user_id: int | None = None
    """The Discord user whose turn this answers (recorded with the call, for their export)."""
    cache_key: str | None = None
    """What the answer is cached under instead of the whole prompt (with the model and
    options). For callers whose prompt carries material that must not split the cache,
    e.g. a translation's context messages: the key names only what decides the answer."""
    store_answer: bool = True
    """``False``: the answer is not cached when it ends. For callers that check an answer
    before trusting it (a translation): they store a good one with
    :meth:`LLMService.remember`, so a refused answer is never served again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    """A piece of streamed text; the last one has ``done=True`` and the usage."""

    text: str
    done: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    retry: bool = False
    """The stream failed over to another server: discard the text so far, it restarts."""
    cached: bool = False
    """The text came from the response cache, not from a model (set on a hit's tokens)."""


class LLMBackend(Protocol):
    """One server (or in-process runtime) that generates text."""

    name: str
    """A label for logs and metrics, e.g. the server URL."""

    def stream(self, request: LLMRequest) -> AsyncIterator[Token]:
        """Stream the answer; closing the iterator cancels the request.

        Raises:
            LLMUnreachable, ModelMissing, LLMTimeout, StreamCut: typed failures.
        """
        ...

    async def warm(self, model: str, keep_alive: str) -> None:
        """Load ``model`` so the first real request does not wait for it."""
        ...

    async def models(self) -> list[str]:
        """Models the server has."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelStatus:
    """Readiness of one routed model."""

    model: str
    ready: bool
    detail: str = ""


class LLMService(Protocol):
    """What the LLM feature offers (chat, the transports and admin use it)."""

    def stream(self, request: LLMRequest) -> AsyncIterator[Token]:
        """Coalesced, cached, queued, failover-protected stream of the answer.

        Cancelling the consumer (or ``aclose()``) stops the backend request. Every
        call publishes an ``LLMCallFinished`` event.
        """
        ...

    def queue_position(self, correlation_id: str) -> int | None:
        """0 when running, n when n-th in the queue (1 = next to run), None when unknown."""
        ...

    def readiness(self) -> list[ModelStatus]:
        """Per-model warm-up state."""
        ...

    def backend_kind(self) -> str:
        """Which kind of server answers: ``ollama``, ``openai`` or ``embedded``.

        ``embedded`` also when ``libra chat`` fell back to it because no server answered.
        """
        ...

    async def flush_cache(self, namespace: str | None = None) -> int:
        """Flush the response cache (one namespace or all); return entries removed."""
        ...

    async def remember(self, request: LLMRequest, text: str, *, prompt_tokens: int = 0,
                       completion_tokens: int = 0) -> None:
        """Cache ``text`` as the answer to ``request`` (one its caller checked and kept)."""
        ...


class FlushBroadcast(Protocol):
    """Tells the other instances of a scaled-out bot that the response cache was flushed."""

    async def flushed(self, namespace: str | None) -> None:
        """Announce a flush done here (``None`` = every namespace)."""
        ...


class LLMSlots(Protocol):
    """Per-server LLM concurrency and the queue in front of it.

    :class:`~libra.llm.pool.ServerPool` is the in-process implementation;
    :class:`~libra.cluster.slots.SharedSlots` the one several instances share (chosen
    in the composition root when Redis is configured).
    """

    servers: list[PooledServer]
    """The servers behind the slots (their backends, for warm-up and health)."""

    async def acquire(self, correlation_id: str, *, exclude: frozenset[int] = frozenset(),
                      retry: bool = False) -> PooledServer:
        """Wait for a slot and return its server; ``release`` it when done."""
        ...

    def release(self, server: PooledServer, correlation_id: str) -> None:
        """Give the slot back (the next waiter gets it)."""
        ...

    def mark_failed(self, server: PooledServer, error: str) -> None:
        """Skip ``server`` for the back-off period."""
        ...

    def mark_ok(self, server: PooledServer) -> None:
        """``server`` answered: use it again."""
        ...

    def position(self, correlation_id: str) -> int | None:
        """0 when running, n when n-th in the queue, None when unknown."""
        ...

    @property
    def queued(self) -> int:
        """Requests waiting for a slot."""
        ...
