"""Listening to one speaker: 16 kHz mono PCM in, transcribed turns out.

Audio goes through the speaker's :class:`~libra.voice.turns.TurnDetector`. When a turn
opens, a speech-to-text stream opens too and the turn's audio is fed to it as it
arrives, so a streaming engine's partials flow while the person is still talking; each
partial goes back to the detector (:meth:`TurnDetector.hint`), which waits less after a
finished sentence and longer mid-sentence. When the turn ends the stream's input is
closed and its final transcript becomes an :class:`~libra.voice.pipeline.Utterance`.
A discarded turn (a cough, a click) has its stream cancelled: it never reaches a final
transcript, let alone the LLM.

**Transcribing during the endpoint wait.** An engine that transcribes only whole
utterances (Whisper: no partials, one pass over the audio once it ends) would start
working only after the turn is over, and the speaker would wait out the endpoint
silence *and* the transcription. Instead, when the speaker has paused for
:data:`PAUSE_MS`, the listener transcribes the turn so far in the background (a
*speculative final*). If the turn then ends with no new speech (only trailing silence,
which does not change Whisper's words) that result is the final and the whole-turn
pass never runs; if speech resumes it is thrown away, and the next pause tries again.
A speaker has one such job at a time, and a model one across all speakers sharing a
:class:`~libra.voice.transcription.ModelLoad` (a pipeline's), none while a whole-turn
pass is waiting (Whisper runs one transcription at a time on both cores:
a queued guess would only delay someone's real final). Its text also feeds
:meth:`TurnDetector.hint`, so a finished question (Whisper writes the "?") ends the
turn sooner, as Vosk partials do.

**Trailing silence stays out of the engine.** From a pause on, the turn's audio is held
back; it is fed on if speech resumes and dropped if the turn ends, so no engine
decodes the endpoint wait (for Vosk, which decodes every frame it is given, that is
~0.3 s less audio to catch up on when the turn ends).

**Which recogniser.** A listener given a ``language_source`` (the channel's reply
language, from the chat side) asks it before the first turn and then every
:data:`LANGUAGE_POLL_S`, and transcribes the next turn with that language's model
(:func:`recogniser_for`): a channel speaking Korean is heard by the Korean model, not
by a multilingual guess that may not be installed. A turn keeps the recogniser it
opened with.

The detector keeps *audio* time; the listener pairs it with the wall clock of the chunk
being processed, so the latency report's "endpoint wait" is what the speaker waited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from loguru import logger

from libra.config import VoiceSettings
from libra.errors import LibraError
from libra.voice.api import SpeechEngines, SpeechToText, Transcript
from libra.voice.latency import TurnClock
from libra.voice.transcription import ModelLoad, SttStream, recogniser_for
from libra.voice.turns import (
    PauseStarted,
    SpeechResumed,
    SpeechStarted,
    TurnDetector,
    TurnDiscarded,
    TurnEnded,
    TurnEvent,
    UtteranceAudio,
)
from libra.voice.utterance import LanguageGuess, Utterance, no_guess
from libra.voice.wire import TICK_MS, QuietWire

BATCH_ENGINES = frozenset({"whisper"})
"""Engines that transcribe only once their input ends (no partials): worth a speculative
final during the endpoint wait. A streaming engine (Vosk) has its final a few ms after
the audio ends, so speculating would only cost CPU."""
PAUSE_MS = 150
"""Silence inside a turn that starts a speculative final. Long enough that the short
gaps between words do not start a Whisper pass each (~1 s of both cores), short
enough to leave most of the 500 ms endpoint wait for the transcription."""
SPECULATIVE_JOBS_PER_MODEL = 1
SPECULATING = "speculating"
""":class:`ModelLoad` kind: speculative jobs of a model (all speakers sharing it)."""
FINISHING = "finishing"
""":class:`ModelLoad` kind: whole-turn passes; someone waits for each, so no
speculative job is queued ahead of them."""


AUDIO_BACKLOG = 20
"""Audio chunks read ahead of the turn detector at most (2 s of Discord's 100 ms
chunks). A listener that falls behind (a busy machine, a caller not taking its turns)
then stops reading, and the link drops the oldest audio, as its buffer is bounded;
the listener never queues a whole conversation's audio in memory."""
LANGUAGE_POLL_S = 0.5
"""How often a listener with a ``language_source`` asks it (an in-memory read)."""


