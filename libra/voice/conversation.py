"""A spoken conversation on a voice link: every speaker heard, one answer at a time.

A listener task per speaker (:class:`~libra.voice.listener.SpeakerListener` over
``VoiceLink.audio``) puts each transcribed turn on a short queue; one answering task
takes them in order, answers through the pipeline and plays the answer on the link.
A failure is reported through ``on_error`` (the Discord side says it in the channel)
and never stops the other speakers. A speaker whose turn failed is listened to again
by the same task after a short back-off: the link announces a speaker only when their
stream opens, and their stream stays open (claimed) while they are in the channel, so
nobody else would ever read it again. The same failure repeated is reported once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from loguru import logger

from libra.errors import LibraError, SpeechEngineFailed
from libra.voice.api import VoiceLink
from libra.voice.audio import stereo48k_to_mono16k
from libra.voice.listener import SpeakerListener
from libra.voice.utterance import Utterance

if TYPE_CHECKING:
    from libra.voice.pipeline import VoicePipeline, VoiceReply

RETRY_S = 0.5
"""Back-off before listening again to a speaker whose listener failed (doubles)."""
MAX_RETRY_S = 30.0


ErrorHandler = Callable[[int, LibraError], Awaitable[None]]
"""Told which speaker's turn failed and why."""
ReplyHandler = Callable[["VoiceReply"], Awaitable[None]]
"""Told of each answer as it starts (mirroring, status pages)."""
ListenLanguage = Callable[[int, int], Awaitable[str | None]]
"""The language to hear a speaker in: (channel id, user id) → the channel's reply
language (``None``: detect)."""


class Conversation:
    """See the module docstring."""

    def __init__(self, pipeline: VoicePipeline, link: VoiceLink, *,
                 channel_id: int | None = None, voice: str | None = None,
                 queue_size: int = 3, on_error: ErrorHandler | None = None,
                 on_reply: ReplyHandler | None = None,
                 listen_language: ListenLanguage | None = None) -> None:
        """``channel_id`` is where the turns are stored (default the voice channel).

        ``listen_language`` names the language each speaker's next turn is heard in
        (the channel's reply language); without it the recogniser detects the language,
        which needs a multilingual model when several languages are configured.
        """
        self._pipeline = pipeline
        self._link = link
        self._channel_id = channel_id if channel_id is not None else link.channel_id
        self._voice = voice
        self._queue: asyncio.Queue[tuple[int, Utterance]] = asyncio.Queue(maxsize=queue_size)
        self._on_error = on_error
        self._on_reply = on_reply
        self._listen_language = listen_language
        self.current: VoiceReply | None = None
        """The answer being spoken, if any."""

    async def run(self) -> None:
        """Listen and answer until the link closes."""
        name = f"voice:{self._link.guild_id}"
        answering = asyncio.create_task(self._answer_loop(), name=f"{name}:answer")
        listeners: dict[int, asyncio.Task[None]] = {}
        try:
            async for user_id in self._link.speakers():
                running = listeners.get(user_id)
                if running is None or running.done():
                    listeners[user_id] = asyncio.create_task(
                        self._listen(user_id), name=f"{name}:listen-{user_id}")
        finally:
            for task in (*listeners.values(), answering):
                task.cancel()
            await asyncio.gather(*listeners.values(), answering, return_exceptions=True)

    async def _listen(self, user_id: int) -> None:
        """Listen to ``user_id`` until their audio ends, again after each failure."""
        delay, last = RETRY_S, ""
        while True:
            failure, heard = await self._listen_once(user_id)
            if failure is None:
                return  # their stream ended: they left, or the link closed
            said = f"{failure.code}:{failure}"
            if heard or said != last:
                await self._report(user_id, failure)
            if heard:
                delay = RETRY_S
            last = said
            logger.info("voice: listening to {} again in {:.1f} s", user_id, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_S)

    async def _listen_once(self, user_id: int) -> tuple[LibraError | None, bool]:
        """Queue ``user_id``'s turns until their audio ends or a turn fails.

        Returns the failure (``None``: the audio ended) and whether any turn was heard.
        """
        source = None
        if self._listen_language is not None:
            language_of = self._listen_language

            async def source() -> str | None:
                return await language_of(self._channel_id, user_id)

        listener = SpeakerListener(self._pipeline.engines, self._pipeline.settings,
                                   name=f"voice:{self._link.guild_id}:{user_id}",
                                   language_source=source, guess=self._pipeline.guess,
                                   load=self._pipeline.load)
        heard = False
        try:
            async for utterance in listener.utterances(self._pcm(user_id)):
                heard = True
                if self._queue.full():  # a short queue: the oldest question goes
                    dropped = self._queue.get_nowait()
                    logger.warning("voice: dropped a queued turn of {}", dropped[0])
                self._queue.put_nowait((user_id, utterance))
        except LibraError as err:
            return err, heard
        except Exception as err:  # one speaker's failure must not end the conversation
            logger.opt(exception=err).error("voice: listening to {} failed", user_id)
            return SpeechEngineFailed(f"listening failed: {err}"), heard
        return None, heard

    async def _pcm(self, user_id: int) -> AsyncIterator[bytes]:
        async for chunk in self._link.audio(user_id):
            yield stereo48k_to_mono16k(chunk.pcm)

    async def _answer_loop(self) -> None:
        while True:
            user_id, utterance = await self._queue.get()
            try:
                await self._answer(user_id, utterance)
            except LibraError as err:
                await self._report(user_id, err)
            except Exception as err:  # the next question still gets its answer
                logger.opt(exception=err).error("voice: answering {} failed", user_id)
                await self._report(user_id, SpeechEngineFailed(f"answering failed: {err}"))

    async def _answer(self, user_id: int, utterance: Utterance) -> None:
        reply = await self._pipeline.answer(utterance, user_id=user_id,
                                            channel_id=self._channel_id,
                                            guild_id=self._link.guild_id, voice=self._voice)
        self.current = reply
        written = False
        try:
            if self._on_reply is not None:
                await self._on_reply(reply)
            playback = await self._link.play(reply.audio())
            writing = asyncio.create_task(reply.wait(), name="voice:answer-wait")
            played = asyncio.create_task(playback.wait(), name="voice:playback-wait")
            try:
                await asyncio.wait({writing, played}, return_when=asyncio.FIRST_COMPLETED)
                if not writing.done():
                    # Playback ended first (stopped): speech is made only a little ahead
                    # of playback, so the answer would wait for a reader forever.
                    await reply.cancel()
                await asyncio.wait({writing})
                written = True
                await played
            finally:
                for task in (writing, played):
                    task.cancel()
                await asyncio.gather(writing, played, return_exceptions=True)
            writing.result()  # the answer's own failure (LLM, speech engine)
        except BaseException:
            # Nobody will hear the rest (playback refused, the reporter failed, or this
            # task was cancelled): stop the LLM and the synthesiser working for nobody.
            if not written:
                await reply.cancel()
            raise
        finally:
            self.current = None
            reply.publish_latency()

    async def _report(self, user_id: int, err: LibraError) -> None:
        logger.warning("voice: {} ({})", err, err.code)
        if self._on_error is not None:
            try:
                await self._on_error(user_id, err)
            except Exception as failure:  # the reporter's failure is not the speaker's
                logger.opt(exception=failure).error("voice: on_error failed")
