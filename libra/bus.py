"""The in-process, typed event bus.

Dispatch rules:
- ``publish`` is synchronous and cheap: it starts one named task per matching
  handler (handlers for a base class receive subclasses) and returns a
  :class:`Dispatch` that can be awaited to wait for exactly those handlers.
- Handlers start in publish order and, for one event, in subscription order.
- A handler that raises is logged and reported as a :class:`HandlerFailed` event;
  the other handlers and later events are unaffected. ``CancelledError`` passes.
- ``wait_for`` resolves synchronously inside ``publish`` so it never misses an event
  published right after it was armed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from loguru import logger

from libra.events import Event, HandlerFailed

E = TypeVar("E", bound=Event)
Handler = Callable[[E], Awaitable[None]]


@dataclass(slots=True)
class _Subscription:
    event_type: type[Event]
    handler: Callable[[Any], Awaitable[None]]
    name: str


@dataclass(slots=True)
class _Waiter:
    event_type: type[Event]
    predicate: Callable[[Any], bool] | None
    future: asyncio.Future[Any]


class Subscription:
    """A handle that removes its handler from the bus."""

    def __init__(self, bus: EventBus, sub: _Subscription) -> None:
        self._bus = bus
        self._sub = sub

    def unsubscribe(self) -> None:
        """Stop delivering events to this handler (idempotent)."""
        self._bus._remove(self._sub)


class Dispatch:
    """The handler tasks started by one ``publish``."""

    __slots__ = ("event", "tasks")

    def __init__(self, event: Event, tasks: list[asyncio.Task[None]]) -> None:
        self.event = event
        self.tasks = tasks

    async def wait(self) -> None:
        """Wait until every handler of this publish has finished (failures included).

        Cancelling the wait leaves the handlers running: they belong to their
        subscribers (``asyncio.wait``, unlike ``gather``, does not cancel them).
        """
        if self.tasks:
            await asyncio.wait(self.tasks)

    def __await__(self) -> Any:
        return self.wait().__await__()


class EventBus:
    """Typed publish/subscribe inside one asyncio process."""

    def __init__(self) -> None:
        self._subs: list[_Subscription] = []
        self._waiters: list[_Waiter] = []
        self._route_cache: dict[type[Event], list[_Subscription]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.published: Counter[str] = Counter()
        """Events published, by event type name (for metrics)."""
        self.failures: Counter[str] = Counter()
        """Handler failures, by event type name (for metrics)."""
        self._closed = False

    # -- subscription -------------------------------------------------------------

    def subscribe(
        self, event_type: type[E], handler: Handler[E], *, name: str | None = None
    ) -> Subscription:
        """Call ``handler`` for every published ``event_type`` (subclasses included)."""
        label: str = name or getattr(handler, "__qualname__", None) or repr(handler)
        sub = _Subscription(event_type, cast(Callable[[Any], Awaitable[None]], handler), label)
        self._subs.append(sub)
        self._route_cache.clear()
        return Subscription(self, sub)

    def _remove(self, sub: _Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._route_cache.clear()

    def _route(self, event_type: type[Event]) -> list[_Subscription]:
        subs = self._route_cache.get(event_type)
        if subs is None:
            subs = [s for s in self._subs if issubclass(event_type, s.event_type)]
            self._route_cache[event_type] = subs
        return subs

    # -- publishing ----------------------------------------------------------------

    def publish(self, event: Event) -> Dispatch:
        """Deliver ``event`` to its handlers; await the result to wait for them."""
        event_type = type(event)
        self.published[event_type.__name__] += 1
        if self._waiters:
            self._resolve_waiters(event)
        if self._closed:
            return Dispatch(event, [])
        tasks: list[asyncio.Task[None]] = []
        for sub in self._route(event_type):
            task = asyncio.get_running_loop().create_task(
                self._run(sub, event), name=f"bus:{event_type.__name__}:{sub.name}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            tasks.append(task)
        return Dispatch(event, tasks)

    async def emit(self, event: Event) -> None:
        """Publish and wait for every handler of this event."""
        await self.publish(event).wait()

    async def _run(self, sub: _Subscription, event: Event) -> None:
        try:
            await sub.handler(event)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            name = type(event).__name__
            self.failures[name] += 1
            logger.opt(exception=err).error(
                "handler {} failed on {} [{}]", sub.name, name, event.correlation_id
            )
            if not isinstance(event, HandlerFailed):  # never recurse on our own report
                self.publish(
                    HandlerFailed(
                        correlation_id=event.correlation_id,
                        event_type=name,
                        handler=sub.name,
                        error_type=type(err).__name__,
                        message=str(err),
                    )
                )

    # -- waiting -------------------------------------------------------------------

    async def wait_for(
        self,
        event_type: type[E],
        predicate: Callable[[E], bool] | None = None,
        timeout: float | None = None,
    ) -> E:
        """Return the next ``event_type`` event matching ``predicate``.

        Raises:
            TimeoutError: nothing matched within ``timeout`` seconds.
        """
        future: asyncio.Future[E] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(event_type, predicate, future)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _resolve_waiters(self, event: Event) -> None:
        for waiter in list(self._waiters):
            if waiter.future.done() or not isinstance(event, waiter.event_type):
                continue
            try:
                matched = waiter.predicate is None or waiter.predicate(event)
            except Exception as err:  # a broken predicate fails its own waiter only
                waiter.future.set_exception(err)
                self._waiters.remove(waiter)
                continue
            if matched:
                waiter.future.set_result(event)
                self._waiters.remove(waiter)

    # -- lifecycle -----------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Handler tasks still running."""
        return len(self._tasks)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for every running handler (and the ones they publish) to finish.

        Raises:
            TimeoutError: handlers are still running after ``timeout`` seconds (they
                are left running; ``close`` is what cancels them).
        """
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.wait(list(self._tasks))

    async def close(self, timeout: float = 5.0) -> None:
        """Stop accepting handlers, give running ones ``timeout`` s, then cancel them."""
        self._closed = True
        try:
            await self.drain(timeout)
        except TimeoutError:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
