"""The language plugin: publishes the ``LanguageService``."""

from __future__ import annotations

from typing import ClassVar

from loguru import logger

from libra.health import ComponentHealth, HealthRegistry, Status
from libra.language.api import LanguageService
from libra.language.service import ChannelLanguageService
from libra.plugin import Plugin, PluginContext
from libra.storage.api import Storage


class LanguagePlugin(Plugin):
    """Detection, reply-language hysteresis, model routing and system prompts.

    Uses ``Storage`` to persist channel state when the storage plugin is up, and
    keeps state in memory otherwise.
    """

    name: ClassVar[str] = "language"
    wants: ClassVar[tuple[str, ...]] = ("storage",)

    def __init__(self) -> None:
        self.service: ChannelLanguageService | None = None
        self._ctx: PluginContext | None = None

    async def start(self, ctx: PluginContext) -> None:
        """Build the service and publish it as ``LanguageService``."""
        storage = ctx.services.find(Storage)  # type: ignore[type-abstract]
        service = ChannelLanguageService(ctx.settings, ctx.bus, storage)
        await service.start(ctx.tasks)
        self.service = service
        self._ctx = ctx
        ctx.services.register(LanguageService, service)  # type: ignore[type-abstract]
        health = ctx.services.find(HealthRegistry)
        if health is not None:
            health.register(self.name, self._health)
        logger.info("language: {} languages, state {}", len(service.languages),
                    "in the database" if storage is not None else "in memory")

    async def stop(self) -> None:
        """Withdraw the service and write pending channel state."""
        ctx, service = self._ctx, self.service
        self._ctx = self.service = None
        if ctx is not None:
            ctx.services.unregister(LanguageService)
            health = ctx.services.find(HealthRegistry)
            if health is not None:
                health.unregister(self.name)
        if service is not None:
            await service.close()

    async def _health(self) -> ComponentHealth:
        service = self.service
        if service is None:
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