@dataclass(slots=True)
class SpeculationStats:
    """How a listener's speculative finals fared (benchmarks, logs)."""

    started: int = 0
    used: int = 0
    """Turns whose final was the speculative result (the whole-turn pass never ran)."""
    wasted: int = 0
    """Jobs thrown away: speech resumed, or the turn was discarded."""
    refused: int = 0
    """Pauses that started no job: the model was busy with another speaker's."""


@dataclass(frozen=True, slots=True)
class _Partial:
    text: str
    turn: int
    """The turn it belongs to: a late partial of a finished turn must not end the next."""
    job: _Speculation | None = None
    """The speculative job it came from: stale once speech resumed (its words are old)."""


LanguageSource = Callable[[], Awaitable[str | None]]
"""The language a speaker is expected to speak now (the channel's reply language)."""

_AUDIO_END = object()
_WAKE = object()
_TICK = object()


class SpeakerListener:
    """Turn taking and transcription for one speaker; see the module docstring."""

    def __init__(self, engines: SpeechEngines, settings: VoiceSettings, *,
                 language: str | None = None, stt: str | None = None, name: str = "voice",
                 language_source: LanguageSource | None = None,
                 on_speech_started: Callable[[], None] | None = None,
                 guess: LanguageGuess = no_guess, speculate: bool = True,
                 load: ModelLoad | None = None) -> None:
        """Listen with the configured engines.

        ``language`` is the spoken language (``None``: detect) unless ``language_source``
        says it, turn by turn (see the module docstring);
        ``on_speech_started`` is called as each turn opens (barge-in detection);
        ``guess`` names a transcript's language when the engine does not;
        ``speculate=False`` turns off speculative finals (benchmarks compare both);
        ``load`` is shared by the listeners of one pipeline (one model's speculation
        waits for every speaker's whole-turn passes), default this listener's own.
        """
        self._engines = engines
        self._settings = settings
        self._language = language
        self._language_source = language_source
        self._stt = stt
        self._name = name
        self._on_speech_started = on_speech_started
        self._guess = guess
        self._speculate = speculate
        self.load = load or ModelLoad()
        self.speculation = SpeculationStats()

    async def utterances(self, pcm: AsyncIterable[bytes]) -> AsyncIterator[Utterance]:
        """Each transcribed turn of ``pcm`` (16 kHz mono s16le), in order; empty ones skipped.

        Raises:
            SpeechModelMissing, SpeechEngineFailed: no engine can transcribe the speaker.
        """
        recogniser, language = await self._recogniser()
        detector = TurnDetector.from_settings(self._engines.new_vad(), self._settings,
                                              pause_ms=PAUSE_MS)
        inbox: asyncio.Queue[object] = asyncio.Queue()
        out: asyncio.Queue[Utterance | BaseException | None] = asyncio.Queue()
        backlog = asyncio.Semaphore(AUDIO_BACKLOG)
        pump = asyncio.create_task(_pump(pcm, inbox, backlog), name=f"{self._name}:audio")
        state = _TurnState(recogniser, language, inbox=inbox, out=out, name=self._name,
                           guess=self._guess, load=self.load,
                           stats=self.speculation if self._speculate else None)
        finisher = asyncio.create_task(state.finish_loop(), name=f"{self._name}:final")
        choosing = (asyncio.create_task(self._follow_language(state),
                                        name=f"{self._name}:language")
                    if self._language_source is not None else None)
        quiet = QuietWire(detector)
        try:
            while True:
                try:
                    # While a turn is open, a silent wire must still count as silence.
                    item = await asyncio.wait_for(inbox.get(),
                                                  TICK_MS / 1000 if detector.in_turn else None)
                except TimeoutError:
                    item = _TICK
                if item is _AUDIO_END:
                    break
                if item is _WAKE:
                    events = []
                elif item is _TICK:
                    events = quiet.fill()
                elif isinstance(item, _Partial):
                    current = item.turn == state.turn and not (item.job and item.job.stale)
                    events = detector.hint(item.text, state.language_hint) if current else []
                else:
                    assert isinstance(item, bytes)
                    backlog.release()
                    events = quiet.heard(item)
                for event in events:
                    self._handle(event, state, detector, quiet.audio_end)
                while not out.empty():
                    done = out.get_nowait()
                    if isinstance(done, BaseException):
                        raise done
                    if done is not None:
                        yield done
            await state.discard()
            state.finishing.put_nowait(None)
            while (done := await out.get()) is not None:
                if isinstance(done, BaseException):
                    raise done
                yield done
        finally:
            pump.cancel()
            await state.abort()
            finisher.cancel()
            tasks = [pump, finisher] + ([choosing] if choosing is not None else [])
            if choosing is not None:
                choosing.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _recogniser(self) -> tuple[SpeechToText, str | None]:
        language = self._language
        if self._language_source is not None:
            language = await self._language_source()
        return await recogniser_for(self._engines, language, engine=self._stt)

    async def _follow_language(self, state: _TurnState) -> None:
        """Pick the next turn's recogniser as the channel's language changes."""
        failed: str | None = None
        while True:
            await asyncio.sleep(LANGUAGE_POLL_S)
            try:
                recogniser, language = await self._recogniser()
            except LibraError as err:  # keep the one that works; try again later
                if str(err) != failed:
                    logger.warning("{}: keeping {} ({})", self._name,
                                   state.recogniser.model, err)
                failed = str(err)
                continue
            failed = None
            state.use(recogniser, language)

    def _handle(self, event: TurnEvent, state: _TurnState, detector: TurnDetector,
                arrived: float) -> None:
        if isinstance(event, SpeechStarted):
            state.open(event.audio)
            if self._on_speech_started is not None:
                self._on_speech_started()
        elif isinstance(event, UtteranceAudio):
            state.feed(event.pcm)
        elif isinstance(event, PauseStarted):
            state.pause(event.speech_end_ms)
        elif isinstance(event, SpeechResumed):
            state.resume()
        elif isinstance(event, TurnDiscarded):
            state.discard_soon()
        elif isinstance(event, TurnEnded):
            # Audio time → wall time: the chunk just processed ends at ``arrived``.
            behind = (detector.position_ms - event.speech_end_ms) / 1000
            now = time.perf_counter()
            clock = TurnClock(speech_end=arrived - behind, turn_end=now)
            state.close(clock, speech_ms=event.speech_ms, speech_end_ms=event.speech_end_ms)


