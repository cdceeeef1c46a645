"""Process lifecycle edge cases: signals while starting, stops that hang, late spawns."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from loguru import logger

from libra.app import LibraApp
from libra.config import Settings
from libra.errors import PluginError
from libra.events import PluginFailed
from libra.plugin import Plugin, PluginContext
from libra.tasks import TaskGroup


class _Hangs(Plugin):
    """A plugin whose start (or stop) never returns, like a gateway that never answers."""

    name = "hangs"

    def __init__(self, *, hang_start: bool = False, hang_stop: bool = False) -> None:
        self.calls: list[str] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self._hang_start = hang_start
        self._hang_stop = hang_stop

    async def start(self, ctx: PluginContext) -> None:
        self.calls.append("start")
        self.entered.set()
        if self._hang_start:
            await asyncio.Event().wait()

    async def stop(self) -> None:
        self.calls.append("stop")
        if self._hang_stop:
            while not self.release.is_set():  # ignores cancellation, as a wedged driver
                try:
                    await self.release.wait()
                except asyncio.CancelledError:
                    continue


class _Quick(Plugin):
    name = "quick"

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def start(self, ctx: PluginContext) -> None:
        self.calls.append("start")

    async def stop(self) -> None:
        self.calls.append("stop")


async def test_sigterm_while_a_plugin_is_starting_stops_the_process() -> None:
    # Ctrl-C while Discord is still connecting must not be ignored until it connects.
    quick, hangs = _Quick(), _Hangs(hang_start=True)
    app = LibraApp(Settings(), [quick, hangs])
    logged: list[str] = []
    sink = logger.add(lambda message: logged.append(str(message)), level="INFO")
    running = asyncio.create_task(app.run_until_stopped())
    try:
        await asyncio.wait_for(hangs.entered.wait(), 5)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(running, 5)
    finally:
        logger.remove(sink)
    assert any("while hangs was starting" in line for line in logged)  # names the culprit
    assert hangs.calls == ["start", "stop"]
    assert quick.calls == ["start", "stop"]


async def test_a_plugin_whose_stop_hangs_does_not_hang_shutdown() -> None:
    settings = Settings.model_validate({"app": {"shutdown_timeout": 0.2}})
    quick, hangs = _Quick(), _Hangs(hang_stop=True)
    app = LibraApp(settings, [quick, hangs])
    failures: list[PluginFailed] = []

    async def on_fail(event: PluginFailed) -> None:
        failures.append(event)

    app.bus.subscribe(PluginFailed, on_fail)
    await app.start()
    stopping = asyncio.create_task(app.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)  # wait_for would wait for it
    hangs.release.set()  # let the test end either way
    assert done, "stop() hung on a plugin that never stops"
    # The plugins started before it are still stopped, and the overrun is reported.
    assert quick.calls == ["start", "stop"]
    assert [(f.name, f.phase) for f in failures] == [("hangs", "stop")]


async def test_spawn_after_close_does_not_leave_a_task_running() -> None:
    # A bus handler still running after its plugin stopped spawns into its group.
    group = TaskGroup("late")
    await group.close()
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()

    task = group.spawn(work(), name="work")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert task.cancelled()
    assert not ran.is_set()


async def test_sigterm_while_a_critical_failure_is_stopping_does_not_abort_the_stop() -> None:
    # Ctrl-C pressed because the exit after a failed start seems slow: every plugin
    # must still be stopped (the embedded database among them).
    stopping = asyncio.Event()
    release = asyncio.Event()
    stopped: list[str] = []

    class SlowStop(Plugin):
        name = "storage"

        async def stop(self) -> None:
            stopping.set()
            await release.wait()
            stopped.append("storage")

    class Fails(Plugin):
        name = "discord"
        critical = True

        async def start(self, ctx: PluginContext) -> None:
            raise RuntimeError("token refused")

    app = LibraApp(Settings(), [SlowStop(), Fails()])
    running = asyncio.create_task(app.run_until_stopped())
    await asyncio.wait_for(stopping.wait(), 5)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.05)
    release.set()
    with pytest.raises(PluginError, match="cannot run without: discord"):
        await asyncio.wait_for(running, 5)
    assert stopped == ["storage"]


async def test_after_a_critical_failure_later_plugins_are_not_started() -> None:
    # A misconfigured admin port must not first bring the bot online in Discord.
    class Admin(Plugin):
        name = "admin"
        critical = True

        async def start(self, ctx: PluginContext) -> None:
            raise PluginError("admin.secret is not set")

    quick = _Quick()
    app = LibraApp(Settings(), [Admin(), quick])
    with pytest.raises(PluginError, match="cannot run without: admin"):
        await app.start()
    assert quick.calls == []
