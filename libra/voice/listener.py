"""Listening to one speaker: 16 kHz mono PCM in, transcribed turns out.

Audio goes through the speaker's :class:`~libra.voice.turns.TurnDetector`. When a turn
opens, a speech-to-text stream opens too and the turn's audio is fed to it as it
arrives, so a streaming engine's partials flow while the person is still talking; each
partial goes back to the detector (:meth:`TurnDetector.hint`), which waits less after a
finished sentence and longer mid-sentence. When the turn ends the stream's input is
closed and its final transcript becomes an :class:`~libra.voice.pipeline.Utterance`.
A discarded turn (a cough, a click) has its stream cancelled: it never reaches a final
transcript, let alone the LLM.

The detector keeps *audio* time; the listener pairs it with the wall clock of the chunk
being processed, so the latency report's "endpoint wait" is what the speaker waited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass

from loguru import logger

from libra.config import VoiceSettings
from libra.errors import LibraError, SpeechEngineFailed
from libra.voice.api import SpeechEngines, SpeechToText, Transcript
from libra.voice.latency import TurnClock
from libra.voice.turns import (
    SpeechStarted,
    TurnDetector,
    TurnDiscarded,
    TurnEnded,
    TurnEvent,
    UtteranceAudio,
)
from libra.voice.utterance import LanguageGuess, Utterance, no_guess


@dataclass(frozen=True, slots=True)
class _Partial:
    text: str


_AUDIO_END = object()
_WAKE = object()


class _SttStream:
    """One turn's speech-to-text stream: audio pushed in, partials reported, one final."""

    def __init__(self, recogniser: SpeechToText, language: str | None,
                 on_partial: Callable[[str], None], name: str) -> None:
        self._feed: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._recogniser = recogniser
        self._language = language
        self._on_partial = on_partial
        self.task = asyncio.create_task(self._run(), name=name)

    def push(self, pcm: bytes) -> None:
        self._feed.put_nowait(pcm)

    def close(self) -> None:
        self._feed.put_nowait(None)

    async def abort(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def _pcm(self) -> AsyncIterator[bytes]:
        while (pcm := await self._feed.get()) is not None:
            yield pcm

    async def _run(self) -> Transcript:
        final: Transcript | None = None
        try:
            async for result in self._recogniser.stream(self._pcm(), language=self._language):
                if result.final:
                    final = result
                elif result.text:
                    self._on_partial(result.text)
        except LibraError:
            raise
        except Exception as err:  # a foreign engine's error, wrapped at the boundary
            raise SpeechEngineFailed(f"{self._recogniser.engine} failed: {err}",
                                     hint="see the log for the engine's error") from err
        if final is None:
            raise SpeechEngineFailed(f"{self._recogniser.engine} gave no final transcript")
        return final


class SpeakerListener:
    """Turn taking and transcription for one speaker; see the module docstring."""

    def __init__(self, engines: SpeechEngines, settings: VoiceSettings, *,
                 language: str | None = None, stt: str | None = None, name: str = "voice",
                 on_speech_started: Callable[[], None] | None = None,
                 guess: LanguageGuess = no_guess) -> None:
        """Listen with the configured engines.

        ``on_speech_started`` is called as each turn opens (barge-in detection);
        ``guess`` names a transcript's language when the engine does not.
        """
        self._engines = engines
        self._settings = settings
        self._language = language
        self._stt = stt
        self._name = name
        self._on_speech_started = on_speech_started
        self._guess = guess

    async def utterances(self, pcm: AsyncIterable[bytes]) -> AsyncIterator[Utterance]:
        """Each transcribed turn of ``pcm`` (16 kHz mono s16le), in order; empty ones skipped.

        Raises:
            SpeechModelMissing, SpeechEngineFailed: no engine can transcribe the speaker.
        """
        recogniser = await self._engines.stt(self._language, engine=self._stt)
        detector = TurnDetector.from_settings(self._engines.new_vad(), self._settings)
        inbox: asyncio.Queue[object] = asyncio.Queue()
        out: asyncio.Queue[Utterance | BaseException | None] = asyncio.Queue()
        pump = asyncio.create_task(_pump(pcm, inbox), name=f"{self._name}:audio")
        state = _TurnState(recogniser, self._language, inbox=inbox, out=out, name=self._name,
                           guess=self._guess)
        finisher = asyncio.create_task(state.finish_loop(), name=f"{self._name}:final")
        arrived = time.perf_counter()
        try:
            while True:
                item = await inbox.get()
                if item is _AUDIO_END:
                    break
                if item is _WAKE:
                    events = []
                elif isinstance(item, _Partial):
                    events = detector.hint(item.text, state.language_hint)
                else:
                    assert isinstance(item, bytes)
                    arrived = time.perf_counter()
                    events = detector.push(item)
                for event in events:
                    self._handle(event, state, detector, arrived)
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
            await state.discard()
            finisher.cancel()
            await asyncio.gather(pump, finisher, return_exceptions=True)

    def _handle(self, event: TurnEvent, state: _TurnState, detector: TurnDetector,
                arrived: float) -> None:
        if isinstance(event, SpeechStarted):
            state.open(event.audio)
            if self._on_speech_started is not None:
                self._on_speech_started()
        elif isinstance(event, UtteranceAudio):
            state.feed(event.pcm)
        elif isinstance(event, TurnDiscarded):
            state.discard_soon()
        elif isinstance(event, TurnEnded):
            # Audio time → wall time: the chunk just processed ends at ``arrived``.
            behind = (detector.position_ms - event.speech_end_ms) / 1000
            now = time.perf_counter()
            clock = TurnClock(speech_end=arrived - behind, turn_end=now)
            state.close(clock, speech_ms=event.speech_ms)


class _TurnState:
    """The open turn's stream, and the turns whose final transcript is awaited."""

    def __init__(self, recogniser: SpeechToText, language: str | None, *,
                 inbox: asyncio.Queue[object],
                 out: asyncio.Queue[Utterance | BaseException | None],
                 name: str, guess: LanguageGuess) -> None:
        self._recogniser = recogniser
        self._guess = guess
        self._language = language
        self._inbox = inbox
        self._out = out
        self._name = name
        self._stream: _SttStream | None = None
        self._count = 0
        self.language_hint = language
        self.finishing: asyncio.Queue[tuple[_SttStream, TurnClock, int] | None] = asyncio.Queue()
        self._discards: list[asyncio.Task[None]] = []

    def open(self, audio: bytes) -> None:
        self._count += 1
        self._stream = _SttStream(self._recogniser, self._language,
                                  lambda text: self._inbox.put_nowait(_Partial(text)),
                                  name=f"{self._name}:stt-{self._count}")
        self._stream.push(audio)

    def feed(self, pcm: bytes) -> None:
        if self._stream is not None:
            self._stream.push(pcm)

    def close(self, clock: TurnClock, *, speech_ms: int) -> None:
        if self._stream is None:
            return
        stream, self._stream = self._stream, None
        stream.close()
        self.finishing.put_nowait((stream, clock, speech_ms))

    def discard_soon(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            self._discards.append(asyncio.create_task(stream.abort(),
                                                      name=f"{self._name}:discard"))

    async def discard(self) -> None:
        self.discard_soon()
        await asyncio.gather(*self._discards, return_exceptions=True)

    async def finish_loop(self) -> None:
        """Wait for each closed turn's final transcript, in order, and hand it out."""
        while (item := await self.finishing.get()) is not None:
            stream, clock, speech_ms = item
            clock.stt = f"{self._recogniser.engine}:{self._recogniser.model}"
            try:
                final = await stream.task
            except LibraError as err:
                self._out.put_nowait(err)
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


async def _pump(pcm: AsyncIterable[bytes], inbox: asyncio.Queue[object]) -> None:
    try:
        async for chunk in pcm:
            inbox.put_nowait(chunk)
    finally:
        inbox.put_nowait(_AUDIO_END)
