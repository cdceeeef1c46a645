"""Coalescing of streamed tokens, with cancellation that reaches the server.

Models emit a token every few milliseconds; Discord edits and TTS sentences want
larger pieces. :func:`coalesce` forwards the first piece at once (it is what the
user waits for), then emits when ``chars`` characters are buffered or ``ms``
milliseconds have passed since the last emit, whichever comes first — the timer
runs even while the model is silent, so text never sits in the buffer for long.

The source is read by a named task so the timer can fire between tokens. Closing
or cancelling the coalesced iterator cancels that task, which closes the source
iterator and with it the backend's HTTP response: the server sees the disconnect
and stops generating.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from libra.llm.api import Token

T = TypeVar("T")


@asynccontextmanager
async def closing_stream(stream: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """Like ``contextlib.aclosing`` for any async iterator: close it on exit if it can."""
    try:
        yield stream
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


class _End:
    """Marks the end of the source."""


_END = _End()


async def _pump(source: AsyncIterator[Token], queue: asyncio.Queue[Token | _Failed | _End]) -> None:
    try:
        async with closing_stream(source) as tokens:
            async for token in tokens:
                queue.put_nowait(token)
    except asyncio.CancelledError:
        raise
    except Exception as err:
        queue.put_nowait(_Failed(err))
        return
    queue.put_nowait(_END)


async def coalesce(
    source: AsyncIterator[Token], *, chars: int, ms: float, name: str = "llm-stream"
) -> AsyncIterator[Token]:
    """Re-chunk ``source``: first text at once, then by size or age.

    ``retry`` tokens drop the unsent buffer and pass through; the ``done`` token
    comes after the buffered text. A failure of the source is raised after the
    text received before it.
    """
    queue: asyncio.Queue[Token | _Failed | _End] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    reader = loop.create_task(_pump(source, queue), name=f"llm:{name}")
    window = ms / 1000
    buffer: list[str] = []
    size = 0
    last_emit = loop.time()
    sent_text = False
    try:
        while True:
            if buffer:
                try:
                    async with asyncio.timeout_at(last_emit + window):
                        item = await queue.get()
                except TimeoutError:
                    yield Token(text="".join(buffer))
                    buffer.clear()
                    size = 0
                    last_emit = loop.time()
                    continue
            else:
                item = await queue.get()
            if isinstance(item, _End | _Failed):
                if buffer:
                    yield Token(text="".join(buffer))
                if isinstance(item, _Failed):
                    raise item.error
                return
            if item.retry:
                buffer.clear()
                size = 0
                sent_text = False
                yield item
                continue
            if item.text:
                buffer.append(item.text)
                size += len(item.text)
            now = loop.time()
            if buffer and (not sent_text or size >= chars or now - last_emit >= window):
                yield Token(text="".join(buffer))
                buffer.clear()
                size = 0
                sent_text = True
                last_emit = loop.time()
            if item.done:
                if buffer:
                    yield Token(text="".join(buffer))
                    buffer.clear()
                yield Token(text="", done=True, prompt_tokens=item.prompt_tokens,
                            completion_tokens=item.completion_tokens)
                return
    finally:
        if not reader.done():
            reader.cancel()
        # Wait for the reader so the HTTP response is closed before we return.
        await asyncio.gather(reader, return_exceptions=True)
