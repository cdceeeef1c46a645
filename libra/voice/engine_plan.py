"""The rules that pick a speech engine and model per language, without loading anything.

Speech-to-text (``voice.stt_engine``):

- ``auto``: Vosk when a Vosk model for the language is installed (streaming partials,
  light), else Whisper; ``vosk`` / ``whisper`` force one.
- Whisper's model: ``voice.whisper_model`` (a catalogue name or a CTranslate2 folder),
  else an installed multilingual model (one copy serves every language and detects
  which one is spoken), else, for English, an ``.en`` one; larger before smaller.
- No language (``None``): the single configured language's engine, else a multilingual
  Whisper model, the only kind that detects the language.

Text-to-speech: the voice asked for, else ``voice.tts_voices[language]``, else an
installed Piper voice for the language (catalogue order), else espeak-ng if it speaks
the language.

What is missing comes back as the exact commands that fix it, in the order to run them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from libra.config import VoiceSettings
from libra.errors import ModelUnknown
from libra.voice.models.catalogue import Catalogue, ModelKind, ModelSpec
from libra.voice.models.store import ModelStore

_WHISPER_EXTRA = "pip install 'libra[whisper]'"
_VOICE_EXTRA = "pip install 'libra[voice]'"
_ESPEAK = "apt-get install espeak-ng"
_WHISPER_ORDER = ("whisper-base", "whisper-tiny", "whisper-base.en", "whisper-tiny.en")
"""Installed Whisper models in order of preference (multilingual first, see above)."""


def serves(codes: tuple[str, ...], language: str) -> bool:
    """Whether a model for ``codes`` serves ``language`` (``zh`` matches ``zh-cn``)."""
    return any(code == language or code.startswith(f"{language}-")
               or language.startswith(f"{code}-") for code in codes)


def pull(name: str) -> str:
    """The command that installs a catalogue model."""
    return f"libra models pull {name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SttPlan:
    """The recogniser chosen for a language, or what to run to get one."""

    engine: str | None = None
    model: str | None = None
    path: Path | None = None
    languages: tuple[str, ...] = ()
    """What the model recognises; empty = many (it detects)."""
    missing: tuple[str, ...] = ()

    @property
    def label(self) -> str | None:
        """``engine:model``, or None when nothing serves the language."""
        return f"{self.engine}:{self.model}" if self.path is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class TtsPlan:
    """The voice chosen for a language, or what to run to get one."""

    language: str
    engine: str | None = None
    voice: str | None = None
    onnx: Path | None = None
    """Piper's model file (its config is beside it, ``.onnx.json``)."""
    missing: tuple[str, ...] = ()

    @property
    def label(self) -> str | None:
        """``engine:voice``, or None when nothing speaks the language."""
        return f"{self.engine}:{self.voice}" if self.engine is not None else None


