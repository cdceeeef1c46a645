"""Streaming an answer into Discord messages within the per-channel edit budget.

Discord allows about 5 message edits per 5 s per channel, shared by every reply
streaming there. :class:`EditPacer` holds that budget per channel; each
:class:`StreamRenderer` shows the first text at once, then edits whenever the budget
allows, coalescing whatever arrived meanwhile, and always ends with the full text.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from libra.discord.render import (
    DISCORD_MESSAGE_LIMIT,
    FENCE,
    DiscordRateLimitedError,
    balanced_fences,
    split_message,
)

HandleT = TypeVar("HandleT")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_STOPPED_MARKER = " *(stopped)*"


class _Turnstile:
    """One channel's queue of edits waiting for budget: urgent ones first, then FIFO."""

    def __init__(self) -> None:
        self._busy = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def enter(self, *, urgent: bool) -> None:
        if not self._busy and not self._waiters:
            self._busy = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (0 if urgent else 1, next(self._order), turn)
        heapq.heappush(self._waiters, entry)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.leave()  # we were handed the turn as we were cancelled: pass it on
            else:
                self._waiters.remove(entry)
                heapq.heapify(self._waiters)
            raise

    @property
    def idle(self) -> bool:
        """Nobody holds or waits for this channel's turn."""
        return not self._busy and not self._waiters

    def leave(self) -> None:
        while self._waiters:
            _, _, turn = heapq.heappop(self._waiters)
            if not turn.done():
                turn.set_result(None)
                return
        self._busy = False


class _ChannelBudget:
    """One channel's recent edits, 429 block, last grant and queue of waiting edits."""

    __slots__ = ("blocked_until", "edits", "last_grant", "turnstile")

    def __init__(self) -> None:
        # One cell per recent edit, holding when it was granted and then when it
        # finished (math.inf while in flight).
        self.edits: list[list[float]] = []
        self.blocked_until = 0.0
        self.last_grant = -math.inf
        self.turnstile = _Turnstile()

    def forget_old(self, now: float, window: float) -> None:
        self.edits[:] = [cell for cell in self.edits if now - cell[0] < window]

    def is_idle(self, now: float, window: float, spacing: float) -> bool:
        """True when a fresh budget would decide every edit exactly as this one does."""
        self.forget_old(now, window)
        return (not self.edits and self.blocked_until <= now
                and self.last_grant + spacing <= now and self.turnstile.idle)


