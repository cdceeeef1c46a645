"""Reading the console's input lines without ever blocking the event loop or quitting."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TextIO


class LineReader:
    """Reads stdin on a daemon thread so quitting never waits for a pending line."""

    def __init__(self, stream: TextIO) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._stream = stream
        threading.Thread(target=self._pump, name="libra-console-stdin", daemon=True).start()

    def _pump(self) -> None:
        try:
            for line in self._lines():
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
        finally:
            # End of input even if reading failed: the console must never wait forever.
            self._loop.call_soon_threadsafe(self._queue.put_nowait, None)

    def _lines(self) -> Iterator[str]:
        # Bytes that are not valid in the stream's encoding (a Latin-1 file piped in)
        # become U+FFFD: a strict text stream would kill this thread, and the C
        # locale's surrogate escapes would fail later when the text is encoded.
        raw = getattr(self._stream, "buffer", None)
        if raw is None:
            yield from self._stream
            return
        encoding = getattr(self._stream, "encoding", None) or "utf-8"
        for line in raw:
            yield line.decode(encoding, "replace").replace("\r\n", "\n")

    async def readline(self) -> str | None:
        """The next line (with its newline), or ``None`` at the end of input."""
        return await self._queue.get()


async def first_line(read: Coroutine[Any, Any, str | None],
                     quit_wait: Coroutine[Any, Any, object]) -> str | None:
    """The next line, or None when quitting was requested first."""
    reader = asyncio.ensure_future(read)
    quitter = asyncio.ensure_future(quit_wait)
    done, pending = await asyncio.wait({reader, quitter}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if reader in done:
        result: str | None = reader.result()
        return result
    return None
