"""The language plugin: the lifecycle of the ``LanguageService``."""

from __future__ import annotations

from typing import ClassVar

from loguru import logger

from libra.health import ComponentHealth, HealthRegistry, Status
from libra.language.service import ChannelLanguageService
from libra.plugin import Plugin, PluginContext


class LanguagePlugin(Plugin):
    """Detection, reply-language hysteresis, model routing and system prompts.

    Persists channel state through the ``LanguageStore`` the service was built with,
    and keeps state in memory without one.
    """

    name: ClassVar[str] = "language"

    def __init__(self, service: ChannelLanguageService, *,
                 health: HealthRegistry | None = None) -> None:
        """``service``: built by the composition root with its store."""
        self.service = service
        self._health_registry = health
        self._started = False

    async def start(self, ctx: PluginContext) -> None:
        """Start persisting channel state and report health."""
        service = self.service
        await service.start(ctx.tasks)
        self._started = True
        if self._health_registry is not None:
            self._health_registry.register(self.name, self._health)
        logger.info("language: {} languages, state {}", len(service.languages),
                    "in the database" if service.store.storage is not None else "in memory")

    async def stop(self) -> None:
        """Write pending channel state (idempotent)."""
        if not self._started:
            return
        self._started = False
        if self._health_registry is not None:
            self._health_registry.unregister(self.name)
        await self.service.close()

    async def _health(self) -> ComponentHealth:
        service = self.service
        if not self._started:
            return ComponentHealth(name=self.name, status=Status.OFF, detail="not started")
        if service.store.storage is not None and not service.store.persistent:
            return ComponentHealth(
                name=self.name, status=Status.DEGRADED,
                detail="channel languages kept in memory: the database is not answering",
                fix="check the storage component; state is saved again once it answers",
            )
        where = "database" if service.store.persistent else "memory"
        return ComponentHealth(name=self.name, status=Status.OK,
                               detail=f"{len(service.languages)} languages, state in {where}")
