"""A spoken conversation on a voice link: every speaker heard, one answer at a time.

A listener task per speaker (:class:`~libra.voice.listener.SpeakerListener` over
``VoiceLink.audio``) puts each transcribed turn on a short queue; one answering task
takes them in order, answers through the pipeline and plays the answer on the link.
A failure is reported through ``on_error`` (the Discord side says it in the channel)
and never stops the other speakers. A speaker whose turn failed is listened to again
by the same task after a short back-off: the link announces a speaker only when their
stream opens, and their stream stays open (claimed) while they are in the channel, so
nobody else would ever read it again. The same failure repeated is reported once.

What is answered follows the guild's :class:`~libra.storage.api.VoiceMode`: ``open``
answers every turn, ``wake-word`` only turns that start with one of Libra's names
(:mod:`libra.voice.wake`; the name is taken off before the LLM sees the question),
``off`` answers nothing and only reports what was heard (``on_heard``: mirrored as
text). ``admit`` keeps some speakers out altogether (Libra itself, other bots, users
the allow/block lists exclude): their audio is never transcribed.

**Barge-in.** When a speaker's voice activity opens a turn while Libra is answering
(the listener's speech-start, from the audio itself, not Discord's speaking flag),
the playback is stopped on the spot (``Playback.stop`` runs inside the callback), then
the answer's generation and synthesis are cancelled. The answer is held by the chat
service until the conversation settles it (``VoicePipeline.answer(..., hold=True)``),
so only what was actually spoken is remembered, marked stopped. In wake-word mode only
the person being answered can interrupt: in a busy channel, side talk must not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger

from libra.errors import LibraError, SpeechEngineFailed
from libra.storage.api import VoiceMode
from libra.voice.api import Playback, VoiceLink
from libra.voice.audio import stereo48k_to_mono16k
from libra.voice.listener import SpeakerListener
from libra.voice.utterance import Utterance
from libra.voice.wake import WakeWords

if TYPE_CHECKING:
    from libra.voice.pipeline import VoicePipeline, VoiceReply

RETRY_S = 0.5
"""Back-off before listening again to a speaker whose listener failed (doubles)."""
MAX_RETRY_S = 30.0


ErrorHandler = Callable[[int, LibraError], Awaitable[None]]
"""Told which speaker's turn failed and why."""
ReplyHandler = Callable[["VoiceReply"], Awaitable[None]]
"""Told of each answer as it starts (mirroring, status pages)."""
AnsweredHandler = Callable[["VoiceReply", bool], Awaitable[None]]
"""Told of each answer once it is over; ``True`` when it was interrupted."""
HeardHandler = Callable[[int, Utterance], Awaitable[None]]
"""Told of a transcribed turn that is not answered (``/voice mode off``)."""
Admit = Callable[[int], bool]
"""Whether a member's audio may be transcribed at all."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BargeIn:
    """One interruption of Libra's answer (benchmarks, tests, logs)."""

    user_id: int
    detected_at: float
    """``perf_counter`` when the speaker's voice activity opened a turn."""
    stop_ms: float
    """From detection until the playback was told to stop (its queued audio dropped)."""
ListenLanguage = Callable[[int, int], Awaitable[str | None]]
"""The language to hear a speaker in: (channel id, user id) → the channel's reply
language (``None``: detect)."""


