"""Every instance writes a small record about itself to Redis; anyone can list them.

A record lives three heartbeats: an instance that died drops off the list by itself.
The operator page and ``/stats`` show the list, so one process can tell what the
whole bot is doing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from loguru import logger

from libra.cluster.api import InstanceRecord
from libra.cluster.link import RedisLink

Snapshot = Callable[[], dict[str, int]]
"""``{"guilds": n, "llm_active": n}`` of this process, read at each heartbeat."""


class InstanceRegistry:
    """Heartbeats this process's record and lists every live one."""

    def __init__(self, link: RedisLink, *, name: str, shards: str, heartbeat: float,
                 snapshot: Snapshot) -> None:
        self._link = link
        self.name = name
        self._shards = shards
        self._heartbeat = heartbeat
        self._snapshot = snapshot
        self._started_at = time.time()
        self._task: asyncio.Task[None] | None = None
        self._index = link.key("instances")

    def _record(self) -> InstanceRecord:
        figures = self._snapshot()
        return InstanceRecord(name=self.name, shards=self._shards,
                              guilds=figures.get("guilds", 0),
                              llm_active=figures.get("llm_active", 0),
                              started_at=self._started_at, seen_at=time.time())

    async def beat(self) -> None:
        """Write this process's record now (one round trip)."""
        record = json.dumps(asdict(self._record()))
        ttl_ms = int(self._heartbeat * 3000)
        pipe = self._link.client.pipeline(transaction=False)
        pipe.set(self._link.key("instance", self.name), record, px=ttl_ms)
        pipe.sadd(self._index, self.name)
        await self._link.call(pipe.execute)

    def start(self) -> None:
        """Heartbeat in a held task."""
        if self._task is None:
            self._task = asyncio.create_task(self._beat_forever(), name="cluster:heartbeat")

    async def stop(self) -> None:
        """Stop, and take this record off the list at once (idempotent)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(Exception):
            pipe = self._link.client.pipeline(transaction=False)
            pipe.delete(self._link.key("instance", self.name))
            pipe.srem(self._index, self.name)
            await self._link.call(pipe.execute)

    async def _beat_forever(self) -> None:
        failed = False
        while True:
            try:
                await self.beat()
                failed = False
            except Exception as err:
                if not failed:
                    logger.warning("instance heartbeat to Redis failed: {}", err)
                failed = True
            await asyncio.sleep(self._heartbeat)

    async def instances(self) -> list[InstanceRecord]:
        """Every instance whose record is alive, by name (two round trips)."""
        names = sorted(n.decode() if isinstance(n, bytes) else str(n)
                       for n in await self._link.call(self._link.client.smembers, self._index))
        if not names:
            return []
        raw = await self._link.call(self._link.client.mget,
                                    [self._link.key("instance", n) for n in names])
        found: list[InstanceRecord] = []
        gone: list[str] = []
        for name, value in zip(names, raw, strict=True):
            if value is None:
                gone.append(name)
                continue
            with contextlib.suppress(ValueError, TypeError):
                found.append(InstanceRecord(**_fields(json.loads(value))))
        if gone:
            with contextlib.suppress(Exception):
                await self._link.call(self._link.client.srem, self._index, *gone)
        return found


def _fields(data: Any) -> dict[str, Any]:
    known = InstanceRecord.__dataclass_fields__
    return {k: v for k, v in dict(data).items() if k in known}
