"""One Redis pub/sub subscription per process, fanned out to local handlers.

Cache flushes and LLM slot releases travel here. Messages are hints, never the only
path: a lost one costs a poll interval (slots) or nothing that Redis does not already
hold (flushes act on shared keys first), so a reconnect simply resubscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from loguru import logger
from redis.asyncio.client import PubSub

from libra.cluster.link import RedisLink

Handler = Callable[[str], None]
"""Called on the event loop with the message text; must return promptly."""
RECONNECT_DELAY = 1.0


class PubSubHub:
    """Subscribes to every registered channel and calls its handlers."""

    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self._handlers: dict[str, list[Handler]] = {}
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        """Set while the subscription is live (tests and start-up wait on it)."""

    def listen(self, channel: str, handler: Handler) -> None:
        """Call ``handler`` for each message on ``channel`` (register before ``start``)."""
        self._handlers.setdefault(channel, []).append(handler)

    async def publish(self, channel: str, message: str) -> int:
        """Send ``message``; return how many processes (this one too) received it."""
        return int(await self._link.call(self._link.client.publish, channel, message))

    def start(self) -> bool:
        """Begin listening in a held task; ``False`` when nothing listens."""
        if self._task is None and self._handlers:
            self._task = asyncio.create_task(self._run(), name="cluster:pubsub")
        return self._task is not None

    async def stop(self) -> None:
        """Stop listening (idempotent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.connected.clear()

    async def _run(self) -> None:
        failed = False
        while True:
            pubsub: PubSub = self._link.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*self._handlers)
                self.connected.set()
                if failed:
                    logger.info("Redis pub/sub reconnected")
                failed = False
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    channel = _text(message["channel"])
                    for handler in self._handlers.get(channel, []):
                        try:
                            handler(_text(message["data"]))
                        except Exception as err:  # one bad handler must not end the others
                            logger.opt(exception=err).error("pub/sub handler for {} failed",
                                                            channel)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self.connected.clear()
                if not failed:
                    logger.warning("Redis pub/sub lost ({}); retrying every {:g}s", err,
                                   RECONNECT_DELAY)
                failed = True
                await asyncio.sleep(RECONNECT_DELAY)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
