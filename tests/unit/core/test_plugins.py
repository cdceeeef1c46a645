from __future__ import annotations

import asyncio

import pytest

from libra.app import LibraApp
from libra.bus import EventBus
from libra.config import Settings
from libra.errors import PluginError
from libra.events import PluginFailed
from libra.plugin import Plugin, PluginContext, PluginManager


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []


def make(name: str, rec: Recorder, *, needs: tuple[Plugin, ...] = (),
         fail_start: bool = False, fail_stop: bool = False,
         critical: bool = False) -> Plugin:
    class _P(Plugin):
        pass

    _P.name = name  # type: ignore[misc]
    _P.critical = critical  # type: ignore[misc]

    async def start(self: Plugin, ctx: PluginContext) -> None:
        rec.calls.append(f"start:{name}")
        if fail_start:
            raise RuntimeError(f"{name} cannot start")

    async def stop(self: Plugin) -> None:
        rec.calls.append(f"stop:{name}")
        if fail_stop:
            raise RuntimeError(f"{name} cannot stop")

    _P.start = start  # type: ignore[method-assign]
    _P.stop = stop  # type: ignore[method-assign]
    plugin = _P()
    plugin.needs = needs
    return plugin


def test_plugins_listed_before_what_they_need_are_refused() -> None:
    # The root lists plugins in start order; a plugin before its dependency (or one
    # needing a plugin that is not listed) would start without it.
    rec = Recorder()
    storage = make("storage", rec)
    chat = make("chat", rec, needs=(storage,))
    assert [p.name for p in PluginManager([storage, chat], Settings(), EventBus()).plugins] == [
        "storage", "chat"]
    with pytest.raises(PluginError, match="'chat' needs 'storage', which is not listed"):
        PluginManager([chat, storage], Settings(), EventBus())
    with pytest.raises(PluginError, match="needs 'storage'"):
        PluginManager([chat], Settings(), EventBus())


async def test_stop_in_reverse_past_failures_and_idempotent() -> None:
    rec = Recorder()
    a = make("a", rec)
    b = make("b", rec, needs=(a,), fail_stop=True)
    plugins = [a, b, make("c", rec, needs=(b,))]
    manager = PluginManager(plugins, Settings(), EventBus())
    await manager.start_all()
    await manager.stop_all()
    await manager.stop_all()
    assert rec.calls == ["start:a", "start:b", "start:c", "stop:c", "stop:b", "stop:a"]


async def test_failed_plugin_skips_dependents_but_not_others() -> None:
    rec = Recorder()
    bus = EventBus()
    failures: list[PluginFailed] = []

    async def on_fail(event: PluginFailed) -> None:
        failures.append(event)

    bus.subscribe(PluginFailed, on_fail)
    storage = make("storage", rec, fail_start=True)
    plugins = [storage, make("memory", rec, needs=(storage,)), make("language", rec)]
    manager = PluginManager(plugins, Settings(), bus)
    await manager.start_all()
    await bus.drain(1)
    assert manager.failed == {"storage": "unexpected", "memory": "dependency_failed"}
    assert [p.name for p in manager.started] == ["language"]
    # A failed start is still given its stop() to release what it half acquired.
    assert rec.calls == ["start:storage", "stop:storage", "start:language"]
    assert {f.name for f in failures} == {"storage", "memory"}


async def test_critical_failure_stops_the_app_loudly() -> None:
    rec = Recorder()
    app = LibraApp(Settings(), [make("a", rec), make("discord", rec, critical=True,
                                                   fail_start=True)])
    with pytest.raises(PluginError, match="cannot run without: discord"):
        await app.start()
    assert rec.calls == ["start:a", "start:discord", "stop:discord", "stop:a"]


async def test_stop_during_start_releases_the_half_started_plugin() -> None:
    # SIGTERM / Ctrl-C while a slow plugin is starting (initdb, model load).
    rec = Recorder()
    entered = asyncio.Event()

    class Slow(Plugin):
        name = "slow"

        async def start(self, ctx: PluginContext) -> None:
            rec.calls.append("start:slow")  # e.g. a pool is open now
            entered.set()
            await asyncio.Event().wait()

        async def stop(self) -> None:
            rec.calls.append("stop:slow")

    app = LibraApp(Settings(), [make("a", rec), Slow()])
    starting = asyncio.create_task(app.start())
    await entered.wait()
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    await app.stop()
    assert rec.calls == ["start:a", "start:slow", "stop:slow", "stop:a"]
