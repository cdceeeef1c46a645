"""The write-behind queue: writes the database could not take, kept until it can.

Each queued write is held in memory, ordered by when it happened, and appended to
``<data_dir>/pending-writes.jsonl`` (one JSON object per line, fsync'd before
:meth:`WriteBehindQueue.put` returns) so a restart or a crash does not lose it. The
replayer (:mod:`libra.storage.durable`) takes writes from the head once the database
answers; the file is rewritten without them afterwards. A crash in between leaves
stored writes in the file: replays skip what is stored already, so nothing is stored
twice.

Bounded by ``database.write_queue_max``: when full, the oldest writes are kept (the
file stays append-only) and new ones are refused with one log line per outage and a
count in health. LLM call rows (statistics) are refused from 90 % so the last tenth
is left for conversation messages.

File work runs on one dedicated thread, in submission order: an append can never
interleave with a rewrite, even when the task that asked for it is cancelled.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from loguru import logger

SPILL_FILE = "pending-writes.jsonl"
REJECTED_FILE = "pending-writes.rejected.jsonl"
"""Writes that could not be read back or that the database refused for good."""
_LOCK_FILE = "pending-writes.lock"
STATS_SHARE = 0.9
"""LLM call rows are refused once the queue is this full, keeping room for messages."""


class WriteKind(StrEnum):
    """What a queued write stores."""

    MESSAGE = "message"
    LLM_CALL = "llm_call"


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingWrite:
    """One write waiting for the database, with its serialised form."""

    kind: WriteKind
    at: datetime
    """When it happened: the replay order."""
    data: dict[str, Any]
    """JSON-safe fields (datetimes as ISO strings)."""

    def line(self) -> str:
        """The JSON line kept in the spill file."""
        return json.dumps({"kind": str(self.kind), "at": self.at.isoformat(),
                           "data": self.data}, ensure_ascii=False) + "\n"

    @classmethod
    def parse(cls, line: str) -> PendingWrite:
        """Read one spill-file line back.

        Raises:
            ValueError: the line is not a queued write (a torn or edited line).
        """
        try:
            raw = json.loads(line)
            at = datetime.fromisoformat(raw["at"])
            if at.tzinfo is None or not isinstance(raw["data"], dict):
                raise ValueError("no time zone or no data")
            return cls(kind=WriteKind(raw["kind"]), at=at, data=raw["data"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a queued write: {err}") from None


class WriteBehindQueue:
    """Ordered, bounded, spilled to disk; see the module docstring."""

    def __init__(self, folder: Path | None, *, max_writes: int) -> None:
        """``folder``: where the spill file lives (``None``: memory only)."""
        self._folder = folder
        self._max = max_writes
        self._items: collections.deque[PendingWrite] = collections.deque()
        self._lock = threading.Lock()  # items and _unwritten, shared with the file thread
        self._unwritten: list[str] = []
        self._file: IO[str] | None = None
        self._lock_fd: int | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._empty = asyncio.Event()
        self._empty.set()
        self.refused = 0
        """Writes refused because the queue was full (since start)."""
        self._refusing = False

    # -- lifecycle -----------------------------------------------------------------

    @property
    def spill_path(self) -> Path | None:
        """The spill file, or ``None`` when writes are kept in memory only."""
        return None if self._file is None or self._folder is None else self._folder / SPILL_FILE

    async def open(self) -> int:
        """Load what an earlier run left (taking its file); return how many.

        With nothing left over the file is only made when a write first needs it, so a
        Libra whose database never fails leaves no file behind.
        """
        if self._folder is None:
            return 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="libra-spill")
        spill = self._folder / SPILL_FILE
        if not spill.exists() or spill.stat().st_size == 0:
            return 0
        return await self._claim()

    async def _claim(self) -> int:
        try:
            loaded = await self._run(self._open_sync)
        except OSError as err:
            logger.warning("queued writes are kept in memory only (a restart loses them): "
                           "cannot use {}: {}", self._folder, err)
            await self.close()
            return 0
        if loaded:
            with self._lock:
                self._items = collections.deque(
                    sorted([*self._items, *loaded], key=lambda w: w.at))
            self._empty.clear()
            logger.info("{} writes queued by an earlier run will be stored when the "
                        "database answers", len(loaded))
        return len(loaded)

    def _open_sync(self) -> list[PendingWrite]:
        assert self._folder is not None
        if self._file is not None:  # claimed by an earlier call
            return []
        self._folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._folder / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # Two processes on one data directory would replay and truncate each
            # other's writes: the second keeps its own in memory instead.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BlockingIOError("another Libra process uses this data directory") from None
        self._lock_fd = fd
        path = self._folder / SPILL_FILE
        loaded: list[PendingWrite] = []
        bad: list[str] = []
        if path.exists():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if not line.strip():
                    continue
                try:
                    loaded.append(PendingWrite.parse(line))
                except ValueError:
                    bad.append(line)
        # Messages of conversations: readable by Libra's user only.
        self._file = os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600),
                               "a", encoding="utf-8")
        if bad:
            self._reject_sync(bad, "unreadable line in the spill file")
            self._rewrite_sync([w.line() for w in loaded])
        return loaded

    async def close(self) -> None:
        """Write out what is still pending and release the file. Idempotent."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        with contextlib.suppress(OSError):
            await asyncio.get_running_loop().run_in_executor(executor, self._close_sync)
        await asyncio.to_thread(executor.shutdown)

    def _close_sync(self) -> None:
        try:
            self._flush_sync()
        finally:
            file, self._file = self._file, None
            if file is not None:
                file.close()
            lock_fd, self._lock_fd = self._lock_fd, None
            if lock_fd is not None:
                os.close(lock_fd)  # releases the flock

    # -- the queue -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._items)

    @property
    def refusing(self) -> bool:
        """Whether writes were refused since the queue last emptied (it is full)."""
        return self._refusing

    def peek(self) -> PendingWrite | None:
        """The oldest queued write, if any."""
        return self._items[0] if self._items else None

    async def wait_empty(self) -> None:
        """Return once nothing is queued."""
        await self._empty.wait()

    async def put(self, write: PendingWrite) -> bool:
        """Queue ``write`` (durably, when there is a spill file); ``False`` when refused."""
        limit = self._max if write.kind is WriteKind.MESSAGE else int(self._max * STATS_SHARE)
        if len(self._items) >= limit:
            self._refuse(write)
            return False
        line = write.line()
        with self._lock:
            # Usually the newest; a write that timed out may belong a little earlier.
            index = len(self._items)
            while index > 0 and self._items[index - 1].at > write.at:
                index -= 1
            self._items.insert(index, write)
            self._unwritten.append(line)
        self._empty.clear()
        if self._executor is not None and self._file is None:
            await self._claim()
        if self._executor is not None:
            try:
                await self._run(self._flush_sync)
            except OSError as err:
                logger.error("cannot write {} ({}); queued writes are in memory only "
                             "until it works again", self._folder, err)
        return True

    def _refuse(self, write: PendingWrite) -> None:
        self.refused += 1
        if not self._refusing:
            self._refusing = True
            logger.warning("write queue full ({} writes): refusing new {} writes until the "
                           "database takes the queued ones (database.write_queue_max)",
                           len(self._items), write.kind)

    async def done(self, write: PendingWrite) -> None:
        """Drop ``write`` (stored or set aside now); rewrite the file once empty."""
        with self._lock:
            if self._items and self._items[0] is write:
                self._items.popleft()
            else:  # an older write that timed out late was queued in front of it
                with contextlib.suppress(ValueError):
                    self._items.remove(write)
        if not self._items:
            await self.compact()
        if not self._items:  # a write may have come in while the file was rewritten
            self._empty.set()
            if self._refusing:
                self._refusing = False
                logger.warning("{} writes were refused while the write queue was full",
                               self.refused)

    async def remove(self, drop: Callable[[PendingWrite], bool]) -> int:
        """Remove the writes for which ``drop(write)`` is true; return how many."""
        with self._lock:
            kept = [w for w in self._items if not drop(w)]
            removed = len(self._items) - len(kept)
            self._items = collections.deque(kept)
        if removed:
            await self.compact()
        if not self._items:
            self._empty.set()
        return removed

    async def compact(self) -> None:
        """Rewrite the spill file with exactly what is still queued."""
        if self._executor is None:
            return
        try:
            await self._run(self._compact_sync)
        except OSError as err:
            logger.error("cannot rewrite {}: {}", self._folder, err)

    async def reject(self, write: PendingWrite, reason: str) -> None:
        """Set ``write`` aside in the rejected file (the database refuses it for good)."""
        if self._executor is not None:
            with contextlib.suppress(OSError):
                await self._run(self._reject_sync, [write.line()], reason)

    # -- file work (on the spill thread) -------------------------------------------

    async def _run(self, fn: Any, *args: Any) -> Any:
        executor = self._executor
        if executor is None:  # gone memory-only while this write was on its way
            raise OSError("the spill file is not in use")
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    def _flush_sync(self) -> None:
        with self._lock:
            lines, self._unwritten = self._unwritten, []
        if lines and self._file is not None:
            self._file.write("".join(lines))
            self._file.flush()
            os.fsync(self._file.fileno())

    def _compact_sync(self) -> None:
        with self._lock:
            lines = [w.line() for w in self._items]
            self._unwritten = []  # every queued write is in ``lines``
        self._rewrite_sync(lines)

    def _rewrite_sync(self, lines: list[str]) -> None:
        assert self._folder is not None and self._file is not None
        path = self._folder / SPILL_FILE
        if not lines:
            self._file.truncate(0)
            os.fsync(self._file.fileno())
            return
        # A new file renamed over the old one: a crash leaves one or the other whole.
        tmp = path.with_suffix(".tmp")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
                       encoding="utf-8") as out:
            out.write("".join(lines))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(self._folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._file.close()
        self._file = os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND), "a", encoding="utf-8")

    def _reject_sync(self, lines: list[str], reason: str) -> None:
        assert self._folder is not None
        path = self._folder / REJECTED_FILE
        stamp = datetime.now(UTC).isoformat()
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a",
                       encoding="utf-8") as out:
            for line in lines:
                out.write(json.dumps({"rejected_at": stamp, "reason": reason,
                                      "line": line.rstrip("\n")}, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        logger.warning("{} queued writes set aside in {} ({})", len(lines), path, reason)
