"""Which speech engine serves each language, and the loaded models, shared.

:class:`LocalSpeechEngines` implements :class:`~libra.voice.api.SpeechEngines` over the
models folder (``libra models``) and the packages that carry models. It decides per
language (see :mod:`libra.voice.engine_plan` for the rules), loads each model the first
time someone needs it (off the event loop, once, even when two callers ask at the same
moment) and keeps it for every later turn. :meth:`choices` answers from the same plan
without loading anything, which is what ``libra doctor`` shows.

Backends are imported only when a model of theirs is loaded: building the engines (and
``libra chat``) never imports vosk, piper or faster-whisper.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TypeVar

from loguru import logger

from libra.config import VoiceSettings
from libra.errors import LibraError, SpeechEngineFailed, SpeechModelMissing
from libra.voice.api import EngineChoice, SpeechToText, TextToSpeech, VoiceActivityDetector
from libra.voice.engine_plan import EnginePlanner, SttPlan, TtsPlan
from libra.voice.models.catalogue import Catalogue
from libra.voice.models.official import OFFICIAL_CATALOGUE
from libra.voice.models.store import ModelStore

T = TypeVar("T")


def models_root(settings: VoiceSettings, data_dir: Path) -> Path:
    """The models folder: ``voice.models_dir``, else ``<data_dir>/models``."""
    return (settings.models_dir or data_dir / "models").expanduser()


class LocalSpeechEngines:
    """The engines chosen by configuration per language, loaded lazily and shared."""

    def __init__(self, settings: VoiceSettings, store: ModelStore, *,
                 catalogue: Catalogue = OFFICIAL_CATALOGUE,
                 espeak_languages: Callable[[], frozenset[str]] | None = None) -> None:
        """No I/O here: models load on first use.

        ``espeak_languages`` lists what espeak-ng speaks (default: ask espeak-ng once).
        """
        self._settings = settings
        self._planner = EnginePlanner(settings, store, catalogue,
                                      espeak_languages or _espeak_languages)
        self._loaded: dict[str, object] = {}
        self._served: dict[tuple[str, str | None, str | None], object] = {}
        """What each (kind, language, override) request got: once a model serves it, it
        keeps serving it without re-reading the models folder (a package reinstalled
        under a running process must not take a loaded model away)."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._labels: list[str] = []

    @property
    def languages(self) -> tuple[str, ...]:
        """The configured voice languages."""
        return self._settings.languages

    def new_vad(self) -> VoiceActivityDetector:
        """A fresh detector of ``voice.vad_engine`` (each speaker keeps its own state)."""
        from libra.voice.vad import new_detector  # noqa: PLC0415

        return new_detector(self._settings.vad_engine)

    def choices(self, languages: Iterable[str]) -> list[EngineChoice]:
        """What serves each language and the commands for what is missing; loads nothing."""
        out = []
        for language in languages:
            stt = self._planner.stt(language)
            tts = self._planner.tts(language)
            missing = tuple(dict.fromkeys((*stt.missing, *tts.missing)))
            out.append(EngineChoice(language=language, stt=stt.label, tts=tts.label,
                                    missing=missing))
        return out

    def detection(self) -> tuple[str | None, tuple[str, ...]]:
        """What recognises speech of an unknown language; loads nothing.

        ``engine:model`` (a multilingual model), or None and the commands that install one.
        """
        plan = self._planner.stt(None)
        return plan.label, plan.missing

    async def stt(self, language: str | None, *, engine: str | None = None) -> SpeechToText:
        """The recogniser for ``language`` (``None`` = one that detects the language).

        ``engine`` (``vosk`` | ``whisper``) overrides ``voice.stt_engine`` for this call.

        Raises:
            SpeechModelMissing: nothing installed serves it (the hint names the fix).
            SpeechEngineFailed: the model is there but would not load.
        """
        served = self._served.get(("stt", language, engine))
        if served is not None:
            return served  # type: ignore[return-value]
        plan = self._planner.stt(language, engine=engine)
        if plan.path is None or plan.engine is None or plan.model is None:
            raise _missing("speech-to-text", language, plan.missing)
        recogniser: SpeechToText = await self._shared(
            f"stt:{plan.engine}:{plan.path}", plan.label or "?", lambda: _load_stt(plan))
        self._served[("stt", language, engine)] = recogniser
        return recogniser

    async def tts(self, language: str, *, voice: str | None = None) -> TextToSpeech:
        """The voice for ``language``: ``voice``, the configured Piper voice, any, espeak-ng.

        Raises:
            SpeechModelMissing: nothing can speak it (the hint names the fix).
            SpeechEngineFailed: the voice is there but would not load.
        """
        served = self._served.get(("tts", language, voice))
        if served is not None:
            return served  # type: ignore[return-value]
        plan = self._planner.tts(language, voice=voice)
        if plan.engine is None:
            raise _missing("voice", language, plan.missing)
        key = f"tts:{plan.engine}:{plan.onnx or plan.language}"
        speaker: TextToSpeech = await self._shared(key, plan.label or "?",
                                                   lambda: _load_tts(plan))
        self._served[("tts", language, voice)] = speaker
        return speaker

    def loaded(self) -> list[str]:
        """``engine:model`` of every model loaded so far (status pages, benchmarks)."""
        return list(self._labels)

    def close(self) -> None:
        """Release every loaded model's threads (idempotent; app shutdown).

        Streams still running fail with ``SpeechEngineFailed``; a later request loads
        the model again.
        """
        models, self._loaded = list(self._loaded.values()), {}
        self._served.clear()
        self._labels.clear()
        for model in models:
            close = getattr(model, "close", None)  # Vosk and Whisper own executors
            if callable(close):
                try:
                    close()
                except Exception as err:  # keep going: the others must close too
                    logger.opt(exception=err).warning("voice: closing a model failed")

    async def _shared(self, key: str, label: str, load: Callable[[], Awaitable[T]]) -> T:
        # One lock per model: the second caller waits for the first one's load
        # instead of loading a second copy (hundreds of MB for Vosk).
        found = self._loaded.get(key)
        if found is not None:
            return found  # type: ignore[return-value]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            found = self._loaded.get(key)
            if found is not None:
                return found  # type: ignore[return-value]
            try:
                model = await load()
            except LibraError:
                raise
            except ImportError as err:
                raise SpeechEngineFailed(f"{label} cannot load: {err}",
                                         hint="pip install 'libra[voice]'") from err
            except Exception as err:  # a foreign engine's own failure, wrapped once here
                raise SpeechEngineFailed(f"could not load {label}: {err}",
                                         hint="`libra models verify` checks the files") from err
            self._loaded[key] = model
            self._labels.append(label)
            logger.info("voice: loaded {}", label)
            return model


