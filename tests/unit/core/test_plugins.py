from __future__ import annotations

import asyncio

import pytest

from libra.app import LibraApp
from libra.bus import EventBus
from libra.config import Settings
from libra.errors import PluginError, ServiceUnavailable
from libra.events import PluginFailed
from libra.plugin import Plugin, PluginContext, PluginManager, start_order


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []


def make(name: str, rec: Recorder, *, requires: tuple[str, ...] = (),
         wants: tuple[str, ...] = (), fail_start: bool = False, fail_stop: bool = False,
         critical: bool = False) -> Plugin:
    class _P(Plugin):
        pass

    _P.name = name  # type: ignore[misc]
    _P.requires = requires  # type: ignore[misc]
    _P.wants = wants  # type: ignore[misc]
    _P.critical = critical  # type: ignore[misc]

    async def start(self: Plugin, ctx: PluginContext) -> None:
        rec.calls.append(f"start:{name}")
        if fail_start:
            raise RuntimeError(f"{name} cannot start")
        ctx.services.register(str, name)

    async def stop(self: Plugin) -> None:
        rec.calls.append(f"stop:{name}")
        if fail_stop:
            raise RuntimeError(f"{name} cannot stop")

    _P.start = start  # type: ignore[method-assign]
    _P.stop = stop  # type: ignore[method-assign]
    return _P()


def test_start_order_respects_requires_and_wants() -> None:
    rec = Recorder()
    chat = make("chat", rec, requires=("llm", "storage"))
    llm = make("llm", rec, wants=("storage",))
    storage = make("storage", rec)
    assert [p.name for p in start_order([chat, llm, storage])] == ["storage", "llm", "chat"]


def test_cycles_and_unknown_requirements_are_refused() -> None:
    rec = Recorder()
    with pytest.raises(PluginError, match="cycle"):
        start_order([make("a", rec, requires=("b",)), make("b", rec, requires=("a",))])
    with pytest.raises(PluginError, match="unknown plugin 'ghost'"):
        start_order([make("a", rec, requires=("ghost",))])


async def test_stop_in_reverse_past_failures_and_idempotent() -> None:
    rec = Recorder()
    plugins = [make("a", rec), make("b", rec, requires=("a",), fail_stop=True),
               make("c", rec, requires=("b",))]
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
    plugins = [make("storage", rec, fail_start=True), make("memory", rec, requires=("storage",)),
               make("language", rec, wants=("storage",))]
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


async def test_services_registry_reports_missing_service() -> None:
    app = LibraApp(Settings(), [])
    services = app.manager.services
    assert services.get(EventBus) is app.bus
    with pytest.raises(ServiceUnavailable, match="int is not available"):
        services.get(int)
    assert services.find(int) is None


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
