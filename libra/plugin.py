"""Plugins, the services they publish, and their ordered lifecycle."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, cast

from loguru import logger

from libra.bus import EventBus
from libra.config import Settings
from libra.errors import LibraError, PluginError, ServiceUnavailable
from libra.events import PluginFailed, PluginStarted, PluginStopped
from libra.tasks import TaskGroup

S = TypeVar("S")


class Services:
    """Service interfaces plugins publish for each other, keyed by their type."""

    def __init__(self) -> None:
        self._items: dict[type[Any], Any] = {}

    def register(self, kind: type[S], service: S) -> None:
        """Publish ``service`` under ``kind`` (a Protocol or class)."""
        self._items[kind] = service

    def unregister(self, kind: type[Any]) -> None:
        """Withdraw a service (when its plugin stops)."""
        self._items.pop(kind, None)

    def get(self, kind: type[S]) -> S:
        """Return the service published under ``kind``.

        Raises:
            ServiceUnavailable: no plugin published it (it failed or is disabled).
        """
        try:
            return cast(S, self._items[kind])
        except KeyError:
            raise ServiceUnavailable(f"{kind.__name__} is not available") from None

    def find(self, kind: type[S]) -> S | None:
        """Return the service or ``None``."""
        return cast("S | None", self._items.get(kind))


@dataclass(slots=True)
class PluginContext:
    """What a plugin receives at start: settings, bus, services, its task group."""

    settings: Settings
    bus: EventBus
    services: Services
    tasks: TaskGroup = field(default_factory=lambda: TaskGroup("plugin"))


class Plugin:
    """Base class: declare ``name`` and ``requires``; implement ``start``/``stop``."""

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    """Plugins that must have started; if one failed, this plugin is skipped."""
    wants: ClassVar[tuple[str, ...]] = ()
    """Plugins to start before this one when present; their failure is tolerated."""
    critical: ClassVar[bool] = False
    """When a critical plugin fails to start, Libra exits instead of running deaf."""

    async def start(self, ctx: PluginContext) -> None:
        """Acquire resources and publish services; raise to report failure."""

    async def stop(self) -> None:
        """Release everything ``start`` acquired; must tolerate a partial start."""


def start_order(plugins: list[Plugin]) -> list[Plugin]:
    """Order plugins so each comes after what it requires (stable otherwise).

    Raises:
        PluginError: a requirement is unknown or the requirements form a cycle.
    """
    by_name = {p.name: p for p in plugins}
    for plugin in plugins:
        for req in plugin.requires:
            if req not in by_name:
                raise PluginError(f"plugin {plugin.name!r} requires unknown plugin {req!r}")
    ordered: list[Plugin] = []
    state: dict[str, str] = {}

    def visit(p: Plugin, path: tuple[str, ...]) -> None:
        if state.get(p.name) == "done":
            return
        if state.get(p.name) == "visiting":
            raise PluginError("plugin requirements form a cycle: " + " -> ".join((*path, p.name)))
        state[p.name] = "visiting"
        for req in p.requires:
            visit(by_name[req], (*path, p.name))
        for want in p.wants:
            if want in by_name:
                visit(by_name[want], (*path, p.name))
        state[p.name] = "done"
        ordered.append(p)

    for plugin in plugins:
        visit(plugin, ())
    return ordered


class PluginManager:
    """Starts plugins in dependency order and stops them in reverse, past failures."""

    def __init__(self, plugins: list[Plugin], settings: Settings, bus: EventBus) -> None:
        self._plugins = start_order(plugins)
        self.settings = settings
        self.bus = bus
        self.services = Services()
        self.started: list[Plugin] = []
        self.failed: dict[str, str] = {}
        """Plugin name -> error code, for plugins that failed or were skipped."""
        self._contexts: dict[str, PluginContext] = {}

    @property
    def plugins(self) -> list[Plugin]:
        """Every plugin, in start order."""
        return list(self._plugins)

    async def start_all(self) -> None:
        """Start each plugin; a failure skips it and every plugin that requires it."""
        for plugin in self._plugins:
            if plugin in self.started:
                continue
            missing = [r for r in plugin.requires if r in self.failed]
            if missing:
                self._fail(plugin, "start", "dependency_failed", f"requires {', '.join(missing)}")
                continue
            ctx = PluginContext(self.settings, self.bus, self.services, TaskGroup(plugin.name))
            t0 = time.perf_counter()
            try:
                await plugin.start(ctx)
            except asyncio.CancelledError:
                # Stopped while starting: release what the half-started plugin holds.
                await self._stop_one(plugin, ctx)
                raise
            except Exception as err:
                code = err.code if isinstance(err, LibraError) else "unexpected"
                logger.opt(exception=not isinstance(err, LibraError)).error(
                    "plugin {} failed to start: {}", plugin.name, err
                )
                self._fail(plugin, "start", code, str(err))
                await self._stop_one(plugin, ctx)
                continue
            self.started.append(plugin)
            self._contexts[plugin.name] = ctx
            seconds = time.perf_counter() - t0
            logger.debug("plugin {} started in {:.3f}s", plugin.name, seconds)
            self.bus.publish(PluginStarted(name=plugin.name, seconds=seconds))

    def _fail(self, plugin: Plugin, phase: str, code: str, message: str) -> None:
        self.failed[plugin.name] = code
        self.bus.publish(PluginFailed(name=plugin.name, phase=phase, error_code=code,
                                      message=message))

    async def stop_all(self) -> None:
        """Stop started plugins in reverse order; idempotent, continues past failures."""
        while self.started:
            plugin = self.started.pop()
            await self._stop_one(plugin, self._contexts.pop(plugin.name, None))
            self.bus.publish(PluginStopped(name=plugin.name))

    async def _stop_one(self, plugin: Plugin, ctx: PluginContext | None) -> None:
        try:
            await plugin.stop()
        except Exception as err:
            logger.opt(exception=err).error("plugin {} failed to stop", plugin.name)
            self.bus.publish(PluginFailed(name=plugin.name, phase="stop",
                                          error_code="stop_failed", message=str(err)))
        if ctx is not None:
            await ctx.tasks.close()
