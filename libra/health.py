"""Component health, gathered for ``libra doctor`` and the admin readiness probe."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from libra.tasks import Deadlines


class Status(StrEnum):
    """How well a component works, ordered from best to worst."""

    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"
    OFF = "off"


@dataclass(frozen=True, slots=True, kw_only=True)
class ComponentHealth:
    """One component's state, with a fix an operator can apply when it is not ok."""

    name: str
    status: Status
    detail: str = ""
    fix: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


HealthCheck = Callable[[], Awaitable[ComponentHealth]]


class HealthRegistry:
    """Plugins register checks; readers run them all concurrently with a timeout."""

    def __init__(self) -> None:
        self._checks: dict[str, HealthCheck] = {}
        self._deadlines = Deadlines()

    def register(self, name: str, check: HealthCheck) -> None:
        """Add or replace the check called ``name``."""
        self._checks[name] = check

    def unregister(self, name: str) -> None:
        """Remove a check (when its plugin stops)."""
        self._checks.pop(name, None)

    async def run(self, timeout: float = 3.0) -> list[ComponentHealth]:
        """Run every check; one that hangs or raises reports itself as down."""

        async def one(name: str, check: HealthCheck) -> ComponentHealth:
            try:
                # Not asyncio.timeout: it waits for the cancelled check to unwind, and
                # a driver stuck on a dead connection may not unwind for minutes.
                return await self._deadlines.within(check(), timeout)
            except TimeoutError:
                return ComponentHealth(name=name, status=Status.DOWN,
                                       detail=f"no answer within {timeout:g}s")
            except Exception as err:
                return ComponentHealth(name=name, status=Status.DOWN,
                                       detail=f"{type(err).__name__}: {err}")

        return list(await asyncio.gather(*(one(n, c) for n, c in self._checks.items())))
