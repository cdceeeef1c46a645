"""Coalescing: first text at once, then by size or age; retries, failures, closing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from libra.errors import StreamCut
from libra.llm.api import Token
from libra.llm.streaming import coalesce


async def source(
    pieces: list[str | float | Token | Exception], closed: list[bool] | None = None
) -> AsyncIterator[Token]:
    """Yield text tokens; a float sleeps that long; an exception is raised."""
    try:
        for piece in pieces:
            if isinstance(piece, float):
                await asyncio.sleep(piece)
            elif isinstance(piece, Exception):
                raise piece
            elif isinstance(piece, Token):
                yield piece
            else:
                yield Token(text=piece)
        yield Token(text="", done=True, prompt_tokens=3, completion_tokens=len(pieces))
    finally:
        if closed is not None:
            closed.append(True)


async def collect(stream: AsyncIterator[Token]) -> list[Token]:
    return [t async for t in stream]


async def test_first_piece_at_once_then_grouped_by_size() -> None:
    tokens = await collect(coalesce(source(["He", "llo", " wor", "ld", " again", "!"]),
                                    chars=6, ms=10_000))
    texts = [t.text for t in tokens if t.text]
    assert texts[0] == "He"  # the first piece is what the user waits for
    assert all(len(t) >= 6 for t in texts[1:-1])
    assert "".join(texts) == "Hello world again!"
    assert tokens[-1].done and tokens[-1].prompt_tokens == 3


async def test_timer_flushes_while_the_model_is_silent() -> None:
    stamps: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    async for token in coalesce(source(["a", "b", 0.4, "c"]), chars=100, ms=50):
        stamps.append((token.text, time.perf_counter() - t0))
    assert stamps[0][0] == "a"
    b_time = next(t for text, t in stamps if text == "b")
    # "b" waits for the 50 ms window, not for the 400 ms pause of the model.
    assert b_time < 0.3
    assert "".join(text for text, _ in stamps) == "abc"


async def test_zero_window_passes_every_token_through() -> None:
    texts = [t.text for t in await collect(coalesce(source(["a", "b", "c"]), chars=100, ms=0))]
    assert texts == ["a", "b", "c", ""]


async def test_retry_drops_unsent_text_and_passes_through() -> None:
    pieces: list[str | float | Token | Exception] = [
        "old ", "text", Token(text="", retry=True), "new ", "answer"]
    tokens = await collect(coalesce(source(pieces), chars=100, ms=10_000))
    after = tokens[[t.retry for t in tokens].index(True) + 1:]
    assert "".join(t.text for t in after) == "new answer"
    assert "text" not in "".join(t.text for t in after)


async def test_failure_comes_after_the_text_received_before_it() -> None:
    received: list[str] = []
    with pytest.raises(StreamCut) as info:
        async for token in coalesce(source(["par", "tial", StreamCut("cut", partial="partial")]),
                                    chars=100, ms=10_000):
            received.append(token.text)
    assert "".join(received) == "partial"
    assert info.value.partial == "partial"


async def test_closing_the_stream_closes_the_source() -> None:
    closed: list[bool] = []
    stream = coalesce(source(["a", 5.0, "never"], closed), chars=1, ms=0)
    assert (await anext(stream)).text == "a"
    await stream.aclose()  # type: ignore[attr-defined]
    assert closed == [True]


async def test_cancelling_the_consumer_closes_the_source() -> None:
    closed: list[bool] = []

    async def consume() -> None:
        async for _ in coalesce(source(["a", 5.0, "never"], closed), chars=1, ms=0):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed == [True]
