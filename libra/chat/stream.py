"""One reply being generated: iterate for text, stop it, persist what was delivered."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from loguru import logger

from libra.chat.api import ReplyResult
from libra.errors import LibraError, LLMError, StreamCut
from libra.llm.api import LLMRequest, LLMService
from libra.storage.api import MessageStatus

T = TypeVar("T")
Finisher = Callable[["ChatReplyStream"], None]
"""Called once when the stream ends; it schedules persistence without blocking it."""


class ChatReplyStream:
    """Implements :class:`libra.chat.api.ReplyStream` over ``LLMService.stream``.

    The stream is consumed once. ``stop()`` ends it early: iteration finishes
    normally (no exception) with ``result.status == STOPPED`` and the text that
    was delivered so far, which is what gets stored.
    """

    def __init__(
        self,
        *,
        llm: LLMService,
        request: LLMRequest,
        language: str,
        model: str,
        notice: str | None,
        on_finish: Finisher,
    ) -> None:
        self.language = language
        self.model = model
        self.notice = notice
        self.result: ReplyResult | None = None
        self.request = request
        self._llm = llm
        self._on_finish = on_finish
        self.restarts = 0
        self._stop = asyncio.Event()
        self._started = time.perf_counter()
        self._first_token_ms: float | None = None
        self.text = ""
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self._delivered: asyncio.Future[str | None] | None = None
        """Set by :meth:`hold`: how much of the answer its reader delivered in the end."""

    @property
    def correlation_id(self) -> str | None:
        """The turn's correlation id."""
        return self.request.correlation_id

    def stop(self) -> None:
        """Ask the stream to end after the text delivered so far."""
        self._stop.set()

    @property
    def held(self) -> bool:
        """Whether the stored answer waits for :meth:`settle` (see :meth:`hold`)."""
        return self._delivered is not None

    def hold(self) -> None:
        """Keep the answer out of history until :meth:`settle` says how much was delivered.

        A spoken answer is written long before it is heard: the listener may cut it
        short (a barge-in) after the text is complete, and only what was heard may be
        remembered. Call before iterating.
        """
        if self._delivered is None:
            self._delivered = asyncio.get_running_loop().create_future()

    def settle(self, delivered: str | None = None) -> None:
        """The reader's last word on a held answer (idempotent; the first call counts).

        ``None``: the whole answer reached the user; otherwise only ``delivered`` did
        (the answer was interrupted): that text is stored, marked ``stopped``.
        """
        if self._delivered is not None and not self._delivered.done():
            self._delivered.set_result(delivered)

    async def settled(self, timeout: float) -> ReplyResult:
        """The result as delivered: waits for :meth:`settle` when held (at most ``timeout``).

        A reader that never settles (it crashed) leaves the answer stored as generated.
        """
        assert self.result is not None, "settled() is for finished streams"
        if self._delivered is None:
            return self.result
        try:
            delivered = await asyncio.wait_for(asyncio.shield(self._delivered), timeout)
        except TimeoutError:
            logger.warning("reply {} was never settled; stored as generated", self.correlation_id)
            return self.result
        if delivered is None:
            return self.result
        return dataclasses.replace(self.result, text=delivered, status=MessageStatus.STOPPED)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        status = MessageStatus.COMPLETE
        error: LibraError | None = None
        source = self._llm.stream(self.request)
        try:
            async for token in _until(source, self._stop):
                if token.retry:
                    self.text = ""
                    self.restarts += 1
                if token.prompt_tokens is not None:
                    self.prompt_tokens = token.prompt_tokens
                if token.completion_tokens is not None:
                    self.completion_tokens = token.completion_tokens
                if not token.text:
                    continue
                if self._first_token_ms is None:
                    self._first_token_ms = (time.perf_counter() - self._started) * 1000
                self.text += token.text
                yield token.text
            if self._stop.is_set():
                status = MessageStatus.STOPPED
        except StreamCut as err:
            status, error = MessageStatus.CUT, err
            raise
        except LLMError as err:
            status, error = MessageStatus.FAILED, err
            raise
        except (asyncio.CancelledError, GeneratorExit):
            # GeneratorExit: the reader closed the stream mid-answer (a transport that
            # gave up), so only part of the answer was delivered, as with a stop.
            status = MessageStatus.STOPPED
            raise
        finally:
            await _close(source)
            self.result = ReplyResult(
                text=self.text,
                status=status,
                error_code=error.code if error else None,
                first_token_ms=self._first_token_ms,
                total_ms=(time.perf_counter() - self._started) * 1000,
            )
            try:
                self._on_finish(self)
            except Exception as err:  # persistence must never break the reply itself
                logger.opt(exception=err).error("could not finish reply {}", self.correlation_id)


async def _close(source: AsyncIterator[T]) -> None:
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        await aclose()


async def _until(source: AsyncIterator[T], stop: asyncio.Event) -> AsyncIterator[T]:
    """Yield from ``source`` until ``stop`` is set, cancelling the pending read at once."""
    iterator = aiter(source)
    stopper = asyncio.ensure_future(stop.wait())
    nxt: asyncio.Future[T] | None = None
    try:
        while not stop.is_set():
            nxt = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({nxt, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if nxt not in done:
                return  # stopped: the pending read is cancelled below
            try:
                item = nxt.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        stopper.cancel()
        if nxt is not None and not nxt.done():
            # Also when our consumer is cancelled mid-read: the read must be over
            # before anyone closes ``source``, or aclose() finds it still running.
            nxt.cancel()
            await asyncio.gather(nxt, return_exceptions=True)