class EnginePlanner:
    """Applies the rules above to what the models folder and packages hold right now."""

    def __init__(self, settings: VoiceSettings, store: ModelStore, catalogue: Catalogue,
                 espeak_languages: Callable[[], frozenset[str]]) -> None:
        self._settings = settings
        self._store = store
        self._catalogue = catalogue
        self._espeak_source = espeak_languages
        self._espeak: frozenset[str] | None = None

    # -- speech-to-text ------------------------------------------------------------------

    def stt(self, language: str | None, *, engine: str | None = None) -> SttPlan:
        """The recogniser for ``language`` with ``engine`` (default ``voice.stt_engine``)."""
        engine = engine or self._settings.stt_engine
        if language is None:
            if len(self._settings.languages) == 1:
                return self.stt(self._settings.languages[0], engine=engine)
            if engine == "vosk":  # a Vosk model knows one language: it cannot detect
                return SttPlan(missing=(pull("whisper-tiny"),))
            return self._whisper(None)
        if engine == "whisper":
            return self._whisper(language)
        vosk = self._vosk(language)
        if engine == "vosk" or vosk.path is not None:
            return vosk
        whisper = self._whisper(language)
        if whisper.path is not None:
            return whisper
        # Neither: Vosk's small model is the light default where the catalogue has one.
        return vosk if vosk.missing else whisper

    def _vosk(self, language: str) -> SttPlan:
        specs = [s for s in self._kind(ModelKind.VOSK) if serves(s.languages, language)]
        if not specs:
            return SttPlan(missing=())
        for spec in specs:
            found = self._store.installed(spec)
            if found is not None:
                if importlib.util.find_spec("vosk") is None:
                    return SttPlan(missing=(_VOICE_EXTRA,))
                return SttPlan(engine="vosk", model=spec.name, path=found.path,
                               languages=(language,))
        return SttPlan(missing=(pull(specs[0].name),))

    def _whisper(self, language: str | None) -> SttPlan:
        extra = () if importlib.util.find_spec("faster_whisper") else (_WHISPER_EXTRA,)
        chosen = self._settings.whisper_model
        if chosen is not None:
            plan = self._named_whisper(chosen)
        else:
            plan = self._installed_whisper(language)
        if plan.path is None:
            return SttPlan(missing=(*extra, *plan.missing))
        if language is not None and plan.languages and not serves(plan.languages, language):
            return SttPlan(missing=(*extra, pull("whisper-tiny")))
        return SttPlan(missing=extra) if extra else plan

    def _named_whisper(self, name: str) -> SttPlan:
        folder = Path(name).expanduser()
        if folder.is_dir():  # an operator's own CTranslate2 conversion
            english = folder.name.endswith(".en")
            return SttPlan(engine="whisper", model=folder.name, path=folder,
                           languages=("en",) if english else ())
        try:
            spec = self._catalogue.get(name if name.startswith("whisper-") else f"whisper-{name}")
        except ModelUnknown:
            return SttPlan(missing=(f"set voice.whisper_model to a catalogue name "
                                    f"(`libra models list --kind whisper`), not {name!r}",))
        return self._whisper_spec(spec) or SttPlan(missing=(pull(spec.name),))

    def _installed_whisper(self, language: str | None) -> SttPlan:
        specs = {s.name: s for s in self._kind(ModelKind.WHISPER)}
        for name in _WHISPER_ORDER:
            spec = specs.get(name)
            if spec is None or (language is None and len(spec.languages) == 1):
                continue
            if language is not None and not serves(spec.languages, language):
                continue
            plan = self._whisper_spec(spec)
            if plan is not None:
                return plan
        wanted = "whisper-tiny.en" if language == "en" else "whisper-tiny"
        return SttPlan(missing=(pull(wanted),))

    def _whisper_spec(self, spec: ModelSpec) -> SttPlan | None:
        found = self._store.installed(spec)
        if found is None:
            return None
        multi = len(spec.languages) > 1
        return SttPlan(engine="whisper", model=spec.name, path=found.path,
                       languages=() if multi else spec.languages)

    # -- text-to-speech ------------------------------------------------------------------

    def tts(self, language: str, *, voice: str | None = None) -> TtsPlan:
        """The voice for ``language``: ``voice``, the configured one, Piper, espeak-ng."""
        voice = voice or self._configured_voice(language)
        piper_ok = importlib.util.find_spec("piper") is not None
        if voice is not None:
            plan = self._named_voice(voice, language)
            if plan.onnx is not None and not piper_ok:
                return TtsPlan(language=language, missing=(_VOICE_EXTRA,))
            return plan
        specs = [s for s in self._kind(ModelKind.PIPER) if serves(s.languages, language)]
        if piper_ok:
            for spec in specs:
                found = self._store.installed(spec)
                if found is not None:
                    return TtsPlan(language=language, engine="piper", voice=spec.name,
                                   onnx=found.path / f"{spec.name}.onnx")
        if self._espeak_speaks(language):
            return TtsPlan(language=language, engine="espeak-ng", voice=language)
        if specs:
            fixes = (pull(specs[0].name),) if piper_ok else (_VOICE_EXTRA, pull(specs[0].name))
            return TtsPlan(language=language, missing=fixes)
        return TtsPlan(language=language, missing=(_ESPEAK,))

    def _configured_voice(self, language: str) -> str | None:
        voices = self._settings.tts_voices
        if language in voices:
            return voices[language]
        for code, name in voices.items():
            if serves((code,), language):
                return name
        return None

    def _named_voice(self, name: str, language: str) -> TtsPlan:
        if name.endswith(".onnx"):
            onnx = Path(name).expanduser()
            if onnx.is_file() and Path(f"{onnx}.json").is_file():
                return TtsPlan(language=language, engine="piper", voice=onnx.stem, onnx=onnx)
            return TtsPlan(language=language,
                           missing=(f"put {onnx.name} and {onnx.name}.json at {onnx.parent}",))
        try:
            spec = self._catalogue.get(name)
        except ModelUnknown:
            return TtsPlan(language=language, missing=(
                f"use a Piper voice from `libra models list --kind piper`, not {name!r}",))
        found = self._store.installed(spec)
        if found is None:
            return TtsPlan(language=language, missing=(pull(spec.name),))
        return TtsPlan(language=language, engine="piper", voice=spec.name,
                       onnx=found.path / f"{spec.name}.onnx")

    def _espeak_speaks(self, language: str) -> bool:
        if self._espeak is None:
            self._espeak = self._espeak_source()
        return any(serves((code,), language) for code in self._espeak)

    def _kind(self, kind: ModelKind) -> list[ModelSpec]:
        return [s for s in self._catalogue if s.kind is kind]
