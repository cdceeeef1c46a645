"""The chat service: validate, detect language, build the prompt, stream, persist."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from libra.bus import EventBus
from libra.chat.api import ChatTurn, ConversationStore, ReplyResult
from libra.chat.context import build_prompt, estimate_tokens
from libra.chat.privacy import export_document
from libra.chat.recall import Recall
from libra.chat.stream import ChatReplyStream
from libra.config import ChatSettings
from libra.errors import (
    DatabaseUnavailable,
    EmptyInput,
    InputTooLong,
    MemoryIdInvalid,
    ServiceUnavailable,
    StorageError,
)
from libra.events import MessageReceived, ReplyFinished, ReplyStarted
from libra.language.api import LanguageService
from libra.llm.api import ChatMessage, LLMRequest, LLMService
from libra.storage.api import (
    MAX_INTERNAL_ID,
    Memory,
    MessageRecord,
    MessageStatus,
    Place,
    Role,
)
from libra.text import clean_text

SYSTEM_PROMPT_RESERVE = 256
"""Tokens kept for the system prompt when checking that a message fits the model."""
HELD_REPLY_TIMEOUT_S = 600.0
"""How long a held (spoken) answer waits for its reader to say how much was heard;
longer than any answer takes to say (``llm.num_predict`` tokens read aloud)."""


class ChatServiceImpl:
    """Implements :class:`libra.chat.api.ChatService`.

    Storage is optional: without a database Libra still answers (no history, no
    memories) and memory commands report the feature as unavailable.
    """

    def __init__(
        self,
        *,
        settings: ChatSettings,
        bus: EventBus,
        language: LanguageService,
        llm: LLMService,
        storage: ConversationStore | None,
        prompt_window: int | None = None,
    ) -> None:
        """``prompt_window``: tokens the model reads (``num_ctx - num_predict``), if known."""
        self._settings = settings
        self._prompt_window = prompt_window
        self._bus = bus
        self._language = language
        self._llm = llm
        self._storage = storage
        # channel -> running replies and the turns they answer (the owner of a private one)
        self._active: defaultdict[int, dict[ChatReplyStream, ChatTurn]] = defaultdict(dict)
        self._recall = (Recall(storage, max_turns=settings.max_history_turns)
                        if storage is not None else None)
        self._pending_writes: set[asyncio.Task[Any]] = set()

    # -- replies ---------------------------------------------------------------------

    def validate(self, text: str) -> str:
        """Return the cleaned, stripped text or raise the input error a user should see."""
        stripped = clean_text(text).strip()  # every user text enters the core here
        if not stripped:
            raise EmptyInput("empty message")
        if len(stripped) > self._settings.max_input_chars:
            raise InputTooLong(length=len(stripped), limit=self._settings.max_input_chars)
        if self._prompt_window is not None:
            # A message the model cannot read whole is cut silently by Ollama (the
            # system prompt with it): 4,000 Korean characters fill a 4,096 context.
            fits = self._prompt_window - SYSTEM_PROMPT_RESERVE
            tokens = estimate_tokens(stripped)
            if tokens > fits:
                # Said in characters like the other limit, at this text's own density.
                raise InputTooLong(length=len(stripped),
                                   limit=max(1, len(stripped) * fits // tokens))
        return stripped

    async def reply(self, turn: ChatTurn) -> ChatReplyStream:
        """Start answering ``turn``; iterate the returned stream for the text."""
        text = self.validate(turn.text)
        cid = turn.correlation_id
        t0 = time.perf_counter()
        self._bus.publish(MessageReceived(correlation_id=cid, user_id=turn.user_id,
                                          channel_id=turn.channel_id, guild_id=turn.guild_id,
                                          text=text, source=turn.source))
        reply_language = await self._language.observe(turn.channel_id, text,
                                                      user_id=turn.user_id, correlation_id=cid,
                                                      private=turn.private)
        language = reply_language.language
        model = self._language.model_for(language)
        t_language = time.perf_counter()
        user_id, session_id, memories, history, user_write = await self._context(
            turn, text, language)
        messages = build_prompt(
            system_prompt=self._language.system_prompt(language),
            memories=memories,
            history=list(turn.context) if turn.context is not None else history,
            user_text=text,
            budget=self._settings.history_token_budget,
        )
        t_context = time.perf_counter()
        # Options come from [llm] inside the LLM service; a turn has no overrides.
        request = LLMRequest(model=model, messages=messages, language=language,
                             correlation_id=cid, guild_id=turn.guild_id, user_id=turn.user_id)
        stages = {"language": (t_language - t0) * 1000, "context": (t_context - t_language) * 1000}

        def recall(result: ReplyResult) -> None:
            if (self._recall is not None and session_id is not None
                    and result.text and result.status is not MessageStatus.FAILED):
                self._recall.add_turn(session_id,
                                      ChatMessage(role="assistant", content=result.text))

        async def persist(stream: ChatReplyStream, ended_at: datetime) -> None:
            # A held (spoken) answer is remembered as it was heard, once its reader says.
            result = await stream.settled(HELD_REPLY_TIMEOUT_S)
            if stream.held:
                recall(result)
            if user_write is not None:
                # The user's message must be stored before the answer to it.
                await asyncio.gather(user_write, return_exceptions=True)
            await self._finish(turn, stream, result, user_id=user_id, session_id=session_id,
                               stages=stages, ended_at=ended_at)

        def finish(stream: ChatReplyStream) -> None:
            # Runs as the stream ends; the writes happen after, so the transport's
            # final edit never waits for the database.
            active = self._active.get(turn.channel_id)
            if active is not None:
                active.pop(stream, None)
                if not active:  # one entry per channel ever seen would only grow
                    del self._active[turn.channel_id]
            if not stream.held and stream.result is not None:
                recall(stream.result)  # at once: the next turn may start right away
            self._track(asyncio.get_running_loop().create_task(
                persist(stream, datetime.now(UTC)), name=f"chat:store-reply:{cid}"))

        stream = ChatReplyStream(
            llm=self._llm, request=request, language=language, model=model,
            notice=self._language.change_notice(language) if reply_language.changed else None,
            on_finish=finish,
        )
        self._active[turn.channel_id][stream] = turn
        self._bus.publish(ReplyStarted(correlation_id=cid, channel_id=turn.channel_id,
                                       language=language, model=model))
        return stream

    async def _context(
        self, turn: ChatTurn, text: str, language: str
    ) -> tuple[int | None, int | None, list[Memory], list[ChatMessage], asyncio.Task[None] | None]:
        """Load memories and history and start storing the user's message.

        The message is written in the background while the model starts, so the
        database adds no latency before the first token; ``finish`` waits for it.
        """
        storage, recall = self._storage, self._recall
        if storage is None or recall is None:
            return None, None, [], [], None
        user_id: int | None = None
        session_id: int | None = None
        memories: list[Memory] = []
        past: list[ChatMessage] = []
        try:
            user_id = await recall.user_id(turn.user_id)
            session_id = await recall.session_id(user_id, turn.channel_id, turn.guild_id)
            wants_history = turn.context is None and self._settings.max_history_turns > 0
            # Sequential on purpose: both are usually cache hits that never suspend,
            # and gather() would cost two extra loop iterations.
            memories = [memory for memory in await recall.memories(user_id)
                        if turn.place.sees(memory)]
            past = await recall.history(session_id) if wants_history else []
        except StorageError as err:
            memories, past = [], []
            if isinstance(err, DatabaseUnavailable):
                # The cached state is still right; storage logs the outage once.
                logger.debug("answering without history: {} [{}]", err, turn.correlation_id)
            else:
                recall.clear()
                logger.warning("answering without history, storage failed: {} [{}]", err,
                               turn.correlation_id)
        if turn.private:
            # A private turn (an ephemeral /ask) may read the session but is never
            # written to it: history has no notion of who saw a message, so anything
            # stored there could be repeated by the next public reply in the channel.
            return user_id, None, memories, past, None
        # Stored (or queued while the database is out) even when the ids are unknown.
        write = asyncio.get_running_loop().create_task(
            storage.record_message(MessageRecord(
                discord_user_id=turn.user_id, channel_id=turn.channel_id,
                guild_id=turn.guild_id, role=Role.USER, content=text, language=language,
                created_at=datetime.now(UTC), user_id=user_id, session_id=session_id,
                source=str(turn.source))),
            name=f"chat:store-user-message:{turn.correlation_id}")
        self._track(write)
        if session_id is not None:
            recall.add_turn(session_id, ChatMessage(role="user", content=text))
        return user_id, session_id, memories, past, write

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._pending_writes.add(task)
        task.add_done_callback(self._write_done)

    def _write_done(self, task: asyncio.Task[Any]) -> None:
        self._pending_writes.discard(task)
        if not task.cancelled() and (err := task.exception()) is not None:
            if self._recall is not None:
                self._recall.clear()
            logger.warning("message not saved: {}", err)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every message of finished replies is stored (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            while self._pending_writes:
                await asyncio.gather(*list(self._pending_writes), return_exceptions=True)

    async def _finish(self, turn: ChatTurn, stream: ChatReplyStream, result: ReplyResult, *,
                      user_id: int | None, session_id: int | None, stages: dict[str, float],
                      ended_at: datetime) -> None:
        if result.first_token_ms is not None:
            stages["first_token"] = result.first_token_ms
        stages["generate"] = result.total_ms
        self._bus.publish(ReplyFinished(
            correlation_id=turn.correlation_id, channel_id=turn.channel_id, text=result.text,
            language=stream.language, model=stream.model,
            stopped=result.status is MessageStatus.STOPPED, error_code=result.error_code,
            first_token_ms=result.first_token_ms, total_ms=result.total_ms, stages=stages,
            guild_id=turn.guild_id))
        if self._storage is None or turn.private:
            return
        if result.status is MessageStatus.FAILED and not result.text:
            return  # nothing was delivered, so there is nothing to remember
        try:
            await self._storage.record_message(MessageRecord(
                discord_user_id=turn.user_id, channel_id=turn.channel_id,
                guild_id=turn.guild_id, role=Role.ASSISTANT, content=result.text,
                language=stream.language, model=stream.model,
                prompt_tokens=stream.prompt_tokens, completion_tokens=stream.completion_tokens,
                latency_ms=result.total_ms, status=result.status,
                created_at=ended_at, user_id=user_id, session_id=session_id,
                source=str(turn.source)))
        except StorageError as err:
            if self._recall is not None:
                self._recall.clear()
            logger.warning("reply not saved: {} [{}]", err, turn.correlation_id)

    async def stop(self, channel_id: int, *, user_id: int | None = None) -> bool:
        """Stop the replies streaming in the channel that ``user_id`` may stop.

        Everyone in a channel sees a public reply, so anyone there may stop it; a
        private one (an ephemeral ``/ask``) is invisible to others, so only its author
        can. ``user_id=None`` (the console, shutdown) stops everything.
        """
        streams = [stream for stream, turn in self._active.get(channel_id, {}).items()
                   if user_id is None or not turn.private or turn.user_id == user_id]
        for stream in streams:
            stream.stop()
        return bool(streams)

    # -- sessions and memory ---------------------------------------------------------

    def _need(self) -> tuple[ConversationStore, Recall]:
        if self._storage is None or self._recall is None:
            raise ServiceUnavailable("memory needs the database, which is not available")
        return self._storage, self._recall

    async def reset(self, user_id: int, channel_id: int) -> bool:
        """End the user's session in the channel; the next message starts fresh."""
        storage, recall = self._need()
        internal = await recall.user_id(user_id)
        recall.end_session(internal, channel_id)
        ended = await storage.end_session(internal, channel_id)
        # A turn that ran while the update was in flight may have cached the old
        # session again; forget it once more so the next message starts fresh.
        recall.end_session(internal, channel_id)
        return ended

    async def remember(self, user_id: int, text: str, *, place: Place) -> Memory:
        """Store a memory (validated like a message) used in ``place`` only."""
        storage, recall = self._need()
        internal = await recall.user_id(user_id)
        recall.memories_changed(internal)
        return await storage.add_memory(internal, self.validate(text), place=place)

    async def forget(self, user_id: int, memory_id: int | None = None) -> int:
        """Forget one memory, or all of them."""
        if memory_id is not None and not 1 <= memory_id <= MAX_INTERNAL_ID:
            raise MemoryIdInvalid(memory_id)  # before the driver refuses it in its own words
        storage, recall = self._need()
        internal = await recall.user_id(user_id)
        recall.memories_changed(internal)
        return await storage.forget_memories(internal, memory_id)

    async def memories(self, user_id: int) -> list[Memory]:
        """The user's memories, oldest first."""
        _, recall = self._need()
        return list(await recall.memories(await recall.user_id(user_id)))

    # -- personal data (/privacy) ----------------------------------------------------

    async def export_data(self, user_id: int) -> dict[str, Any]:
        """Everything stored about the user, as a JSON-ready document."""
        storage, _ = self._need()
        return export_document(user_id, await storage.export_user(user_id))

    async def erase(self, user_id: int) -> bool:
        """Delete every row of the user, then everything cached that could hold theirs."""
        storage, recall = self._need()
        await self._language.forget_user(user_id)
        recall.clear()
        erased = await storage.delete_user(user_id)
        # All users' entries, not only theirs: exact, and erasing is rare. Cleared again
        # because turns that ran during the delete may have cached the old rows.
        recall.clear()
        return erased

