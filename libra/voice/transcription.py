"""Speech-to-text for the listener and the pipeline: which model, and one stream of it.

:func:`recogniser_for` picks the model for a language; :func:`transcribe` runs one
stream of it to its final transcript, wrapping a foreign engine's error once, here;
:class:`SttStream` is a stream the listener pushes a turn's audio into while the
person talks (partials reported as they come); :class:`ModelLoad` counts what each
loaded model is busy with, across the speakers of a pipeline.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable

from libra.errors import LibraError, SpeechEngineFailed, SpeechModelMissing
from libra.voice.api import SpeechEngines, SpeechToText, Transcript


async def recogniser_for(engines: SpeechEngines, language: str | None, *,
                         engine: str | None = None) -> tuple[SpeechToText, str | None]:
    """The recogniser for ``language`` and the language hint to give it.

    When no model serves ``language``, a multilingual model that detects the language
    is the fallback (hint ``None``); a one-language model never stands in for another.

    Raises:
        SpeechModelMissing: nothing serves ``language`` (the hint names its model).
        SpeechEngineFailed: the model is there but would not load.
    """
    try:
        return await engines.stt(language, engine=engine), language
    except SpeechModelMissing as missing:
        if language is None:
            raise
        try:
            detecting = await engines.stt(None, engine=engine)
        except SpeechModelMissing:
            raise missing from None
        if detecting.languages is not None and len(detecting.languages) < 2:
            raise missing from None
        return detecting, None


async def transcribe(recogniser: SpeechToText, pcm: AsyncIterable[bytes], *,
                     language: str | None,
                     on_partial: Callable[[str], None] | None = None) -> Transcript:
    """The final transcript of ``pcm``; each non-empty partial goes to ``on_partial``.

    Raises:
        SpeechEngineFailed: the engine failed (its own error is the cause), or gave
            no final transcript.
    """
    final: Transcript | None = None
    try:
        async for result in recogniser.stream(pcm, language=language):
            if result.final:
                final = result
            elif result.text and on_partial is not None:
                on_partial(result.text)
    except LibraError:
        raise
    except Exception as err:  # a foreign engine's error, wrapped at the boundary
        raise SpeechEngineFailed(f"{recogniser.engine} failed: {err}",
                                 hint="see the log for the engine's error") from err
    if final is None:
        raise SpeechEngineFailed(f"{recogniser.engine} gave no final transcript")
    return final


class SttStream:
    """One turn's speech-to-text stream: audio pushed in, partials reported, one final.

    ``task`` ends with the final :class:`Transcript` once :meth:`close` was called.
    """

    def __init__(self, recogniser: SpeechToText, language: str | None,
                 on_partial: Callable[[str], None] | None, name: str) -> None:
        self._feed: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._recogniser = recogniser
        self.task = asyncio.create_task(
            transcribe(recogniser, self._pcm(), language=language, on_partial=on_partial),
            name=name)

    @property
    def recogniser(self) -> SpeechToText:
        """The model transcribing this stream."""
        return self._recogniser

    def push(self, pcm: bytes) -> None:
        """More audio of the turn (16 kHz mono s16le)."""
        self._feed.put_nowait(pcm)

    def close(self) -> None:
        """The turn's audio is complete: the final comes next."""
        self._feed.put_nowait(None)

    async def abort(self) -> None:
        """Cancel the transcription and wait until it stopped."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def _pcm(self) -> AsyncIterator[bytes]:
        while (pcm := await self._feed.get()) is not None:
            yield pcm


class ModelLoad:
    """The transcriptions in flight per loaded model, for every speaker sharing it.

    Counted from the tasks themselves (a finished or cancelled task no longer counts),
    so no failure or cancellation can leave a model looking busy for good.
    """

    def __init__(self) -> None:
        self._tasks: weakref.WeakKeyDictionary[
            SpeechToText, dict[str, set[asyncio.Task[Transcript]]]] = weakref.WeakKeyDictionary()

    def add(self, model: SpeechToText, kind: str, task: asyncio.Task[Transcript]) -> None:
        """Count ``task`` as ``kind`` work of ``model`` until it is done."""
        tasks = self._tasks.setdefault(model, {}).setdefault(kind, set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def busy(self, model: SpeechToText, kind: str) -> int:
        """How many ``kind`` tasks of ``model`` are running."""
        return sum(not task.done() for task in self._tasks.get(model, {}).get(kind, ()))