@dataclass(slots=True)
class _Speculation:
    """One speculative final: the turn's audio up to a pause, being transcribed."""

    stream: SttStream
    turn: int
    speech_end_ms: int
    stale: bool = False
    """Speech resumed (or the turn went away): the result must not be used."""


class _TurnState:
    """The open turn's stream, and the turns whose final transcript is awaited."""

    def __init__(self, recogniser: SpeechToText, language: str | None, *,
                 inbox: asyncio.Queue[object],
                 out: asyncio.Queue[Utterance | BaseException | None],
                 name: str, guess: LanguageGuess, load: ModelLoad,
                 stats: SpeculationStats | None = None) -> None:
        """``stats``: speculate (batch engines), counting into it; ``None`` = never."""
        self._recogniser = recogniser
        self._load = load
        self._next: tuple[SpeechToText, str | None] | None = None
        self._guess = guess
        self._language = language
        self._inbox = inbox
        self._out = out
        self._name = name
        self._stream: SttStream | None = None
        self._count = 0
        self.language_hint = language
        self.finishing: asyncio.Queue[tuple[SttStream, TurnClock, int] | None] = asyncio.Queue()
        self._ended: set[asyncio.Task[Transcript]] = set()
        """Final transcriptions of ended turns not handed out yet."""
        self._discards: list[asyncio.Task[None]] = []
        self._all_stats = stats
        self._stats = stats if recogniser.engine in BATCH_ENGINES else None
        self._audio = bytearray()
        """The open turn's audio so far (kept only when speculating)."""
        self._speculation: _Speculation | None = None
        self._paused_at: int | None = None
        """``speech_end_ms`` of the pause going on in the open turn, if any."""
        self._jobs: set[asyncio.Task[Transcript]] = set()
        """Speculative jobs not finished yet, stale ones included."""
        self._held: bytearray | None = None
        """Audio of a pause, held back from the engine (``None``: no pause going on)."""

    @property
    def turn(self) -> int:
        """The number of the open (or last) turn."""
        return self._count

    @property
    def recogniser(self) -> SpeechToText:
        """The recogniser of the open (or next) turn."""
        return self._recogniser

    def use(self, recogniser: SpeechToText, language: str | None) -> None:
        """Transcribe the next turn with ``recogniser`` (the open one keeps its own)."""
        self._next = (recogniser, language)

    def open(self, audio: bytes) -> None:
        if self._next is not None:
            (self._recogniser, self._language), self._next = self._next, None
            self.language_hint = self._language
            self._stats = (self._all_stats if self._recogniser.engine in BATCH_ENGINES
                           else None)
        self._count += 1
        turn = self._count
        self._stream = SttStream(self._recogniser, self._language,
                                  lambda text: self._inbox.put_nowait(_Partial(text, turn)),
                                  name=f"{self._name}:stt-{turn}")
        self._stream.push(audio)
        if self._stats is not None:
            self._audio = bytearray(audio)

    def feed(self, pcm: bytes) -> None:
        if self._stream is None:
            return
        if self._held is not None:
            # A pause's silence waits: it reaches the engine only if speech resumes.
            # A turn that ends here costs no decoding of its trailing silence (Vosk
            # decodes every frame it is given, at ~0.8 s of CPU per second of audio).
            self._held += pcm
            return
        self._stream.push(pcm)
        if self._stats is not None:
            self._audio += pcm

    # --- speculative finals -------------------------------------------------------------

    def pause(self, speech_end_ms: int) -> None:
        """The speaker paused: hold the silence back, and transcribe the turn so far.

        The transcription is for batch engines only, and waits while a job is running.
        """
        if self._stream is None:
            return
        self._held = bytearray()
        if self._stats is None:
            return
        self._paused_at = speech_end_ms
        if self._speculation is not None and not self._speculation.stream.task.done():
            return  # one job per speaker: a stale one still running restarts us when done
        self._speculate()

    def resume(self) -> None:
        """Speech came back: the pause's audio goes on; a running job is stale."""
        held, self._held = self._held, None
        if held:
            self.feed(bytes(held))
        self._paused_at = None
        if self._speculation is not None:
            self._speculation.stale = True

    def _speculate(self) -> None:
        assert self._stats is not None and self._paused_at is not None
        load = self._load
        if (load.busy(self._recogniser, SPECULATING) >= SPECULATIVE_JOBS_PER_MODEL
                or load.busy(self._recogniser, FINISHING)):
            self._stats.refused += 1
            return
        stream = SttStream(self._recogniser, self._language, None,
                            name=f"{self._name}:stt-{self._count}-speculative")
        stream.push(bytes(self._audio))
        stream.close()
        job = _Speculation(stream=stream, turn=self._count, speech_end_ms=self._paused_at)
        self._speculation = job
        self._stats.started += 1
        self._jobs.add(stream.task)
        load.add(self._recogniser, SPECULATING, stream.task)
        stream.task.add_done_callback(lambda task: self._speculated(job, task))

    def _speculated(self, job: _Speculation, task: asyncio.Task[Transcript]) -> None:
        self._jobs.discard(task)
        failed = _failed(task)
        assert self._stats is not None
        current = self._speculation is job and self._stream is not None
        if job.stale or failed:
            if not failed:
                self._stats.wasted += 1
            if job.stale and current and self._paused_at is not None:
                # Paused again while the stale job ran: try again. (Not after a failure:
                # a failing engine would be asked again and again, a busy loop.)
                self._speculate()
            return
        if current:
            # Whisper writes punctuation: a finished question ends the wait sooner.
            self._inbox.put_nowait(_Partial(task.result().text, job.turn, job))

    def _drop_speculation(self) -> None:
        job, self._speculation = self._speculation, None
        self._paused_at = None
        if job is not None and not job.stale:
            job.stale = True
            if not job.stream.task.done():
                # Queued jobs are cancelled before they start; a running one finishes
                # in its thread (CTranslate2 cannot be interrupted) and is ignored.
                job.stream.task.cancel()

    # --- the end of a turn --------------------------------------------------------------

    def close(self, clock: TurnClock, *, speech_ms: int, speech_end_ms: int) -> None:
        if self._stream is None:
            return
        stream, self._stream = self._stream, None
        job, self._speculation = self._speculation, None
        self._paused_at = None
        self._audio = bytearray()
        self._held = None  # trailing silence: Whisper's words and Vosk's do not need it
        if job is not None and not job.stale and job.speech_end_ms == speech_end_ms \
                and not _failed(job.stream.task):
            # Nothing but silence since the job's snapshot: its words are the turn's.
            assert self._stats is not None
            self._stats.used += 1
            self._jobs.discard(job.stream.task)  # the turn's final now: never cancel it
            self._discards.append(asyncio.create_task(stream.abort(),
                                                      name=f"{self._name}:unneeded"))
            self._finish(job.stream, clock, speech_ms)
            return
        if job is not None:
            job.stale = True
        stream.close()
        self._load.add(self._recogniser, FINISHING, stream.task)
        self._finish(stream, clock, speech_ms)

    def _finish(self, stream: SttStream, clock: TurnClock, speech_ms: int) -> None:
        self._ended.add(stream.task)
        stream.task.add_done_callback(self._ended.discard)
        self.finishing.put_nowait((stream, clock, speech_ms))

    def discard_soon(self) -> None:
        self._drop_speculation()
        self._audio = bytearray()
        self._held = None
        if self._stream is not None:
            stream, self._stream = self._stream, None
            self._discards.append(asyncio.create_task(stream.abort(),
                                                      name=f"{self._name}:discard"))

    async def discard(self) -> None:
        """Drop the open turn and every speculative job still running (audio ended)."""
        self.discard_soon()
        jobs = [task for task in self._jobs if not task.done()]
        for task in jobs:
            task.cancel()  # stale ones too: nobody will read them now
        await asyncio.gather(*self._discards, *jobs, return_exceptions=True)

    async def abort(self) -> None:
        """:meth:`discard`, and the transcriptions of ended turns too (nobody listens)."""
        ended = [task for task in self._ended if not task.done()]
        for task in ended:
            task.cancel()
        await asyncio.gather(self.discard(), *ended, return_exceptions=True)

    async def finish_loop(self) -> None:
        """Wait for each closed turn's final transcript, in order, and hand it out."""
        while (item := await self.finishing.get()) is not None:
            stream, clock, speech_ms = item
            clock.stt = f"{stream.recogniser.engine}:{stream.recogniser.model}"
            await asyncio.wait([stream.task])  # (a cancelled task must not end this loop)
            if stream.task.cancelled():
                logger.debug("{}: a turn's transcription was cancelled", self._name)
                continue
            try:
                final = stream.task.result()
            except LibraError as err:
                self._out.put_nowait(err)
                self._inbox.put_nowait(_WAKE)  # a silent wire must not hold it back
                continue
            clock.mark("stt_final")
            text = final.text.strip()
            if not text:
                logger.debug("{}: a turn with no words recognised", self._name)
                continue
            language = final.language or self._guess(text)
            self._out.put_nowait(Utterance(text=text, language=language,
                                           audio_ms=float(speech_ms), clock=clock))
            self._inbox.put_nowait(_WAKE)  # wake the listener to hand it out now
        self._out.put_nowait(None)


def _failed(task: asyncio.Task[Transcript]) -> bool:
    """Whether ``task`` ended without a transcript (retrieving its error: no warning)."""
    return task.done() and (task.cancelled() or task.exception() is not None)


async def _pump(pcm: AsyncIterable[bytes], inbox: asyncio.Queue[object],
                backlog: asyncio.Semaphore) -> None:
    """Read ``pcm`` into ``inbox``, at most ``backlog`` chunks ahead of the listener."""
    try:
        async for chunk in pcm:
            await backlog.acquire()
            inbox.put_nowait(chunk)
    finally:
        inbox.put_nowait(_AUDIO_END)
