"""Piper text-to-speech: a neural voice per language, streamed sentence by sentence.

``PiperVoice.synthesize`` is a generator that makes one chunk per sentence. It runs in
a worker thread and each chunk is handed to the event loop as soon as it exists, one
sentence ahead of the consumer: while the first sentence plays, the second is being
made, and the loop never waits on inference. Piper's own per-voice noise settings
(from the voice's JSON config) are kept: they are what the voice was tuned with.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from libra.errors import SpeechEngineFailed
from libra.voice.api import SpeechAudio
from libra.voice.models.catalogue import repair_hint
from libra.voice.sentences import split_sentences


class PiperSpeaker:
    """One loaded Piper voice (implements :class:`libra.voice.api.TextToSpeech`).

    Thread-safe to share: onnxruntime sessions run concurrently and Piper guards its
    espeak-ng phonemizer with its own lock.
    """

    def __init__(self, model: Any, *, voice: str, language: str) -> None:
        """Wrap a loaded ``piper.PiperVoice``; use :meth:`load` to load one off the loop."""
        self._model = model
        self._voice = voice
        self._language = language
        self._rate = int(model.config.sample_rate)

    @classmethod
    async def load(cls, onnx: Path, config: Path, *, voice: str,
                   language: str) -> PiperSpeaker:
        """Load the voice's ONNX model and JSON config in a worker thread (~2 s).

        Raises:
            SpeechEngineFailed: a file is missing or unreadable, or not a Piper voice
                (the hint names ``libra models verify/pull <voice>``).
        """
        model = await asyncio.to_thread(_load_model, onnx, config, voice)
        return cls(model, voice=voice, language=language)

    @property
    def engine(self) -> str:
        """``piper``."""
        return "piper"

    @property
    def voice(self) -> str:
        """The voice's catalogue name (``en_US-joe-medium``)."""
        return self._voice

    @property
    def language(self) -> str:
        """The language the voice speaks."""
        return self._language

    @property
    def sample_rate(self) -> int:
        """The rate of the PCM this voice makes (from its config; 22050 for ``medium``)."""
        return self._rate

    async def synthesize(self, text: str) -> AsyncIterator[SpeechAudio]:
        """Speech for ``text``, one :class:`SpeechAudio` per sentence as each is made.

        When Piper cuts one of our sentences into several chunks, the first carries
        the sentence's text and the others an empty ``text``, so joining the texts of
        what was played gives what was said.

        Raises:
            SpeechEngineFailed: Piper failed on this text.
        """
        sentences = split_sentences(text)
        if not sentences:
            return
        chunks = self._chunks(sentences)
        loop = asyncio.get_running_loop()
        pending = loop.run_in_executor(None, next, chunks, None)
        try:
            while (audio := await pending) is not None:
                # Start on the next sentence before handing this one over.
                pending = loop.run_in_executor(None, next, chunks, None)
                yield audio
        finally:
            # Stopped early (barge-in): the worker finishes its sentence on its own and
            # the generator is closed when dropped; its error, if any, is not news.
            pending.add_done_callback(_retrieve)

    def _chunks(self, sentences: list[str]) -> Iterator[SpeechAudio]:
        """Synthesise sentence after sentence (runs in a worker thread, step by step)."""
        for sentence in sentences:
            first = True
            try:
                for chunk in self._model.synthesize(sentence):
                    yield SpeechAudio(pcm=chunk.audio_int16_bytes,
                                      sample_rate=int(chunk.sample_rate),
                                      text=sentence if first else "")
                    first = False
            except Exception as err:  # onnxruntime and phonemizer errors are untyped
                raise SpeechEngineFailed(
                    f"Piper voice {self._voice} failed to speak {sentence[:40]!r}: {err}",
                    hint=repair_hint(self._voice)) from err


def _load_model(onnx: Path, config: Path, voice: str) -> Any:
    for path in (onnx, config):
        if not path.is_file():
            raise SpeechEngineFailed(f"Piper voice {voice}: {path} is missing",
                                     hint=repair_hint(voice))
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
        int(settings["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SpeechEngineFailed(
            f"Piper voice {voice}: {config} is not a Piper voice config ({err})",
            hint=repair_hint(voice)) from err
    try:  # piper-tts is an optional extra: import it only when a voice is loaded
        from piper import PiperVoice  # noqa: PLC0415
    except ImportError as err:
        raise SpeechEngineFailed("piper-tts is not installed",
                                 hint="pip install 'libra[voice]'") from err
    try:
        return PiperVoice.load(onnx, config_path=config)
    except Exception as err:  # onnxruntime raises its own untyped errors for bad models
        raise SpeechEngineFailed(f"Piper voice {voice}: cannot load {onnx.name} ({err})",
                                 hint=repair_hint(voice)) from err


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