class EditPacer:
    """A sliding-window edit budget per channel, shared by all replies in that channel.

    At most ``limit`` edits in any ``window`` seconds per channel, spread out: two
    edits in a channel are at least ``window / limit`` apart (unless ``smooth=False``),
    so a reply keeps updating steadily instead of spending the budget in a burst and
    freezing for the rest of the window. Waiters are served in arrival order, except
    that urgent edits (a reply's final text) go before the others.

    An edit counts from when it was granted until ``window`` after it *finished*:
    Discord counts it when the request arrives, somewhere between the two, so a slow
    request can never make the next one look early. A 429 reported through
    :meth:`penalize` blocks the channel for its ``retry_after``.

    Channels idle for a whole window are forgotten (their budget is full again, so a
    fresh one is identical): a sweep on access at most once per window keeps only the
    channels active in about the last two windows.
    """

    def __init__(
        self,
        *,
        limit: int = 5,
        window: float = 5.0,
        smooth: bool = True,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            msg = f"edit budget must allow at least one edit per window (got {limit}/{window}s)"
            raise ValueError(msg)
        self.limit = limit
        self.window = window
        self.spacing = window / limit if smooth else 0.0
        self._clock = clock
        self._sleep = sleep
        self._channels: dict[Hashable, _ChannelBudget] = {}
        self._swept_at = clock()

    def __len__(self) -> int:
        """Channels whose budget is currently remembered."""
        return len(self._channels)

    def delay(self, channel: Hashable) -> float:
        """Seconds until an edit in ``channel`` would be allowed (0 if now)."""
        now = self._clock()
        self._maybe_sweep(now)
        budget = self._channels.get(channel)
        if budget is None:
            return 0.0
        budget.forget_old(now, self.window)
        edits = budget.edits
        wait = max(0.0, budget.blocked_until - now, budget.last_grant + self.spacing - now)
        if len(edits) >= self.limit:
            until_free = min(cell[0] for cell in edits) + self.window - now
            # All in flight (inf): look again shortly rather than never.
            wait = max(wait, until_free if math.isfinite(until_free) else self.window / 10)
        return wait

    @contextlib.asynccontextmanager
    async def edit(self, channel: Hashable, *, urgent: bool = False) -> AsyncIterator[None]:
        """Wait for one edit of ``channel``'s budget; it is spent when the block exits."""
        budget = self._budget(channel)
        turnstile = budget.turnstile
        await turnstile.enter(urgent=urgent)
        try:
            while (wait := self.delay(channel)) > 0:
                await self._sleep(wait)
            cell = [math.inf]
            budget.edits.append(cell)
            budget.last_grant = self._clock()
        finally:
            turnstile.leave()
        try:
            yield
        finally:
            cell[0] = self._clock()

    async def acquire(self, channel: Hashable, *, urgent: bool = False) -> None:
        """Spend one edit of ``channel``'s budget now (for edits that finish at once)."""
        async with self.edit(channel, urgent=urgent):
            pass

    def penalize(self, channel: Hashable, retry_after: float) -> None:
        """Discord said 429: nobody edits in ``channel`` for ``retry_after`` seconds."""
        budget = self._budget(channel)
        budget.blocked_until = max(budget.blocked_until, self._clock() + retry_after)

    def _budget(self, channel: Hashable) -> _ChannelBudget:
        self._maybe_sweep(self._clock())
        budget = self._channels.get(channel)
        if budget is None:
            budget = self._channels[channel] = _ChannelBudget()
        return budget

    def _maybe_sweep(self, now: float) -> None:
        # Busy, blocked or recently edited channels are never idle, and a budget held
        # by a waiting edit has a busy turnstile, so no one ever holds a dropped budget.
        if now - self._swept_at < self.window:
            return
        self._swept_at = now
        self._channels = {
            channel: budget for channel, budget in self._channels.items()
            if not budget.is_idle(now, self.window, self.spacing)
        }


@dataclass
class RenderedReply(Generic[HandleT]):
    """What a finished render left in Discord."""

    handles: list[HandleT] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    """The final content of each message, in order."""
    stopped: bool = False
    sends: int = 0
    edits: int = 0
    rate_limited: int = 0
    """429s the transport reported (each was waited out and retried)."""
    first_visible_at: float | None = None
    """Clock time when the first text became visible (after ``send`` returned)."""
    error: BaseException | None = None
    """What the delta stream raised, if it failed; the text before it is still shown."""
    waiting_note: bool = False
    """The first message still shows the waiting note (no answer text ever came)."""


def _posts_new_message() -> bool:
    """Sends post new messages (free of the edit budget) unless a transport says otherwise."""
    return False


class StreamRenderer(Generic[HandleT]):
    """Streams text deltas into one or more Discord messages through two callbacks.

    ``send(content)`` posts a new message and returns a handle; ``edit(handle,
    content)`` replaces its content. Either may raise :class:`DiscordRateLimitedError`,
    which is waited out and retried with the latest text.

    A send is free of the edit budget unless ``send_is_edit()`` says the next one is
    an edit on the wire: the first part of an ``/ask`` answer fills the deferred
    response (``PATCH .../messages/@original``), which Discord counts like any edit.
    """

    def __init__(
        self,
        *,
        send: Callable[[str], Awaitable[HandleT]],
        edit: Callable[[HandleT, str], Awaitable[None]],
        pacer: EditPacer,
        channel: Hashable,
        notice: str | None = None,
        stopped_marker: str = DEFAULT_STOPPED_MARKER,
        limit: int = DISCORD_MESSAGE_LIMIT,
        clock: Clock = time.monotonic,
        send_is_edit: Callable[[], bool] | None = None,
    ) -> None:
        self._send = send
        self._send_is_edit = send_is_edit or _posts_new_message
        self._edit = edit
        self._pacer = pacer
        self._channel = channel
        self._notice = notice
        self._stopped_marker = stopped_marker
        self._limit = limit
        self._clock = clock
        self._text: list[str] = []
        self._shown: list[str] = []
        self._input_done = False
        self._stop_requested = False
        self._waiting: str | None = None
        self._wake = asyncio.Event()
        self.reply: RenderedReply[HandleT] = RenderedReply()

    def restart(self) -> None:
        """The answer starts over (its LLM server failed over): drop the text so far.

        The shown messages are edited down to the new text as it arrives. If the void
        answer had already spilled into a second message, that message keeps its old
        text; a failover that late is rare and the first message is what users read.
        """
        self._text.clear()
        self._wake.set()

    def waiting(self, note: str) -> None:
        """Show ``note`` (e.g. the place in the model's queue) until the answer starts.

        Sent at once when nothing is shown yet; later notes are paced edits like any
        other. The first text of the answer replaces it; notes after that are ignored.
        """
        if self._text or self._input_done or self._stop_requested:
            return
        self._waiting = note
        self._wake.set()

    def stop(self) -> None:
        """Stop reading deltas: the message ends with what arrived plus the stopped marker."""
        self._stop_requested = True
        self._wake.set()

    def desired_parts(self) -> list[str]:
        """The messages as they should look now."""
        text = "".join(self._text)
        if self._waiting is not None and not text and not self._stop_requested:
            return [self._waiting]
        if self._stop_requested:
            text = text.rstrip()
            if balanced_fences(text):
                text += self._stopped_marker
            else:
                # Stopped inside a code block: close it, or the marker reads as code.
                text += f"\n{FENCE}\n{self._stopped_marker.lstrip()}"
        if self._notice and text.strip():
            text = f"{self._notice}\n{text}"
        return split_message(text, self._limit)

    async def run(self, deltas: AsyncIterator[str]) -> RenderedReply[HandleT]:
        """Render the whole stream; returns once every message shows its final text."""
        consumer = asyncio.create_task(self._consume(deltas), name=f"render-input-{id(self)}")
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                finished = self._input_done or self._stop_requested
                await self._sync()
                if finished and self._next_change(self.desired_parts()) is None:
                    break
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
        if not consumer.cancelled() and (error := consumer.exception()) is not None:
            self.reply.error = error
        self.reply.parts = list(self._shown)
        self.reply.stopped = self._stop_requested
        if self._waiting is not None and self._shown == [self._waiting]:
            # Nothing replaced the note: the caller turns it into the outcome message.
            self.reply.waiting_note = True
            self.reply.parts = []
        return self.reply

    async def _consume(self, deltas: AsyncIterator[str]) -> None:
        try:
            async for delta in deltas:
                if self._stop_requested:
                    break
                if delta:
                    self._text.append(delta)
                    self._waiting = None
                    self._wake.set()
        finally:
            self._input_done = True
            self._wake.set()

    async def _sync(self) -> None:
        """Bring Discord up to date: new parts are sent at once, changed ones edited."""
        while True:
            desired = self.desired_parts()
            index = self._next_change(desired)
            if index is None:
                return
            # Finishing a reply (or a part it has moved past) goes before live updates.
            urgent = self._input_done or self._stop_requested or index < len(desired) - 1
            if index >= len(self._shown):
                await self._with_retry(functools.partial(self._send_part, index),
                                       paced=self._send_is_edit(), urgent=urgent)
            else:
                await self._with_retry(
                    functools.partial(self._edit_part, index), paced=True, urgent=urgent
                )

    def _next_change(self, desired: list[str]) -> int | None:
        """The part to update next, or None when Discord shows ``desired``.

        A new part comes first (a send usually needs no edit budget), then the oldest
        stale one. Parts beyond ``desired`` (never expected: text only grows) are left as they are.
        """
        if len(desired) > len(self._shown):
            return len(self._shown)
        return next((i for i, part in enumerate(desired) if self._shown[i] != part), None)

    async def _send_part(self, index: int) -> None:
        content = self.desired_parts()[index]
        handle = await self._send(content)
        self.reply.handles.append(handle)
        self._shown.append(content)
        self.reply.sends += 1
        if self.reply.first_visible_at is None and content != self._waiting:
            self.reply.first_visible_at = self._clock()

    async def _edit_part(self, index: int) -> None:
        # Read the text only now: whatever arrived while waiting for budget goes in too.
        desired = self.desired_parts()
        if index >= len(desired) or desired[index] == self._shown[index]:
            return
        content = desired[index]
        await self._edit(self.reply.handles[index], content)
        self._shown[index] = content
        self.reply.edits += 1
        if self.reply.first_visible_at is None and content != self._waiting:
            self.reply.first_visible_at = self._clock()

    async def _with_retry(
        self, action: Callable[[], Awaitable[None]], *, paced: bool, urgent: bool = False
    ) -> None:
        while True:
            try:
                if paced:
                    async with self._pacer.edit(self._channel, urgent=urgent):
                        await action()
                else:
                    await action()
            except DiscordRateLimitedError as err:
                self.reply.rate_limited += 1
                self._pacer.penalize(self._channel, err.retry_after)
                if not paced:
                    await asyncio.sleep(err.retry_after)
            else:
                return
