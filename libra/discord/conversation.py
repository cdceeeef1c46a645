"""Answering one turn in Discord: typing, streaming edits, stop marker, failures.

Transport-neutral over an :class:`Outlet` (send a message, edit it, show typing), so
``/ask`` (editing the deferred interaction response) and chat triggers (replying to a
message) share every rule: the language-change notice first, the localized
"(stopped)" marker, 2,000-character continuations, and a short, specific message in
the channel's language for every failure. The restart, stop and failure rules
themselves are the transport-neutral ones of :mod:`libra.chat.answer`, which the
console shares.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

import hikari
from loguru import logger

from libra.bus import EventBus
from libra.chat.answer import answer_deltas, failure_message, stopped_marker
from libra.chat.api import ChatService, ChatTurn, ReplyStream
from libra.chat.messages import user_message
from libra.discord.pacing import EditPacer, RenderedReply, StreamRenderer
from libra.discord.render import DiscordRateLimitedError
from libra.errors import InputError, LibraError
from libra.events import DiscordRateLimited
from libra.language.api import LanguageService
from libra.llm.api import ChatMessage, LLMService

HandleT = TypeVar("HandleT")
T = TypeVar("T")
TYPING_REFRESH_SECONDS = 8.0
"""Discord shows typing for 10 s per trigger; refresh a little before it lapses."""
QUEUE_POLL_SECONDS = 1.0
"""How often a reply waiting for the model looks up its place in the queue."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outlet(Generic[HandleT]):
    """Where a reply goes: post a message, edit one, and optionally show typing."""

    send: Callable[[str], Awaitable[HandleT]]
    edit: Callable[[HandleT, str], Awaitable[None]]
    channel_id: int
    """Whose edit budget the reply spends."""
    typing: Callable[[], Awaitable[None]] | None = None
    send_is_edit: Callable[[], bool] | None = None
    """Whether the next ``send`` edits a message on the wire (spending the edit budget).

    ``/ask`` fills its deferred response with its first send: a ``PATCH`` of
    ``@original`` that Discord counts like any edit. ``None``: every send posts.
    """