class Conversation:
    """See the module docstring."""

    def __init__(self, pipeline: VoicePipeline, link: VoiceLink, *,
                 channel_id: int | None = None, voice: str | None = None,
                 queue_size: int = 3, on_error: ErrorHandler | None = None,
                 on_reply: ReplyHandler | None = None,
                 on_answered: AnsweredHandler | None = None,
                 on_heard: HeardHandler | None = None, admit: Admit | None = None,
                 mode: VoiceMode = VoiceMode.OPEN, wake: WakeWords | None = None,
                 listen_language: ListenLanguage | None = None) -> None:
        """``channel_id`` is where the turns are stored (default the voice channel).

        ``listen_language`` names the language each speaker's next turn is heard in
        (the channel's reply language); without it the recogniser detects the language,
        which needs a multilingual model when several languages are configured.
        """
        self._pipeline = pipeline
        self._link = link
        self.channel_id = channel_id if channel_id is not None else link.channel_id
        self.voice = voice
        """The voice answers are spoken with (``None``: the language's own); may change."""
        self.mode = mode
        """What is answered; may change while the conversation runs (``/voice mode``)."""
        self._wake = wake or WakeWords(pipeline.settings.wake_words)
        self._queue: asyncio.Queue[tuple[int, Utterance]] = asyncio.Queue(maxsize=queue_size)
        self._on_error = on_error
        self._on_reply = on_reply
        self._on_answered = on_answered
        self._on_heard = on_heard
        self._admit = admit
        self._listen_language = listen_language
        self.current: VoiceReply | None = None
        """The answer being spoken, if any."""
        self._asker: int | None = None
        self._playback: Playback | None = None
        self._interrupt = asyncio.Event()
        self.barge_ins: list[BargeIn] = []
        """Every interruption so far (the last few matter; bounded below)."""

    async def run(self) -> None:
        """Listen and answer until the link closes."""
        name = f"voice:{self._link.guild_id}"
        answering = asyncio.create_task(self._answer_loop(), name=f"{name}:answer")
        listeners: dict[int, asyncio.Task[None]] = {}
        try:
            async for user_id in self._link.speakers():
                if self._admit is not None and not self._admit(user_id):
                    logger.debug("voice: not listening to {} (a bot or not allowed)", user_id)
                    continue
                running = listeners.get(user_id)
                if running is None or running.done():
                    listeners[user_id] = asyncio.create_task(
                        self._listen(user_id), name=f"{name}:listen-{user_id}")
        finally:
            self._stop_playback()
            for task in (*listeners.values(), answering):
                task.cancel()
            await asyncio.gather(*listeners.values(), answering, return_exceptions=True)

    # --- listening --------------------------------------------------------------------

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
                return await language_of(self.channel_id, user_id)

        listener = SpeakerListener(self._pipeline.engines, self._pipeline.settings,
                                   name=f"voice:{self._link.guild_id}:{user_id}",
                                   on_speech_started=lambda: self._speech_started(user_id),
                                   language_source=source, guess=self._pipeline.guess,
                                   load=self._pipeline.load)
        heard = False
        try:
            async for utterance in listener.utterances(self._pcm(user_id)):
                heard = True
                await self._heard(user_id, utterance)
        except LibraError as err:
            return err, heard
        except Exception as err:  # one speaker's failure must not end the conversation
            logger.opt(exception=err).error("voice: listening to {} failed", user_id)
            return SpeechEngineFailed(f"listening failed: {err}"), heard
        return None, heard

    async def _pcm(self, user_id: int) -> AsyncIterator[bytes]:
        """The speaker's audio as 16 kHz mono.

        The gaps Discord leaves between talk spurts are filled in by the listener
        (:mod:`libra.voice.wire`), which serves every transport.
        """
        async for chunk in self._link.audio(user_id):
            yield stereo48k_to_mono16k(chunk.pcm)

    async def _heard(self, user_id: int, utterance: Utterance) -> None:
        mode = self.mode
        if mode is VoiceMode.OFF:
            if self._on_heard is not None:
                await self._on_heard(user_id, utterance)
            return
        if mode is VoiceMode.WAKE_WORD and self._wake.match(utterance.text) is None:
            logger.debug("voice: {} did not address Libra: {!r}", user_id, utterance.text)
            return
        if self._queue.full():  # a short queue: the oldest question goes
            dropped = self._queue.get_nowait()
            logger.warning("voice: dropped a queued turn of {}", dropped[0])
        self._queue.put_nowait((user_id, utterance))

    # --- barge-in ---------------------------------------------------------------------

    def _speech_started(self, user_id: int) -> None:
        """A speaker's voice opened a turn: interrupt Libra if it is answering."""
        if self.current is None or self._interrupt.is_set():
            return
        if self.mode is VoiceMode.WAKE_WORD and user_id != self._asker:
            return
        detected = time.perf_counter()
        self._interrupt.set()
        self._stop_playback()
        stop_ms = (time.perf_counter() - detected) * 1000
        self.barge_ins = [*self.barge_ins[-19:], BargeIn(user_id=user_id, detected_at=detected,
                                                         stop_ms=stop_ms)]
        logger.info("voice: {} barged in; playback stopped in {:.1f} ms", user_id, stop_ms)

    def _stop_playback(self) -> None:
        if self._playback is not None and not self._playback.done:
            self._playback.stop()

    # --- answering --------------------------------------------------------------------

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
        text = None
        if self.mode is VoiceMode.WAKE_WORD:
            woken = self._wake.match(utterance.text)
            text = woken.rest if woken is not None and woken.rest else None
        self._interrupt.clear()
        reply = await self._pipeline.answer(utterance, user_id=user_id,
                                            channel_id=self.channel_id,
                                            guild_id=self._link.guild_id, voice=self.voice,
                                            text=text, hold=True)
        self.current, self._asker = reply, user_id
        interrupted = True  # until said in full: a failed play or a closing link cut it too
        try:
            if self._on_reply is not None:
                await self._on_reply(reply)
            self._playback = await self._link.play(reply.audio())
            interrupted = await self._until_done_or_interrupted(reply, self._playback)
        finally:
            if interrupted:
                self._stop_playback()  # also one that started after the barge-in
            self.current, self._asker, self._playback = None, None, None
            if interrupted:
                await reply.cancel()
            reply.settle(interrupted=interrupted)
            reply.publish_latency()
        if self._on_answered is not None:
            await self._on_answered(reply, interrupted)
        if reply.error is not None and not interrupted:
            raise reply.error

    async def _until_done_or_interrupted(self, reply: VoiceReply, playback: Playback) -> bool:
        """Wait for the answer to be said in full; ``True`` if someone barged in first."""
        cut_short = False

        async def said() -> None:
            nonlocal cut_short
            # The first frame is marked before wait() publishes the latency.
            if (sent := await playback.first_frame()) is not None:
                reply.clock.first_packet(sent)
            writing = asyncio.ensure_future(reply.wait())
            played = asyncio.ensure_future(playback.wait())
            try:
                await asyncio.wait({writing, played}, return_when=asyncio.FIRST_COMPLETED)
                if not writing.done():
                    # Playback ended first (stopped, link lost): speech is made only a
                    # little ahead of playback, so the answer would wait for a reader
                    # forever; what was not said is cut, like a barge-in.
                    cut_short = True
                    await reply.cancel()
                await asyncio.wait({writing})
                await played
            finally:
                for task in (writing, played):
                    task.cancel()
                await asyncio.gather(writing, played, return_exceptions=True)

        whole = asyncio.ensure_future(said())
        barge = asyncio.ensure_future(self._interrupt.wait())
        try:
            await asyncio.wait({whole, barge}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            barge.cancel()
            if not whole.done():
                whole.cancel()
            await asyncio.gather(whole, barge, return_exceptions=True)
        return self._interrupt.is_set() or cut_short

    async def _report(self, user_id: int, err: LibraError) -> None:
        logger.warning("voice: {} ({})", err, err.code)
        if self._on_error is not None:
            try:
                await self._on_error(user_id, err)
            except Exception as failure:  # the reporter's failure is not the speaker's
                logger.opt(exception=failure).error("voice: on_error failed")