def _missing(what: str, language: str | None, fixes: tuple[str, ...]) -> SpeechModelMissing:
    name = language or "language detection"
    return SpeechModelMissing(f"no {what} model installed for {name}",
                              language=language or "auto",
                              hint="; ".join(fixes) or "see `libra doctor`")


async def _load_stt(plan: SttPlan) -> SpeechToText:
    assert plan.path is not None and plan.model is not None
    if plan.engine == "vosk":
        from libra.voice.backends.vosk import VoskRecognizer  # noqa: PLC0415

        return await VoskRecognizer.load(plan.path, model=plan.model,
                                         language=plan.languages[0])
    from libra.voice.backends.whisper import WhisperRecognizer  # noqa: PLC0415

    languages = frozenset(plan.languages) if plan.languages else None
    return await WhisperRecognizer.load(plan.path, model=plan.model, languages=languages)


async def _load_tts(plan: TtsPlan) -> TextToSpeech:
    if plan.engine == "piper":
        assert plan.onnx is not None and plan.voice is not None
        from libra.voice.backends.piper import PiperSpeaker  # noqa: PLC0415

        return await PiperSpeaker.load(plan.onnx, Path(f"{plan.onnx}.json"), voice=plan.voice,
                                       language=plan.language)
    from libra.voice.backends.espeak import EspeakSpeaker  # noqa: PLC0415

    return EspeakSpeaker(plan.language)


def _espeak_languages() -> frozenset[str]:
    try:
        from libra.voice.backends.espeak import espeak_languages  # noqa: PLC0415
    except ImportError:
        return frozenset()
    return espeak_languages()
