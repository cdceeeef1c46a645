"""``DurableStorage``: the ``Storage`` Libra uses, which loses nothing in an outage.

It sits in front of :class:`~libra.storage.repositories.PgStorage` (absent until the
database first connects) and the database's circuit breaker:

- Reads and commands fail at once with ``DatabaseUnavailable`` while the database is
  not connected, known to be down, or still taking queued writes (so nobody reads a
  history that misses them). A turn then answers without history instead of waiting.
- A turn's writes (``record_message``, ``record_llm_call``) go to the database when it
  answers, and otherwise to the :class:`~libra.storage.writebehind.WriteBehindQueue`,
  which keeps them on disk; they are stored in order when the database returns.
  Replays skip what a timed-out first attempt may already have stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from loguru import logger

from libra.errors import DatabaseUnavailable, StorageError
from libra.storage.api import LLMCallRecord, MessageRecord, MessageStatus, Role
from libra.storage.db import Database
from libra.storage.repositories import PgStorage
from libra.storage.writebehind import PendingWrite, WriteBehindQueue, WriteKind

T = TypeVar("T")
_HEAD_ATTEMPTS = 3
"""Replays of one write that find the database unavailable while probes say it is up;
then the write itself is the problem (e.g. it always times out) and is set aside."""


def _write_for(kind: WriteKind, record: MessageRecord | LLMCallRecord,
               at: datetime) -> PendingWrite:
    data = dataclasses.asdict(record)
    data["created_at"] = at.isoformat()
    return PendingWrite(kind=kind, at=at, data=data)


def _record_of(write: PendingWrite) -> MessageRecord | LLMCallRecord:
    """The record a queued write stores (raises ``KeyError``/``TypeError``/``ValueError``)."""
    data = {**write.data, "created_at": datetime.fromisoformat(write.data["created_at"])}
    if write.kind is WriteKind.MESSAGE:
        return MessageRecord(**{**data, "role": Role(data["role"]),
                                "status": MessageStatus(data["status"])})
    return LLMCallRecord(**data)


class DurableStorage:
    """Implements ``Storage``; see the module docstring.

    Repository functions other than the queued writes are passed through
    :meth:`__getattr__`, so each one (including any added later) is behind the breaker.
    """

    def __init__(self, queue: WriteBehindQueue, *, write_timeout: float = 5.0) -> None:
        """``write_timeout``: how long ``close`` waits for writes under way (query timeout)."""
        self._queue = queue
        self._write_timeout = write_timeout
        self._writing = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._db: Database | None = None
        self._pg: PgStorage | None = None
        self._attached = asyncio.Event()
        self._wake = asyncio.Event()
        self._replayer: asyncio.Task[None] | None = None
        self._head_failures = 0
        self.waiting_for = "not connected to the database yet"
        """Why there is no database, while there is none (set by the storage plugin)."""

    # -- state ---------------------------------------------------------------------

    @property
    def database(self) -> Database | None:
        """The connected database, once there is one."""
        return self._db

    @property
    def queued(self) -> int:
        """Writes waiting for the database."""
        return len(self._queue)

    @property
    def refusing(self) -> bool:
        """Whether writes are being refused now (the queue is full)."""
        return self._queue.refusing

    @property
    def refused(self) -> int:
        """Writes refused because the queue was full (since start)."""
        return self._queue.refused

    def attach(self, db: Database, pg: PgStorage) -> None:
        """Use ``db`` from now on, and store what is queued."""
        self._db, self._pg = db, pg
        db.breaker.on_close(self._wake.set)
        self._attached.set()
        if self._replayer is None:
            self._replayer = asyncio.get_running_loop().create_task(
                self._replay_loop(), name="storage:replay")
        self._wake.set()

    async def wait_stored(self) -> None:
        """Return once connected with nothing queued (tests)."""
        await self._attached.wait()
        await self._queue.wait_empty()

    async def close(self) -> None:
        """Stop replaying and make sure every queued write is on disk. Idempotent."""
        # A write under way either lands or falls back to the queue: let it, first.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._write_timeout + 1):
                await self._idle.wait()
        self._closed = True
        replayer, self._replayer = self._replayer, None
        if replayer is not None:
            replayer.cancel()
            await asyncio.gather(replayer, return_exceptions=True)
        await self._queue.close()
        self._db, self._pg = None, None

    # -- reads and commands ----------------------------------------------------------

    def _usable(self, action: str) -> PgStorage:
        db, pg = self._db, self._pg
        if db is None or pg is None:
            raise DatabaseUnavailable(f"cannot {action}: {self.waiting_for}",
                                      hint="check that PostgreSQL runs and is reachable")
        if db.breaker.is_open:
            raise db.breaker.unavailable(action)
        if len(self._queue):
            raise DatabaseUnavailable(
                f"cannot {action}: {len(self._queue)} queued writes are being stored first")
        return pg

    async def _guarded(self, action: str, call: Callable[[PgStorage], Awaitable[T]]) -> T:
        pg = self._usable(action)
        try:
            return await call(pg)
        except DatabaseUnavailable as err:
            self._trip(err)
            raise

    def _trip(self, err: DatabaseUnavailable) -> None:
        if self._db is not None:
            self._db.breaker.trip(err.message)

    def __getattr__(self, name: str) -> Any:
        method = getattr(PgStorage, name, None)
        if name.startswith("_") or not inspect.iscoroutinefunction(method):
            raise AttributeError(name)
        action = name.replace("_", " ")

        async def guarded(*args: Any, **kwargs: Any) -> Any:
            return await self._guarded(action,
                                       lambda pg: getattr(pg, name)(*args, **kwargs))

        return guarded

    async def delete_user(self, discord_id: int) -> bool:
        """Delete a user and everything stored about them, queued writes included.

        The queue is emptied of theirs first: a message replayed after the delete
        would create the user's row again.
        """
        # A message names its author by Discord id; an LLM call, the user it served.
        owner = {WriteKind.MESSAGE: "discord_user_id", WriteKind.LLM_CALL: "user_id"}
        await self._queue.remove(lambda w: w.data.get(owner[w.kind]) == discord_id)
        return await self._guarded("delete user", lambda pg: pg.delete_user(discord_id))

    # -- queued writes ---------------------------------------------------------------

    async def record_message(self, record: MessageRecord) -> None:
        """Store one message of a turn, or queue it while the database is unavailable."""
        write = _write_for(WriteKind.MESSAGE, record, record.created_at)
        await self._write(write, lambda pg: pg.record_message(record))

    async def record_llm_call(self, record: LLMCallRecord) -> None:
        """Store one LLM call, or queue it while the database is unavailable."""
        if record.created_at is None:
            record = dataclasses.replace(record, created_at=datetime.now(UTC))
        assert record.created_at is not None
        write = _write_for(WriteKind.LLM_CALL, record, record.created_at)
        await self._write(write, lambda pg: pg.record_llm_call(record))

    async def _write(self, write: PendingWrite,
                     direct: Callable[[PgStorage], Awaitable[None]]) -> None:
        if self._closed:
            logger.warning("a {} write came after storage stopped and is lost", write.kind)
            return
        self._writing += 1
        self._idle.clear()
        try:
            await self._write_now_or_queue(write, direct)
        finally:
            self._writing -= 1
            if not self._writing:
                self._idle.set()

    async def _write_now_or_queue(self, write: PendingWrite,
                                  direct: Callable[[PgStorage], Awaitable[None]]) -> None:
        db, pg = self._db, self._pg
        # Straight to the database only when nothing queued would then be overtaken.
        if db is not None and pg is not None and not db.breaker.is_open and not self._queue:
            try:
                await direct(pg)
                return
            except DatabaseUnavailable as err:
                self._trip(err)
        if await self._queue.put(write):
            self._wake.set()

    async def _replay_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._replay()
            except Exception as err:  # the queue stays; the next wake-up tries again
                logger.opt(exception=err).error("storing queued writes failed")

    async def _replay(self) -> None:
        stored = 0
        while (write := self._queue.peek()) is not None:
            db, pg = self._db, self._pg
            if db is None or pg is None or db.breaker.is_open:
                break
            try:
                await self._store(pg, write)
            except DatabaseUnavailable as err:
                self._head_failures += 1
                if self._head_failures < _HEAD_ATTEMPTS:
                    self._trip(err)
                    await self._queue.compact()  # the stored ones leave the file
                    break
                await self._queue.reject(write, f"failed {_HEAD_ATTEMPTS} times: {err}")
            except (StorageError, KeyError, TypeError, ValueError) as err:
                # Refused for good (e.g. its user was deleted) or unreadable: kept aside
                # for the operator instead of blocking every write behind it.
                await self._queue.reject(write, str(err))
            else:
                stored += 1
            self._head_failures = 0
            await self._queue.done(write)
        if stored:
            logger.info("stored {} queued writes; {} still queued", stored, len(self._queue))

    @staticmethod
    async def _store(pg: PgStorage, write: PendingWrite) -> None:
        record = _record_of(write)
        if isinstance(record, MessageRecord):
            await pg.record_message(record, if_absent=True)
        else:
            await pg.record_llm_call(record, if_absent=True)
