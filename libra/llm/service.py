"""The LLM service: cache, queue, failover, coalescing and one event per call.

A request flows: options merged from settings → cache lookup (a hit streams at
once) → a slot on the least busy healthy server (or a FIFO wait) → the backend
stream, failing over to another server when one dies (the caller receives a
``Token(retry=True)`` and the answer restarts) → coalescing → the caller. Every
call, whatever its ending, publishes one :class:`LLMCallFinished`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from loguru import logger

from libra.bus import EventBus
from libra.config import LLMSettings
from libra.errors import (
    EmptyInput,
    InputError,
    LLMCancelled,
    LLMError,
    LLMRequestRejected,
    ModelMissing,
)
from libra.events import CacheFlushed, LLMCallFinished, new_correlation_id
from libra.llm.api import FlushBroadcast, LLMRequest, LLMSlots, ModelStatus, Token
from libra.llm.cache import ROOT_NAMESPACE, CachedAnswer, ResponseCache, cache_key
from libra.llm.pool import PooledServer
from libra.llm.streaming import closing_stream, coalesce
from libra.llm.tracing import CallTracer, TracedCall


@dataclass(slots=True)
class _Call:
    """Measurements of one call, filled in as it runs."""

    started: float
    first_token_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hit: bool = False
    server: str | None = None
    error_code: str | None = None
    reported: bool = False
    cache_generation: int = 0


def default_options(settings: LLMSettings) -> dict[str, object]:
    """The generation options configured in ``[llm]`` (unset ones left out)."""
    options: dict[str, object] = {
        "num_ctx": settings.num_ctx,
        "num_predict": settings.num_predict,
        "temperature": settings.temperature,
    }
    if settings.num_thread is not None:
        options["num_thread"] = settings.num_thread
    if settings.num_batch is not None:
        options["num_batch"] = settings.num_batch
    if settings.stop:
        options["stop"] = list(settings.stop)
    return options


class PooledLLMService:
    """Implements :class:`libra.llm.api.LLMService` over a :class:`ServerPool`."""

    def __init__(
        self,
        settings: LLMSettings,
        pool: LLMSlots,
        cache: ResponseCache,
        bus: EventBus,
        *,
        tracer: CallTracer | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.cache = cache
        self.bus = bus
        self.tracer = tracer
        self.statuses: dict[str, ModelStatus] = {}
        """Warm-up state per routed model, filled in by the plugin's warm-up task."""
        self.broadcast: FlushBroadcast | None = None
        """Set by the composition root when other instances share the cache."""

    # -- LLMService -----------------------------------------------------------------

    def queue_position(self, correlation_id: str) -> int | None:
        """0 when running, n when n-th in the queue (1 = next), None when unknown."""
        return self.pool.position(correlation_id)

    def readiness(self) -> list[ModelStatus]:
        """Per-model warm-up state, in routing order."""
        return list(self.statuses.values())

    def backend_kind(self) -> str:
        """The configured backend kind (``embedded`` once ``libra chat`` fell back to it)."""
        return self.settings.backend

    async def flush_cache(self, namespace: str | None = None) -> int:
        """Flush every cached answer, or one model's (``namespace`` = model name)."""
        removed = await self.cache.flush(namespace)
        self.bus.publish(CacheFlushed(namespace=namespace or ROOT_NAMESPACE))
        logger.info("LLM cache flushed ({}): {} entries", namespace or "all", removed)
        if self.broadcast is not None:
            try:
                await self.broadcast.flushed(namespace)
            except Exception as err:  # the shared entries are gone; only the notice failed
                logger.warning("could not tell the other instances about the flush: {}", err)
        return removed

    async def remember(self, request: LLMRequest, text: str, *, prompt_tokens: int = 0,
                       completion_tokens: int = 0) -> None:
        """Cache ``text`` as the answer to ``request`` (one its caller checked and kept)."""
        if not self.cache.enabled or not text:
            return
        await self.cache.set(cache_key(self.prepare(request)), CachedAnswer(
            text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens))

    def flushed_elsewhere(self, namespace: str | None) -> None:
        """Another instance flushed the shared cache: drop answers still being generated."""
        self.cache.generation += 1
        self.bus.publish(CacheFlushed(namespace=namespace or ROOT_NAMESPACE))
        logger.info("LLM cache flushed ({}) by another instance", namespace or "all")

    def prepare(self, request: LLMRequest) -> LLMRequest:
        """Merge configured options under the request's own and ensure a correlation id.

        Raises:
            EmptyInput: the request has no message with text.
            InputError: the request names no model.
        """
        if not any(m.content.strip() for m in request.messages):
            raise EmptyInput("an LLM request needs at least one message with text")
        if not request.model.strip():
            raise InputError("an LLM request needs a model name",
                             hint="set llm.default_model or a route in llm.routes")
        options = {**default_options(self.settings), **request.options}
        return dataclasses.replace(
            request, options=options, correlation_id=request.correlation_id or new_correlation_id()
        )

    async def stream(self, request: LLMRequest) -> AsyncIterator[Token]:
        """Coalesced, cached, queued, failover-protected stream of the answer.

        Raises:
            LLMOverloaded, LLMUnreachable, ModelMissing, LLMTimeout, StreamCut,
            LLMServerError: after failover had no server left to try.
        """
        request = self.prepare(request)
        call = _Call(started=time.perf_counter(), cache_generation=self.cache.generation)
        parts: list[str] = []
        try:
            key = cache_key(request) if self.cache.enabled else None
            cached = await self.cache.get(key) if key else None
            if cached is not None:
                call.cache_hit = True
                call.prompt_tokens = cached.prompt_tokens
                call.completion_tokens = cached.completion_tokens
                call.first_token_ms = self._elapsed_ms(call)
                parts.append(cached.text)
                yield Token(text=cached.text, cached=True)
                self._report(request, call, cached.text)
                yield Token(text="", done=True, prompt_tokens=cached.prompt_tokens,
                            completion_tokens=cached.completion_tokens, cached=True)
                return
            source = self._failover(request, call)
            async with closing_stream(coalesce(
                source, chars=self.settings.coalesce_chars, ms=self.settings.coalesce_ms,
                name=f"stream:{request.correlation_id}",
            )) as tokens:
                async for token in tokens:
                    if token.retry:
                        parts.clear()
                    elif token.text:
                        parts.append(token.text)
                        if call.first_token_ms is None:
                            call.first_token_ms = self._elapsed_ms(call)
                    if token.done:
                        await self._finish(request, call, "".join(parts), token, key)
                    yield token
        except LLMError as err:
            call.error_code = err.code
            raise
        except (GeneratorExit, asyncio.CancelledError):
            call.error_code = call.error_code or LLMCancelled.code
            raise
        except Exception:
            call.error_code = call.error_code or "unexpected"
            raise
        finally:
            self._report(request, call, "".join(parts))

    # -- internals ------------------------------------------------------------------

    async def _finish(
        self, request: LLMRequest, call: _Call, text: str, done: Token, key: str | None
    ) -> None:
        # Runs before the done token is handed over: a caller that stops reading
        # after it must still get its answer cached and its call reported.
        call.prompt_tokens = done.prompt_tokens or 0
        call.completion_tokens = done.completion_tokens or 0
        if key is not None and text and request.store_answer:
            await self.cache.set(key, CachedAnswer(
                text=text, prompt_tokens=call.prompt_tokens,
                completion_tokens=call.completion_tokens,
            ), generation=call.cache_generation)
        self._report(request, call, text)

    async def _failover(self, request: LLMRequest, call: _Call) -> AsyncIterator[Token]:
        """Stream from one server; when it fails, restart on another untried one."""
        cid = request.correlation_id or ""
        tried: set[int] = set()
        retry = False
        while True:
            server = await self.pool.acquire(cid, exclude=frozenset(tried), retry=retry)
            call.server = server.name
            sent_text = False
            try:
                async with closing_stream(server.backend.stream(request)) as tokens:
                    async for token in tokens:
                        sent_text = sent_text or bool(token.text)
                        yield token
                self.pool.mark_ok(server)
                self._model_state(request.model, ready=True, detail="answering")
                return
            except LLMRequestRejected:
                raise  # every server would refuse the same request: nothing to fail over
            except LLMError as err:
                tried.add(id(server))
                if isinstance(err, ModelMissing):
                    self._model_state(request.model, ready=False, detail=f"{err.code}: {err}")
                else:
                    self.pool.mark_failed(server, str(err))
                if not self._can_retry(tried):
                    raise
                logger.warning("LLM server {} failed ({}), failing over [{}]",
                               server.name, err.code, cid)
                retry = True
            finally:
                self.pool.release(server, cid)
            if sent_text:
                yield Token(text="", retry=True)

    def _model_state(self, model: str, *, ready: bool, detail: str) -> None:
        """Keep a routed model's readiness current after warm-up.

        A model pulled after start (warm-up said "missing") answers at once, and
        ``/model`` and the readiness check should say so without a restart; one
        deleted while running should show as missing again.
        """
        status = self.statuses.get(model)
        if status is not None and status.ready != ready:
            self.statuses[model] = ModelStatus(model=model, ready=ready, detail=detail)

    def _can_retry(self, tried: set[int]) -> bool:
        return any(id(s) not in tried for s in self.pool.servers)

    @staticmethod
    def _elapsed_ms(call: _Call) -> float:
        return (time.perf_counter() - call.started) * 1000

    def _report(self, request: LLMRequest, call: _Call, text: str) -> None:
        if call.reported:
            return
        call.reported = True
        latency = self._elapsed_ms(call)
        if not call.completion_tokens and text and call.error_code:
            call.completion_tokens = max(1, len(text) // 4)  # rough, for partial answers
        self.bus.publish(LLMCallFinished(
            correlation_id=request.correlation_id or new_correlation_id(),
            model=request.model,
            language=request.language,
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
            first_token_ms=call.first_token_ms,
            latency_ms=latency,
            cache_hit=call.cache_hit,
            error_code=call.error_code,
            server=call.server,
            guild_id=request.guild_id,
            user_id=request.user_id,
        ))
        if self.tracer is not None:
            self.tracer.record(TracedCall(
                request=request, output=text, prompt_tokens=call.prompt_tokens,
                completion_tokens=call.completion_tokens, first_token_ms=call.first_token_ms,
                latency_ms=latency, cache_hit=call.cache_hit, error_code=call.error_code,
                server=call.server,
            ))

    def server_states(self) -> list[PooledServer]:
        """The pool's servers with their load and health (for health checks)."""
        return list(self.pool.servers)
