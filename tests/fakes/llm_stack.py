"""A running ``llm`` plugin on a real bus, for tests that need ``LLMService``.

``async with llm_stack(servers=(fake.url,), cache_ttl=0) as stack:`` starts the
real :class:`~libra.llm.plugin.LLMPlugin` (warm-up off unless ``warmup=True``)
with a :class:`~libra.health.HealthRegistry`, and records every
``LLMCallFinished`` / ``ModelReady`` in ``stack.calls`` / ``stack.ready``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from libra.bus import EventBus
from libra.config import LangfuseSettings, LLMSettings, RedisSettings, Settings
from libra.events import LLMCallFinished, ModelReady
from libra.health import HealthRegistry
from libra.llm.api import ChatMessage, LLMRequest, Token
from libra.llm.plugin import LLMPlugin, build_llm
from libra.llm.service import PooledLLMService
from libra.plugin import PluginContext
from libra.tasks import TaskGroup


@dataclass
class LLMStack:
    """The started plugin and what it published."""

    plugin: LLMPlugin
    bus: EventBus
    health: HealthRegistry
    calls: list[LLMCallFinished] = field(default_factory=list)
    ready: list[ModelReady] = field(default_factory=list)

    @property
    def service(self) -> PooledLLMService:
        """The published service (the concrete class, for introspection)."""
        return self.plugin.service

    async def ask(self, text: str, **kwargs: Any) -> tuple[str, list[Token]]:
        """Stream one answer to ``text`` and return (final text, tokens received)."""
        tokens: list[Token] = []
        parts: list[str] = []
        async for token in self.service.stream(request(text, **kwargs)):
            tokens.append(token)
            if token.retry:
                parts.clear()
            parts.append(token.text)
        return "".join(parts), tokens


async def poll_until(check: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait until ``check()`` holds; for state (queue positions) that has no event."""
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - polled state, there is nothing to await
            await asyncio.sleep(0.01)


def request(text: str, *, model: str = "llama3:8b-instruct-q4_K_M", **kwargs: Any) -> LLMRequest:
    """A one-message request."""
    return LLMRequest(model=model, messages=(ChatMessage(role="user", content=text),), **kwargs)


@asynccontextmanager
async def llm_stack(
    *, redis_url: str | None = None, langfuse: LangfuseSettings | None = None, **llm: Any
) -> AsyncIterator[LLMStack]:
    """Start the ``llm`` plugin with ``LLMSettings(**llm)``; stop it afterwards."""
    llm.setdefault("warmup", False)
    llm.setdefault("coalesce_ms", 0.0)
    settings = Settings(llm=LLMSettings(**llm), redis=RedisSettings(url=redis_url),
                        langfuse=langfuse or LangfuseSettings())
    bus = EventBus()
    health = HealthRegistry()
    plugin = LLMPlugin(build_llm(settings, bus), health=health)
    stack = LLMStack(plugin=plugin, bus=bus, health=health)

    async def on_call(event: LLMCallFinished) -> None:
        stack.calls.append(event)

    async def on_ready(event: ModelReady) -> None:
        stack.ready.append(event)

    bus.subscribe(LLMCallFinished, on_call)
    bus.subscribe(ModelReady, on_ready)
    tasks = TaskGroup("llm")
    await plugin.start(PluginContext(settings, bus, tasks))
    try:
        yield stack
    finally:
        await plugin.stop()
        await tasks.close()
        await bus.close()