class AnswerStatus(StrEnum):
    """How a turn ended in Discord: a reply's own ending, or why there was none."""

    COMPLETE = "complete"
    STOPPED = "stopped"
    CUT = "cut"
    FAILED = "failed"
    REFUSED = "refused"
    """The chat service turned the message away (bad input, a service down)."""
    DELETED = "deleted"
    """The reply was deleted, or the channel went out of reach, while being written."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """What a turn left in Discord."""

    status: AnswerStatus
    parts: tuple[str, ...] = ()
    error_code: str | None = None
    first_visible_ms: float | None = None
    rate_limited: int = 0


class Responder:
    """Streams :class:`ChatService` replies into Discord through an :class:`Outlet`."""

    def __init__(
        self, *, chat: ChatService, language: LanguageService, pacer: EditPacer,
        bus: EventBus, llm: LLMService | None = None,
    ) -> None:
        self._chat = chat
        self._llm = llm
        self._language = language
        self._pacer = pacer
        self._bus = bus

    async def channel_language(self, channel_id: int) -> str:
        """The reply language of the channel (for messages sent before any reply)."""
        try:
            return (await self._language.current(channel_id)).language
        except LibraError as err:
            logger.warning("language of channel {} unknown: {}", channel_id, err)
            return "en"

    async def say(self, outlet: Outlet[HandleT], text: str) -> HandleT:
        """Post one short message (errors, notices), waiting out a 429."""
        paced = outlet.send_is_edit is not None and outlet.send_is_edit()
        return await self._once(outlet, outlet.send, text, paced=paced)

    async def _once(self, outlet: Outlet[HandleT], call: Callable[..., Awaitable[T]],
                    *args: object, paced: bool) -> T:
        """One REST call for a finished text, within the edit budget when it is an edit.

        Such a message ends a reply, so it goes before live updates waiting in the channel.
        """
        while True:
            try:
                if not paced:
                    return await self._guarded(call, *args)
                async with self._pacer.edit(outlet.channel_id, urgent=True):
                    return await self._guarded(call, *args)
            except DiscordRateLimitedError as err:
                if paced:
                    self._pacer.penalize(outlet.channel_id, err.retry_after)
                else:
                    await asyncio.sleep(err.retry_after)

    async def answer(
        self, turn: ChatTurn, outlet: Outlet[HandleT], *,
        context: Callable[[], Awaitable[tuple[ChatMessage, ...]]] | None = None,
    ) -> Answer:
        """Answer ``turn``; every outcome, including failures, is visible to the user.

        ``context`` loads the turn's explicit context (a reply chain, several fetches)
        once typing already shows, so the user sees at once that an answer is coming.
        """
        started = time.monotonic()
        typing = self._start_typing(outlet, turn.correlation_id)
        try:
            if context is not None and (loaded := await context()):
                turn = dataclasses.replace(turn, context=loaded)
            try:
                stream = await self._chat.reply(turn)
            except LibraError as err:
                # Refused input (empty, too long) or a service that cannot answer now.
                language = await self.channel_language(turn.channel_id)
                log = logger.info if isinstance(err, InputError) else logger.warning
                log("reply refused: {} ({}) [{}]", err.code, err, turn.correlation_id)
                await self.say(outlet, failure_message(err, language, ref=turn.correlation_id))
                return Answer(status=AnswerStatus.REFUSED, error_code=err.code)
            try:
                rendered = await self._render(stream, outlet, typing, turn.correlation_id)
            except (hikari.NotFoundError, hikari.ForbiddenError) as err:
                # The reply (or its channel) was deleted while being written: a moderator
                # removed it, or the user dismissed a private answer. Nobody wants the
                # rest, so the render ended the generation; an error notice would be wrong.
                # A 403 is the same for the bot: it was removed from the server or lost
                # access to the channel, so no notice could be posted there either.
                logger.info("reply deleted or out of reach while being written: {} [{}]", err,
                            turn.correlation_id)
                return Answer(status=AnswerStatus.DELETED)
            return await self._conclude(turn, stream, rendered, outlet, started)
        finally:
            if typing is not None:
                typing.cancel()
                await asyncio.gather(typing, return_exceptions=True)

    async def _render(
        self, stream: ReplyStream, outlet: Outlet[HandleT], typing: asyncio.Task[None] | None,
        correlation_id: str,
    ) -> RenderedReply[HandleT]:
        async def send(content: str) -> HandleT:
            if typing is not None:
                typing.cancel()
            return await self._guarded(outlet.send, content)

        async def edit(handle: HandleT, content: str) -> None:
            await self._guarded(outlet.edit, handle, content)

        renderer: StreamRenderer[HandleT] = StreamRenderer(
            send=send, edit=edit, pacer=self._pacer, channel=outlet.channel_id,
            notice=stream.notice,
            stopped_marker=" *" + stopped_marker(stream.language) + "*",
            send_is_edit=outlet.send_is_edit,
        )

        watcher = asyncio.get_running_loop().create_task(
            self._show_queue_position(renderer, stream.language, correlation_id),
            name=f"discord:queue-position:{correlation_id}")
        try:
            return await renderer.run(answer_deltas(stream, renderer))
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def _show_queue_position(
        self, renderer: StreamRenderer[HandleT], language: str, correlation_id: str
    ) -> None:
        """While the reply waits for a model slot, show its place in line.

        Only a real place (1 = next) is shown, and only when it changes, so a reply
        that starts at once costs no message and no edit; the renderer paces the
        edits and drops the note when the first text arrives (then this is cancelled).
        """
        if self._llm is None:
            return
        shown: int | None = None
        while True:
            position = self._llm.queue_position(correlation_id)
            if position and position != shown:
                shown = position
                renderer.waiting(user_message("queue_position", language, position=position))
            await asyncio.sleep(QUEUE_POLL_SECONDS)

    async def _conclude(
        self, turn: ChatTurn, stream: ReplyStream, rendered: RenderedReply[HandleT],
        outlet: Outlet[HandleT], started: float,
    ) -> Answer:
        result = stream.result
        status = AnswerStatus(result.status) if result is not None else AnswerStatus.FAILED
        first_ms = (None if rendered.first_visible_at is None
                    else (rendered.first_visible_at - started) * 1000)
        error = rendered.error
        if error is not None:
            code = error.code if isinstance(error, LibraError) else "unexpected"
            logger.opt(exception=None if isinstance(error, LibraError) else error).warning(
                "reply failed: {} ({}) [{}]", code, error, turn.correlation_id)
            await self._outcome(outlet, rendered, failure_message(
                error, stream.language, ref=turn.correlation_id, model=stream.model))
            return Answer(status=status, parts=tuple(rendered.parts), error_code=code,
                          first_visible_ms=first_ms, rate_limited=rendered.rate_limited)
        if not rendered.parts:
            logger.warning("the model returned an empty answer [{}]", turn.correlation_id)
            await self._outcome(outlet, rendered, user_message("reply_empty", stream.language))
        return Answer(status=status, parts=tuple(rendered.parts), first_visible_ms=first_ms,
                      rate_limited=rendered.rate_limited)

    async def _outcome(
        self, outlet: Outlet[HandleT], rendered: RenderedReply[HandleT], text: str
    ) -> None:
        """Post ``text``, or turn the waiting note into it when nothing replaced the note."""
        if not rendered.waiting_note:
            await self.say(outlet, text)
            return
        await self._once(outlet, outlet.edit, rendered.handles[0], text, paced=True)

    async def _guarded(self, call: Callable[..., Awaitable[T]], *args: object) -> T:
        """Run a REST call; a 429 hikari will not wait out becomes ``DiscordRateLimitedError``."""
        try:
            return await call(*args)
        except hikari.RateLimitTooLongError as err:
            # The route template ("PATCH /channels/{channel}/..."), never the compiled
            # path: ids in a metrics label would make one series per channel and message.
            self._bus.publish(DiscordRateLimited(route=str(err.route.route),
                                                 retry_after=err.retry_after))
            raise DiscordRateLimitedError(err.retry_after) from err

    def _start_typing(
        self, outlet: Outlet[HandleT], correlation_id: str
    ) -> asyncio.Task[None] | None:
        if outlet.typing is None:
            return None
        trigger = outlet.typing

        async def keep_typing() -> None:
            while True:
                try:
                    await trigger()
                except hikari.HTTPError as err:  # typing is cosmetic: never fail a reply
                    logger.debug("typing indicator failed: {}", err)
                await asyncio.sleep(TYPING_REFRESH_SECONDS)

        return asyncio.get_running_loop().create_task(
            keep_typing(), name=f"discord:typing:{correlation_id}")
