"""Named, held background tasks that are cancelled on shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from loguru import logger

T = TypeVar("T")


class TaskGroup:
    """Holds every long-running task of one owner; ``close()`` cancels what is left.

    Unlike ``asyncio.TaskGroup`` a failing task does not cancel its siblings: it is
    logged, because one failing feature must never take the others down.
    """

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Start ``coro`` as a task named ``<owner>:<name>`` and keep a reference.

        After ``close()`` the task is cancelled before it runs: nothing would cancel
        it later, and its owner has already released what it would use.
        """
        task = asyncio.get_running_loop().create_task(coro, name=f"{self._owner}:{name}")
        if self._closed:
            logger.debug("task {} spawned after {} closed; cancelled", task.get_name(),
                         self._owner)
            task.cancel()
            return task
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (err := task.exception()) is not None:
            logger.opt(exception=err).error("task {} failed", task.get_name())

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self, timeout: float = 5.0) -> None:
        """Cancel every task and wait up to ``timeout`` seconds for them to finish."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


class Deadlines:
    """Runs work under a deadline without waiting for overrun work to unwind.

    ``asyncio.timeout`` and ``wait_for`` wait for the cancelled work to finish, and a
    driver cancelling a query on a host that went dark (asyncpg) may take minutes to
    do so: the caller's answer is due now. Overrun work is cancelled and held here
    until it ends on its own; a late failure of it is dropped.
    """

    def __init__(self) -> None:
        self._abandoned: set[asyncio.Future[Any]] = set()

    @property
    def unwinding(self) -> int:
        """Overrun operations that have not ended yet."""
        return len(self._abandoned)

    async def within(self, aw: Awaitable[T], timeout: float) -> T:
        """Await ``aw`` for at most ``timeout`` seconds.

        Raises:
            TimeoutError: ``aw`` did not finish in ``timeout`` seconds.
        """
        task = asyncio.ensure_future(aw)
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
        except asyncio.CancelledError:  # the caller went away
            task.cancel()
            raise
        if not done:
            task.cancel()
            self._abandoned.add(task)
            task.add_done_callback(self._reap)
            raise TimeoutError
        return task.result()

    def _reap(self, task: asyncio.Future[Any]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: nobody waits for it any more
