"""Speaking one answer while it is written: LLM text → sentences → speech, pipelined.

Two tasks and a queue between each stage: the *writer* reads the chat reply's deltas
and cuts them into sentences (:class:`~libra.voice.sentences.SentenceSplitter`) as soon
as each ends; the *synthesiser* turns each sentence into what is said aloud
(:func:`~libra.voice.speakable.speakable`) and then into speech, so the first sentence
is heard while the LLM is still writing the second, and stays at most
:data:`SENTENCES_AHEAD` sentences ahead of playback. :meth:`SpokenAnswer.audio` hands the
speech out as 48 kHz stereo PCM (Discord's format) in short pieces, and records which
sentences were handed out: after a barge-in, :attr:`SpokenAnswer.spoken_text` is what
the listener actually heard.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass

from loguru import logger

from libra.chat.answer import answer_deltas
from libra.chat.api import ReplyStream
from libra.errors import LibraError, SpeechEngineFailed
from libra.voice.api import SpeechAudio, TextToSpeech
from libra.voice.audio import frame_bytes, mono_to_stereo48k
from libra.voice.latency import TurnClock
from libra.voice.sentences import SentenceSplitter
from libra.voice.speakable import speakable

PIECE_MS = 200
"""Length of each PCM piece handed to the transport: short enough that what was
handed out is close to what was heard when playback is interrupted."""
SENTENCES_AHEAD = 2
"""Sentences synthesised ahead of the one being handed out. Enough that the next is
ready when one ends (a sentence takes Piper a fraction of its speaking time); more
would only cost memory (a 2-minute answer is ~23 MB at 48 kHz stereo) and CPU spent
on speech a barge-in throws away."""


@dataclass(frozen=True, slots=True)
class _Piece:
    sentence: int
    pcm: bytes


@dataclass(frozen=True, slots=True)
class _SentenceEnd:
    sentence: int


class _End:
    pass


_END = _End()


class SpokenAnswer:
    """One answer being written and spoken; see the module docstring."""

    def __init__(self, stream: ReplyStream, voice: Awaitable[TextToSpeech],
                 clock: TurnClock, *, name: str = "voice") -> None:
        """``voice`` may still be loading: the LLM is not kept waiting for it."""
        self.stream = stream
        self._voice = voice
        self._clock = clock
        self._sentences: asyncio.Queue[str | None] = asyncio.Queue()
        self._audio: asyncio.Queue[_Piece | _SentenceEnd | _End] = asyncio.Queue()
        self._written: list[str] = []
        """Every sentence of the answer, in order (what the LLM wrote)."""
        self._spoken = 0
        """How many of them were handed out in full."""
        self._started = -1
        self._ahead = asyncio.Semaphore(SENTENCES_AHEAD + 1)
        """Sentences synthesised and not yet handed out in full (the one playing too)."""
        self.error: LibraError | None = None
        self._writer = asyncio.create_task(self._write(), name=f"{name}:write")
        self._synth = asyncio.create_task(self._synthesise(), name=f"{name}:speak")

    @property
    def text(self) -> str:
        """The answer as the LLM wrote it so far (whole sentences)."""
        return " ".join(self._written)

    @property
    def spoken_text(self) -> str:
        """The sentences whose speech was handed out, the one being played included."""
        return " ".join(self._written[: max(self._spoken, self._started + 1)])

    async def audio(self) -> AsyncIterator[bytes]:
        """The spoken answer: 48 kHz stereo s16le PCM in :data:`PIECE_MS` pieces.

        Ends when the answer has been said or has failed (then :meth:`wait` raises).
        """
        while True:
            item = await self._audio.get()
            if isinstance(item, _End):
                return
            if isinstance(item, _SentenceEnd):
                self._spoken = item.sentence + 1
                self._ahead.release()  # handed out: the synthesiser may make another
                continue
            self._clock.mark("first_pull")
            self._started = max(self._started, item.sentence)
            yield item.pcm

    async def wait(self) -> str:
        """Wait until the answer is written and synthesised; return its text.

        Read :meth:`audio` meanwhile (or before): speech is made only
        :data:`SENTENCES_AHEAD` sentences ahead of it.

        Raises:
            LibraError: the LLM or a speech engine failed.
        """
        await asyncio.gather(self._writer, self._synth, return_exceptions=True)
        if self.error is not None:
            raise self.error
        return self.text

    async def cancel(self) -> None:
        """Stop writing and speaking now (barge-in); what was spoken stays in ``spoken_text``."""
        for task in (self._writer, self._synth):
            task.cancel()
        await asyncio.gather(self._writer, self._synth, return_exceptions=True)
        if inspect.iscoroutine(self._voice):  # cancelled before the voice was asked for
            self._voice.close()
        self._audio.put_nowait(_END)

    def _fail(self, err: LibraError) -> None:
        if self.error is None:
            self.error = err

    async def _write(self) -> None:
        splitter = SentenceSplitter()
        answer = self

        class _View:
            def restart(self) -> None:
                # The LLM failed over: the new answer replaces what was not said yet.
                nonlocal splitter
                splitter = SentenceSplitter()
                while not answer._sentences.empty():
                    answer._sentences.get_nowait()

            def stop(self) -> None:
                pass

        try:
            async for delta in answer_deltas(self.stream, _View()):
                self._clock.mark("first_token")
                for sentence in splitter.push(delta):
                    self._put_sentence(sentence)
            for sentence in _as_list(splitter.flush()):
                self._put_sentence(sentence)
        except LibraError as err:
            self._fail(err)
            self._synth.cancel()
        finally:
            self._sentences.put_nowait(None)

    def _put_sentence(self, sentence: str) -> None:
        if sentence.strip():
            self._clock.mark("first_sentence")
            self._sentences.put_nowait(sentence.strip())

    async def _synthesise(self) -> None:
        try:
            voice = await self._voice
            self._clock.tts = f"{voice.engine}:{voice.voice}"
            piece_bytes = frame_bytes(ms=PIECE_MS)
            while (sentence := await self._sentences.get()) is not None:
                # Back-pressure: wait while enough speech is ready and unplayed.
                await self._ahead.acquire()
                index = len(self._written)
                self._written.append(sentence)
                said = speakable(sentence, voice.language)
                if said.strip():
                    async for speech in _guarded(voice.synthesize(said), voice):
                        self._clock.mark("first_audio")
                        pcm = mono_to_stereo48k(speech.pcm, speech.sample_rate)
                        for start in range(0, len(pcm), piece_bytes):
                            self._audio.put_nowait(_Piece(index, pcm[start:start + piece_bytes]))
                self._audio.put_nowait(_SentenceEnd(index))
        except LibraError as err:
            self._fail(err)
            self._writer.cancel()
        finally:
            self._audio.put_nowait(_END)


async def _guarded(source: AsyncIterator[SpeechAudio], voice: TextToSpeech,
                   ) -> AsyncIterator[SpeechAudio]:
    """The voice's output, its own failures turned into :class:`SpeechEngineFailed`."""
    iterator = aiter(source)
    while True:
        try:
            item = await anext(iterator)
        except StopAsyncIteration:
            return
        except LibraError:
            raise
        except Exception as err:  # a foreign engine's error, wrapped at the boundary
            logger.opt(exception=err).error("voice {} failed", voice.voice)
            raise SpeechEngineFailed(f"{voice.engine} could not speak: {err}",
                                     hint="see the log for the engine's error") from err
        yield item


def _as_list(rest: str | list[str] | None) -> list[str]:
    if rest is None:
        return []
    return [rest] if isinstance(rest, str) else list(rest)

