"""Vosk (Kaldi) speech-to-text: streaming partials, one model per language.

Vosk is the light, streaming engine: a small model is one language, decodes as the
audio arrives and has the final text ready a few milliseconds after the audio
ends. Every call into Kaldi is C code that holds the CPU for milliseconds, so it
runs in a worker thread, never on the event loop.

Threads: each loaded model owns one small, bounded executor (``workers`` threads,
2 by default) that every stream of that model shares. A stream's calls are
awaited one after another, so a stream never runs on two threads at once and its
``KaldiRecognizer`` needs no lock. Bounded rather than a thread per stream because
decoding is CPU-bound: on a 2-core box a third concurrent decoder only adds
context switches, and many speakers must not mean many threads. When more
speakers talk at once than there are workers, their chunks queue and each
stream's back-pressure slows its producer, which is what a CPU-bound stage should
do.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from libra.errors import SpeechEngineFailed
from libra.voice.api import SPEECH_RATE, Transcript
from libra.voice.models.catalogue import repair_hint

FEED_MS = 100
"""Audio gathered before each hop to the worker thread: a producer of 20 ms frames
costs five times fewer hops, and 100 ms is finer than partials need."""
_FEED_BYTES = SPEECH_RATE * FEED_MS // 1000 * 2
DEFAULT_WORKERS = 2
"""Decoder threads per model: one per core of the 2-core box Libra is sized for."""


def _import_vosk() -> Any:
    try:
        import vosk  # noqa: PLC0415  # optional extra: fail with a hint, not at import
    except ImportError as err:
        raise SpeechEngineFailed("the vosk package is not installed",
                                 hint="pip install 'libra[voice]'") from err
    # Kaldi logs every model load and decoder setting to stderr; Libra logs itself.
    vosk.SetLogLevel(-1)
    return vosk


def _open_model(vosk: Any, model_dir: Path, model: str) -> Any:
    """Blocking: check the folder, then let Kaldi read it (in a worker thread)."""
    if not (model_dir / "am").is_dir() and not (model_dir / "final.mdl").is_file():
        # Vosk would only say "Failed to create a model"; say which folder and why.
        what = "is missing" if not model_dir.exists() else "holds no Vosk model"
        raise SpeechEngineFailed(f"Vosk model {model}: {model_dir} {what}",
                                 hint=repair_hint(model))
    try:
        return vosk.Model(str(model_dir))
    except Exception as err:  # Kaldi reports every failure as a bare Exception
        raise SpeechEngineFailed(f"Vosk could not load {model} from {model_dir}: {err}",
                                 hint=repair_hint(model)) from err


class VoskRecognizer:
    """One loaded Vosk model (one language); each :meth:`stream` has its own decoder.

    Build with :meth:`load`; call :meth:`close` when done with it.
    """

    def __init__(self, vosk_model: Any, *, model: str, language: str,
                 workers: int = DEFAULT_WORKERS) -> None:
        self._vosk_model = vosk_model
        self._model = model
        self._language = language
        self._executor = ThreadPoolExecutor(max_workers=workers,
                                            thread_name_prefix=f"vosk-{language}")

    @classmethod
    async def load(cls, model_dir: Path, *, model: str, language: str,
                   workers: int = DEFAULT_WORKERS) -> VoskRecognizer:
        """Load the model in ``model_dir`` off the event loop (a small model takes ~2 s).

        Args:
            model_dir: The unpacked Vosk model folder (with ``am/``, ``conf/``, ``graph/``).
            model: Its catalogue name, for messages and status pages.
            language: The one language it recognises (Libra code).
            workers: Decoder threads shared by this model's streams.

        Raises:
            SpeechEngineFailed: vosk is not installed, or the folder is missing or is
                not a model Vosk can load (the hint names the verify/pull commands).
        """
        vosk = _import_vosk()
        vosk_model = await asyncio.to_thread(_open_model, vosk, model_dir, model)
        return cls(vosk_model, model=model, language=language, workers=workers)

    @property
    def engine(self) -> str:
        """``vosk``."""
        return "vosk"

    @property
    def model(self) -> str:
        """The model's catalogue name."""
        return self._model

    @property
    def language(self) -> str:
        """The one language the model recognises."""
        return self._language

    @property
    def languages(self) -> frozenset[str] | None:
        """The model's language (a Vosk model never detects)."""
        return frozenset({self._language})

    async def stream(self, pcm: AsyncIterable[bytes], *,
                     language: str | None = None) -> AsyncIterator[Transcript]:
        """16 kHz mono s16le in; a partial each time the words so far change, then the final.

        ``language`` is ignored: the model is one language, and every transcript
        carries it.

        Raises:
            SpeechEngineFailed: Kaldi failed while decoding.
        """
        loop = asyncio.get_running_loop()
        decoder = await self._call(loop, _Decoder, self._vosk_model)
        try:
            pending = bytearray()
            heard = ""
            async for chunk in pcm:
                pending += chunk
                if len(pending) < _FEED_BYTES:
                    continue
                whole = len(pending) - len(pending) % 2  # an odd byte waits for its pair
                block, pending = bytes(pending[:whole]), pending[whole:]
                text = await self._call(loop, decoder.feed, block)
                if text and text != heard:
                    heard = text
                    yield Transcript(text=text, final=False, language=self._language)
            text = await self._call(loop, decoder.finish,
                                    bytes(pending[: len(pending) // 2 * 2]))
        finally:
            self._release(decoder)
        yield Transcript(text=text, final=True, language=self._language)

    def _release(self, decoder: _Decoder) -> None:
        # Freeing a recogniser that has decoded speech takes Kaldi 10-175 ms, growing
        # with the utterance (measured): left to the last reference, it is the loop's.
        # A feed still running on another worker keeps its own reference, so this
        # never frees under it.
        try:
            self._executor.submit(decoder.release)
        except RuntimeError:  # closed: nothing else runs any more, free it here
            decoder.release()

    async def _call(self, loop: asyncio.AbstractEventLoop, fn: Any, *args: Any) -> Any:
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except RuntimeError as err:
            if "shutdown" in str(err):
                raise SpeechEngineFailed(f"Vosk model {self._model} was closed") from err
            raise SpeechEngineFailed(f"Vosk failed while decoding: {err}") from err
        except Exception as err:
            raise SpeechEngineFailed(f"Vosk failed while decoding: {err}") from err

    def close(self) -> None:
        """Stop the decoder threads (idempotent); streams still running fail."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class _Decoder:
    """One utterance's Kaldi recogniser; used by one worker thread at a time."""

    def __init__(self, vosk_model: Any) -> None:
        vosk = _import_vosk()
        self._recognizer = vosk.KaldiRecognizer(vosk_model, SPEECH_RATE)
        # Kaldi ends a "result" at each pause it hears; Libra ends turns itself, so
        # those results are kept and joined, never handed out as finals.
        self._done: list[str] = []

    def feed(self, pcm: bytes) -> str:
        """Decode ``pcm``; the words heard so far."""
        if self._recognizer.AcceptWaveform(pcm):
            self._keep(json.loads(self._recognizer.Result()).get("text", ""))
            return self._joined("")
        return self._joined(json.loads(self._recognizer.PartialResult()).get("partial", ""))

    def finish(self, pcm: bytes) -> str:
        """Decode the last ``pcm`` and return the whole utterance's text."""
        if pcm and self._recognizer.AcceptWaveform(pcm):
            self._keep(json.loads(self._recognizer.Result()).get("text", ""))
        self._keep(json.loads(self._recognizer.FinalResult()).get("text", ""))
        return self._joined("")

    def release(self) -> None:
        """Free Kaldi's decoder now, on the calling (worker) thread."""
        self._recognizer = None

    def _keep(self, text: str) -> None:
        if text.strip():
            self._done.append(text.strip())

    def _joined(self, current: str) -> str:
        return " ".join([*self._done, current.strip()] if current.strip() else self._done)
