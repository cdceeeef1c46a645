"""The composition root: settings → bus → plugins, and the process lifecycle."""

from __future__ import annotations

import asyncio
import signal
import time
from enum import StrEnum

from loguru import logger

from libra.bus import EventBus
from libra.config import Settings
from libra.errors import LibraError, PluginError
from libra.events import AppReady, AppStopping, CriticalFailure
from libra.health import HealthRegistry
from libra.plugin import Plugin, PluginManager


class Mode(StrEnum):
    """What the process is for; it decides which plugins are built."""

    RUN = "run"
    """The Discord bot."""
    CHAT = "chat"
    """The local console: no Discord."""


def default_plugins(settings: Settings, mode: Mode) -> list[Plugin]:
    """Build the plugins for ``mode`` from settings (imports stay local to each area)."""
    from libra.storage.plugin import StoragePlugin  # noqa: PLC0415

    plugins: list[Plugin] = [StoragePlugin()]
    from libra.chat.plugin import ChatPlugin  # noqa: PLC0415
    from libra.language.plugin import LanguagePlugin  # noqa: PLC0415
    from libra.llm.plugin import LLMPlugin  # noqa: PLC0415

    plugins += [LanguagePlugin(), LLMPlugin(), ChatPlugin()]
    if settings.admin.port is not None:
        from libra.admin.plugin import AdminPlugin  # noqa: PLC0415

        plugins.append(AdminPlugin())
    if mode is Mode.RUN:
        from libra.discord.plugin import DiscordPlugin  # noqa: PLC0415

        plugins.append(DiscordPlugin())
    return plugins


class LibraApp:
    """Owns the bus, the health registry and the plugin manager of one process."""

    def __init__(self, settings: Settings, plugins: list[Plugin]) -> None:
        self.settings = settings
        self.bus = EventBus()
        self.health = HealthRegistry()
        self.manager = PluginManager(plugins, settings, self.bus)
        self.manager.services.register(EventBus, self.bus)
        self.manager.services.register(HealthRegistry, self.health)
        self.manager.services.register(Settings, settings)
        self._stopping = asyncio.Event()
        self._started = False
        self.failure: str | None = None
        """Why a critical plugin gave up while running (``CriticalFailure``), if it did."""
        self.bus.subscribe(CriticalFailure, self._on_critical_failure)

    async def start(self) -> float:
        """Start every plugin; return the seconds it took.

        Raises:
            PluginError: a critical plugin failed (the others are stopped again).
        """
        t0 = time.perf_counter()
        self._started = True
        await self.manager.start_all()
        critical = [p.name for p in self.manager.plugins
                    if p.critical and p.name in self.manager.failed]
        if critical:
            await self.stop("critical plugin failed")
            raise PluginError(f"cannot run without: {', '.join(critical)}",
                              hint="see the errors above")
        if self.manager.aborted:  # a stop was requested; the caller stops the rest
            return time.perf_counter() - t0
        seconds = time.perf_counter() - t0
        failed = tuple(self.manager.failed)
        self.bus.publish(AppReady(seconds=seconds, failed=failed))
        if failed:
            logger.warning("Libra ready in {:.2f}s without: {}", seconds, ", ".join(failed))
        else:
            logger.info("Libra ready in {:.2f}s", seconds)
        return seconds

    async def stop(self, reason: str = "shutdown") -> None:
        """Stop plugins in reverse order and close the bus; safe to call twice."""
        if not self._started:
            return
        self._started = False
        self.bus.publish(AppStopping(reason=reason))
        await self.manager.stop_all()
        await self.bus.close(timeout=self.settings.app.shutdown_timeout)

    async def _on_critical_failure(self, event: CriticalFailure) -> None:
        logger.error("stopping: {} can no longer work ({})", event.name, event.message)
        self.failure = f"{event.name}: {event.message}"
        self.request_stop()

    def request_stop(self) -> None:
        """Ask ``run_until_stopped`` to return (signal handlers call this)."""
        if self._stopping.is_set():
            logger.warning("already stopping; waiting for plugins to finish "
                           "(SIGKILL forces it, but the embedded database may then linger "
                           "until the next start)")
        self._stopping.set()

    async def _start_unless_stopped(self) -> None:
        """Start, but give up when a stop is requested first (Ctrl-C while connecting)."""
        starting = asyncio.ensure_future(self.start())
        stop_requested = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({starting, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_requested.cancel()
            if not starting.done():
                logger.info("stop requested while {} was starting; stopping what has started",
                            self.manager.starting or "Libra")
                # Cancels only a plugin's start, never a stop already under way.
                self.manager.abort_start()
                # The cancelled start then gets its (bounded) stop; one that ignores
                # the cancellation must not hold the process for ever.
                budget = 3 * self.settings.app.shutdown_timeout
                if not (await asyncio.wait({starting}, timeout=budget))[0]:
                    starting.cancel()
                    await asyncio.wait({starting}, timeout=budget)
        if starting.done() and not starting.cancelled():
            starting.result()  # re-raise a critical failure

    async def run_until_stopped(self) -> None:
        """Start, wait for SIGINT/SIGTERM (or ``request_stop``), then stop cleanly."""
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.request_stop)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread / platform
                pass
        try:
            await self._start_unless_stopped()
            await self._stopping.wait()
        finally:
            # Handlers stay installed while stopping: a second SIGTERM or Ctrl-C must
            # not kill the process half-way and leave the embedded database running.
            try:
                await self.stop("signal")
            finally:
                for sig in installed:
                    loop.remove_signal_handler(sig)


async def run_app(settings: Settings, mode: Mode) -> int:
    """Run Libra in ``mode`` until a signal arrives; return the exit code."""
    app = LibraApp(settings, default_plugins(settings, mode))
    try:
        await app.run_until_stopped()
    except LibraError as err:
        logger.error("{}", err)
        return 1
    return 1 if app.failure else 0
