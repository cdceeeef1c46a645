"""The ``llm`` plugin: builds the backends, publishes ``LLMService``, warms models up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ClassVar

from loguru import logger

from libra.bus import EventBus
from libra.config import Settings
from libra.health import ComponentHealth, HealthRegistry
from libra.llm.api import LLMBackend, LLMSlots, ModelStatus
from libra.llm.backends.embedded import EmbeddedBackend
from libra.llm.backends.http import HTTPTimeouts
from libra.llm.backends.ollama import OllamaBackend
from libra.llm.backends.openai import OpenAIBackend
from libra.llm.cache import ResponseCache
from libra.llm.pool import ServerPool
from libra.llm.readiness import NOT_WARMED, WARMING, check_health, routed_models, warm_up
from libra.llm.service import PooledLLMService
from libra.llm.tracing import langfuse_tracer
from libra.plugin import Plugin, PluginContext


def build_backends(settings: Settings) -> list[LLMBackend]:
    """One backend per configured server (the embedded backend is always one)."""
    llm = settings.llm
    timeouts = HTTPTimeouts(connect=llm.connect_timeout, first_token=llm.first_token_timeout,
                            idle=llm.idle_timeout)
    if llm.backend == "embedded":
        return [EmbeddedBackend(llm.embedded_model_path, num_ctx=llm.num_ctx,
                                num_thread=llm.num_thread, parallel=llm.max_concurrency,
                                timeouts=timeouts)]
    if llm.backend == "openai":
        key = llm.api_key.get_secret_value() if llm.api_key else None
        return [OpenAIBackend(url, api_key=key, timeouts=timeouts) for url in llm.servers]
    return [OllamaBackend(url, keep_alive=llm.keep_alive, timeouts=timeouts)
            for url in llm.servers]


def build_llm(settings: Settings, bus: EventBus, backends: list[LLMBackend] | None = None,
              *, share: Callable[[ServerPool], LLMSlots] | None = None) -> PooledLLMService:
    """The LLM service with its slots and cache (no I/O: connections open on first use).

    The in-process :class:`ServerPool` is the ``LLMSlots`` unless ``share`` wraps it in
    slots shared with other instances (the composition root's choice).
    """
    llm = settings.llm
    pool = ServerPool(backends or build_backends(settings), max_concurrency=llm.max_concurrency,
                      max_queue=llm.max_queue, backoff=llm.failover_backoff)
    slots: LLMSlots = pool if share is None else share(pool)
    redis_url = settings.redis.url
    cache = ResponseCache(
        ttl=llm.cache_ttl, redis_url=redis_url.get_secret_value() if redis_url else None
    )
    return PooledLLMService(llm, slots, cache, bus)


class LLMPlugin(Plugin):
    """Runs :class:`LLMService`: tracer, health and the background warm-up."""

    name: ClassVar[str] = "llm"

    def __init__(self, service: PooledLLMService, *,
                 health: HealthRegistry | None = None) -> None:
        """``service``: built by :func:`build_llm` in the composition root."""
        self.service = service
        self._health = health
        self._warmup: asyncio.Task[None] | None = None
        self._started = False

    async def start(self, ctx: PluginContext) -> None:
        """Build the tracer, register health, start the warm-up task."""
        llm = ctx.settings.llm
        service = self.service
        self._started = True
        # Importing the Langfuse SDK and building its client takes ~1 s: off the loop.
        service.tracer = await asyncio.to_thread(langfuse_tracer, ctx.settings.langfuse)
        models = routed_models(llm.default_model, llm.routes)

        async def health() -> ComponentHealth:
            return await check_health(service, models)

        if self._health is not None:
            self._health.register("llm", health)
        for model in models:
            detail = WARMING if llm.warmup else NOT_WARMED
            service.statuses[model] = ModelStatus(model=model, ready=False, detail=detail)
        if llm.warmup:
            self._warmup = ctx.tasks.spawn(warm_up(service, models, llm.keep_alive),
                                           name="warmup")

    async def stop(self) -> None:
        """Cancel the warm-up, close connections (idempotent)."""
        if self._warmup is not None and not self._warmup.done():
            self._warmup.cancel()
            await asyncio.gather(self._warmup, return_exceptions=True)
        self._warmup = None
        if not self._started:
            return
        self._started = False
        if self._health is not None:
            self._health.unregister("llm")
        if self.service.cache.round_trips:
            logger.info("LLM cache made {} Redis round trips", self.service.cache.round_trips)
        await self.service.cache.close()
        if self.service.tracer is not None:
            await self.service.tracer.close()  # bounded: never hangs the stop
        for server in self.service.pool.servers:
            await server.backend.close()
