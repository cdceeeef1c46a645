"""Plugins as lifecycle holders, started in the order the composition root lists them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import ClassVar

from loguru import logger

from libra.bus import EventBus
from libra.config import Settings
from libra.errors import LibraError, PluginError
from libra.events import PluginFailed, PluginPhase, PluginStarted, PluginStopped
from libra.tasks import Deadlines, TaskGroup


@dataclass(slots=True)
class PluginContext:
    """What a plugin receives at start: settings, bus and its task group.

    Collaborators are not in here: the composition root (:mod:`libra.app`) hands each
    plugin the parts it needs through its constructor.
    """

    settings: Settings
    bus: EventBus
    tasks: TaskGroup = field(default_factory=lambda: TaskGroup("plugin"))


class Plugin:
    """Base class: a lifecycle holder. Declare ``name``; implement ``start``/``stop``."""

    name: ClassVar[str]
    critical: ClassVar[bool] = False
    """When a critical plugin fails to start, Libra exits instead of running deaf."""
    needs: tuple[Plugin, ...] = ()
    """Plugins (listed before this one) that must have started; if one failed, this
    plugin is skipped. Set by the constructor from the parts the root hands in."""

    async def start(self, ctx: PluginContext) -> None:
        """Acquire resources; raise to report failure."""

    async def stop(self) -> None:
        """Release everything ``start`` acquired; must tolerate a partial start."""


def check_order(plugins: list[Plugin]) -> None:
    """Check that every plugin comes after the plugins it needs.

    The composition root lists plugins in start order; this catches a root that
    lists one before its dependency (which would start it without it).

    Raises:
        PluginError: a needed plugin is missing or listed later.
    """
    seen: set[int] = set()
    for plugin in plugins:
        for needed in plugin.needs:
            if id(needed) not in seen:
                raise PluginError(f"plugin {plugin.name!r} needs {needed.name!r}, which is "
                                  "not listed before it")
        seen.add(id(plugin))


class PluginManager:
    """Starts plugins in the given order and stops them in reverse, past failures."""

    def __init__(self, plugins: list[Plugin], settings: Settings, bus: EventBus) -> None:
        check_order(plugins)
        self._plugins = list(plugins)
        self.settings = settings
        self.bus = bus
        self.started: list[Plugin] = []
        self.failed: dict[str, str] = {}
        """Plugin name -> error code, for plugins that failed or were skipped."""
        self._contexts: dict[str, PluginContext] = {}
        self._deadlines = Deadlines()
        self.starting: str | None = None
        """The plugin whose ``start`` is running now (to name it when it hangs)."""
        self.aborted = False
        """``abort_start`` was called: the plugins after the one starting were skipped."""
        self._start_task: asyncio.Future[None] | None = None

    def abort_start(self) -> None:
        """Cancel the ``start`` running now and skip the plugins not started yet.

        Only a plugin's ``start`` is cancelled, never a ``stop`` in progress: a stop
        request that arrives while a failed start is being cleaned up lets it finish.
        """
        self.aborted = True
        if self._start_task is not None:
            self._start_task.cancel()

    @property
    def plugins(self) -> list[Plugin]:
        """Every plugin, in start order."""
        return list(self._plugins)

    async def start_all(self) -> None:
        """Start each plugin; a failure skips it and every plugin that needs it.

        After a critical plugin failed nothing more is started.
        """
        for plugin in self._plugins:
            if self.aborted:
                return
            if any(p.critical and p.name in self.failed for p in self._plugins):
                return  # Libra will exit: starting the rest (going online) is pointless
            if plugin in self.started:
                continue
            missing = [p.name for p in plugin.needs if p.name in self.failed]
            if missing:
                self._fail(plugin, PluginPhase.START, "dependency_failed",
                           f"requires {', '.join(missing)}")
                continue
            ctx = PluginContext(self.settings, self.bus, TaskGroup(plugin.name))
            # At INFO so that a start which hangs shows where it hangs.
            logger.info("starting {}…", plugin.name)
            t0 = time.perf_counter()
            self.starting = plugin.name
            task = self._start_task = asyncio.ensure_future(plugin.start(ctx))
            try:
                try:
                    await asyncio.wait({task})
                except asyncio.CancelledError:  # the caller itself is cancelled
                    task.cancel()  # and let the start unwind before its stop runs
                    await asyncio.wait({task}, timeout=self.settings.app.shutdown_timeout)
                    raise
                task.result()
            except asyncio.CancelledError:
                # Stopped while starting: release what the half-started plugin holds.
                await self._stop_one(plugin, ctx)
                if self.aborted and task.cancelled():
                    return
                raise
            except Exception as err:
                code = err.code if isinstance(err, LibraError) else "unexpected"
                logger.opt(exception=not isinstance(err, LibraError)).error(
                    "plugin {} failed to start: {}", plugin.name, err
                )
                self._fail(plugin, PluginPhase.START, code, str(err))
                await self._stop_one(plugin, ctx)
                continue
            finally:
                self.starting = None
                self._start_task = None
            self.started.append(plugin)
            self._contexts[plugin.name] = ctx
            seconds = time.perf_counter() - t0
            logger.debug("plugin {} started in {:.3f}s", plugin.name, seconds)
            self.bus.publish(PluginStarted(name=plugin.name, seconds=seconds))

    def _fail(self, plugin: Plugin, phase: PluginPhase, code: str, message: str) -> None:
        self.failed[plugin.name] = code
        self.bus.publish(PluginFailed(name=plugin.name, phase=phase, error_code=code,
                                      message=message))

    async def stop_all(self) -> None:
        """Stop started plugins in reverse order; idempotent, continues past failures.

        Before each stop the bus is drained: a handler still running (or started by
        what the plugins stopped so far published, e.g. the last LLM call of a reply)
        may need the plugin about to stop, such as storage for its write. All drains
        together take at most ``app.shutdown_timeout``.
        """
        deadline = time.monotonic() + self.settings.app.shutdown_timeout
        while self.started:
            plugin = self.started.pop()
            await self._drain_bus(deadline, plugin.name)
            await self._stop_one(plugin, self._contexts.pop(plugin.name, None))
            self.bus.publish(PluginStopped(name=plugin.name))

    async def _drain_bus(self, deadline: float, before: str) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self.bus.pending:
            return
        try:
            await self.bus.drain(remaining)
        except TimeoutError:
            logger.warning("{} event handlers still running at shutdown; stopping {} "
                           "without waiting for them", self.bus.pending, before)

    async def _stop_one(self, plugin: Plugin, ctx: PluginContext | None) -> None:
        timeout = self.settings.app.shutdown_timeout
        try:
            # Twice the budget: a stop may spend ``shutdown_timeout`` draining its own
            # work and then still release resources. A wedged stop is abandoned (not
            # awaited) so the plugins started before it are still stopped.
            await self._deadlines.within(plugin.stop(), 2 * timeout)
        except TimeoutError:
            logger.error("plugin {} did not stop within {:.0f}s; moving on",
                         plugin.name, 2 * timeout)
            self.bus.publish(PluginFailed(name=plugin.name, phase=PluginPhase.STOP,
                                          error_code="stop_timeout",
                                          message=f"did not stop within {2 * timeout:.0f}s"))
        except Exception as err:
            logger.opt(exception=err).error("plugin {} failed to stop", plugin.name)
            self.bus.publish(PluginFailed(name=plugin.name, phase=PluginPhase.STOP,
                                          error_code="stop_failed", message=str(err)))
        if ctx is not None:
            await ctx.tasks.close(timeout)
