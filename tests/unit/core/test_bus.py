from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from libra.bus import EventBus
from libra.events import Event, HandlerFailed, LanguageChanged, VoiceEvent, VoiceSpeakingStarted


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping(Event):
    n: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LoudPing(Ping):
    volume: int = 11


async def test_handlers_receive_events_in_publish_order() -> None:
    bus = EventBus()
    seen: list[int] = []

    async def handler(event: Ping) -> None:
        seen.append(event.n)

    bus.subscribe(Ping, handler)
    for n in range(50):
        bus.publish(Ping(n=n))
    await bus.drain(1)
    assert seen == list(range(50))


async def test_handlers_of_one_event_start_in_subscription_order() -> None:
    bus = EventBus()
    order: list[str] = []
    for name in "abc":
        async def handler(event: Ping, name: str = name) -> None:
            order.append(name)
        bus.subscribe(Ping, handler, name=name)
    await bus.emit(Ping(n=1))
    assert order == ["a", "b", "c"]


async def test_base_class_subscription_receives_subclasses_only_where_they_derive() -> None:
    bus = EventBus()
    base: list[Event] = []
    voice: list[Event] = []

    async def on_any(event: Event) -> None:
        base.append(event)

    async def on_voice(event: VoiceEvent) -> None:
        voice.append(event)

    bus.subscribe(Event, on_any)
    bus.subscribe(VoiceEvent, on_voice)
    speaking = VoiceSpeakingStarted(guild_id=1, user_id=2, ssrc=3)
    changed = LanguageChanged(channel_id=1, previous="en", language="ko")
    await bus.emit(speaking)
    await bus.emit(changed)
    assert base == [speaking, changed]
    assert voice == [speaking]


async def test_failing_handler_is_isolated_and_reported() -> None:
    bus = EventBus()
    delivered: list[int] = []
    failures: list[HandlerFailed] = []

    async def broken(event: Ping) -> None:
        raise RuntimeError(f"bad {event.n}")

    async def healthy(event: Ping) -> None:
        delivered.append(event.n)

    async def on_failure(event: HandlerFailed) -> None:
        failures.append(event)

    bus.subscribe(Ping, broken, name="broken")
    bus.subscribe(Ping, healthy)
    bus.subscribe(HandlerFailed, on_failure)
    ping = Ping(n=7)
    await bus.emit(ping)
    await bus.emit(Ping(n=8))
    await bus.drain(1)
    assert delivered == [7, 8]
    assert [f.message for f in failures] == ["bad 7", "bad 8"]
    assert failures[0].handler == "broken"
    assert failures[0].correlation_id == ping.correlation_id
    assert bus.failures["Ping"] == 2


async def test_failing_failure_handler_does_not_recurse() -> None:
    bus = EventBus()

    async def broken(event: Event) -> None:
        raise RuntimeError("always")

    bus.subscribe(Event, broken)
    await bus.emit(Ping(n=1))
    await bus.drain(1)
    assert bus.published["HandlerFailed"] == 1


async def test_emit_waits_for_all_handlers_of_that_publish() -> None:
    bus = EventBus()
    done: list[str] = []

    async def slow(event: Ping) -> None:
        await asyncio.sleep(0.05)
        done.append("slow")

    async def fast(event: Ping) -> None:
        done.append("fast")

    bus.subscribe(Ping, slow)
    bus.subscribe(Ping, fast)
    await bus.emit(Ping(n=1))
    assert sorted(done) == ["fast", "slow"]


async def test_wait_for_matches_predicate_and_times_out() -> None:
    bus = EventBus()
    waiter = asyncio.create_task(bus.wait_for(Ping, lambda e: e.n == 3, timeout=1))
    await asyncio.sleep(0)
    for n in range(5):
        bus.publish(Ping(n=n))
    assert (await waiter).n == 3
    with pytest.raises(TimeoutError):
        await bus.wait_for(Ping, lambda e: e.n == 99, timeout=0.05)


async def test_wait_for_sees_subclasses() -> None:
    bus = EventBus()
    waiter = asyncio.create_task(bus.wait_for(Ping, timeout=1))
    await asyncio.sleep(0)
    bus.publish(LoudPing(n=1))
    assert isinstance(await waiter, LoudPing)


async def test_counters_and_unsubscribe() -> None:
    bus = EventBus()
    seen: list[int] = []

    async def handler(event: Ping) -> None:
        seen.append(event.n)

    sub = bus.subscribe(Ping, handler)
    await bus.emit(Ping(n=1))
    sub.unsubscribe()
    sub.unsubscribe()
    await bus.emit(Ping(n=2))
    assert seen == [1]
    assert bus.published["Ping"] == 2


async def test_close_cancels_handlers_that_do_not_finish() -> None:
    bus = EventBus()
    cancelled = asyncio.Event()

    async def forever(event: Ping) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    bus.subscribe(Ping, forever)
    bus.publish(Ping(n=1))
    await asyncio.sleep(0)
    await bus.close(timeout=0.05)
    assert cancelled.is_set()
    assert bus.pending == 0


def test_events_are_frozen_and_keyword_only() -> None:
    event = Ping(n=1)
    with pytest.raises(AttributeError):
        event.n = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Ping(1)  # type: ignore[misc]
    assert len(event.correlation_id) == 16


async def test_an_emitter_that_is_cancelled_does_not_cancel_the_handlers() -> None:
    # Handlers belong to their subscribers (storage, metrics): a caller that gives up
    # waiting for them must not abort their work.
    bus = EventBus()
    release = asyncio.Event()
    finished: list[int] = []

    async def slow(event: Ping) -> None:
        await release.wait()
        finished.append(event.n)

    bus.subscribe(Ping, slow)
    emitting = asyncio.create_task(bus.emit(Ping(n=1)))
    await asyncio.sleep(0.01)
    emitting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await emitting
    release.set()
    await bus.drain(1)
    assert finished == [1]


async def test_a_drain_that_times_out_leaves_the_handlers_running() -> None:
    bus = EventBus()
    release = asyncio.Event()
    finished: list[int] = []

    async def slow(event: Ping) -> None:
        await release.wait()
        finished.append(event.n)

    bus.subscribe(Ping, slow)
    bus.publish(Ping(n=2))
    with pytest.raises(TimeoutError):
        await bus.drain(0.01)
    release.set()
    await bus.drain(1)
    assert finished == [2]
