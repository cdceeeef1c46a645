"""espeak-ng text-to-speech: the fallback voice for languages without a Piper voice.

Crude but everywhere: Debian's ``espeak-ng`` speaks about a hundred languages (the
only offline voice here for Korean, Japanese and Chinese). Each sentence is one call
of the binary through an asyncio subprocess (text on stdin, WAV on stdout), so the
event loop never blocks, and the next sentence's process starts while the current one
is handed over. Libra's language codes are mapped to espeak voice names
(``zh-cn`` → ``cmn``, ``en`` → ``en-us``).
"""

from __future__ import annotations

import asyncio
import shutil
import struct
import subprocess
from collections.abc import AsyncIterator

from libra.errors import SpeechEngineFailed
from libra.language.names import KNOWN_CODES
from libra.voice.api import SpeechAudio
from libra.voice.sentences import split_sentences

DEFAULT_BINARY = "espeak-ng"
_INSTALL_HINT = "install it with `apt-get install espeak-ng` (Debian/Ubuntu)"
_TIMEOUT_S = 30.0
"""Far more than any sentence takes (~20 ms); only a hung process waits this long."""
_VOICES: dict[str, str] = {
    "en": "en-us", "fr": "fr-fr", "zh-cn": "cmn", "zh-tw": "cmn", "no": "nb",
    "tl": "fil",
}
"""Libra codes whose espeak voice has another name (the rest are the same)."""


def espeak_voice(language: str) -> str:
    """The espeak-ng voice name for a Libra language code."""
    return _VOICES.get(language, language)


def espeak_languages(binary: str = DEFAULT_BINARY) -> frozenset[str]:
    """Libra language codes espeak-ng can speak; empty when the binary is missing.

    Runs ``espeak-ng --voices`` (a few milliseconds); callers that ask often cache it.
    """
    path = shutil.which(binary)
    if path is None:
        return frozenset()
    try:
        listing = subprocess.run([path, "--voices"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    names = {fields[1] for line in listing.splitlines()[1:]
             if len(fields := line.split()) >= 2}
    return frozenset(code for code in KNOWN_CODES if espeak_voice(code) in names)


class EspeakSpeaker:
    """espeak-ng speaking one language (implements :class:`libra.voice.api.TextToSpeech`).

    Thread-safe to share: every sentence is its own process.
    """

    def __init__(self, language: str, *, binary: str = DEFAULT_BINARY) -> None:
        """Speak ``language`` (a Libra code) with the ``binary`` found on PATH.

        Raises:
            SpeechEngineFailed: espeak-ng is not installed (the hint says how).
        """
        path = shutil.which(binary)
        if path is None:
            raise SpeechEngineFailed(f"espeak-ng ({binary}) is not installed",
                                     hint=_INSTALL_HINT)
        self._binary = path
        self._language = language
        self._voice = espeak_voice(language)

    @property
    def engine(self) -> str:
        """``espeak-ng``."""
        return "espeak-ng"

    @property
    def voice(self) -> str:
        """The espeak voice name (``ko``, ``cmn``)."""
        return self._voice

    @property
    def language(self) -> str:
        """The language spoken."""
        return self._language

    async def synthesize(self, text: str) -> AsyncIterator[SpeechAudio]:
        """Speech for ``text``, one :class:`SpeechAudio` per sentence as each is made.

        Raises:
            SpeechEngineFailed: the binary vanished, failed or produced no audio.
        """
        sentences = split_sentences(text)
        if not sentences:
            return
        pending = asyncio.create_task(self._speak(sentences[0]), name="espeak-sentence")
        try:
            for index in range(len(sentences)):
                audio = await pending
                if index + 1 < len(sentences):
                    pending = asyncio.create_task(self._speak(sentences[index + 1]),
                                                  name="espeak-sentence")
                yield audio
        finally:
            if not pending.done():
                pending.cancel()  # _speak kills its process on cancellation

    async def _speak(self, sentence: str) -> SpeechAudio:
        try:
            process = await asyncio.create_subprocess_exec(
                self._binary, "-v", self._voice, "-b", "1", "--stdin", "--stdout",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
        except OSError as err:
            raise SpeechEngineFailed(f"cannot run espeak-ng ({self._binary}): {err}",
                                     hint=_INSTALL_HINT) from err
        try:
            async with asyncio.timeout(_TIMEOUT_S):
                wav, errors = await process.communicate(sentence.encode("utf-8"))
        except TimeoutError as err:
            raise SpeechEngineFailed(f"espeak-ng took over {_TIMEOUT_S:.0f} s on a sentence",
                                     hint=_INSTALL_HINT) from err
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        if process.returncode != 0:
            detail = errors.decode("utf-8", "replace").strip() or f"exit {process.returncode}"
            raise SpeechEngineFailed(
                f"espeak-ng could not speak {self._language} (voice {self._voice}): {detail}",
                hint="`espeak-ng --voices` lists the voices it has")
        pcm, rate = _parse_wav(wav)
        return SpeechAudio(pcm=pcm, sample_rate=rate, text=sentence)


def _parse_wav(wav: bytes) -> tuple[bytes, int]:
    """PCM and rate of espeak-ng's streamed WAV (its sizes are placeholders).

    Raises:
        SpeechEngineFailed: not 16-bit mono WAV.
    """
    if len(wav) < 12 or wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise SpeechEngineFailed("espeak-ng wrote no WAV audio", hint=_INSTALL_HINT)
    offset, rate = 12, 0
    while offset + 8 <= len(wav):
        chunk_id, size = wav[offset:offset + 4], struct.unpack_from("<I", wav, offset + 4)[0]
        body = offset + 8
        if chunk_id == b"fmt " and body + 16 <= len(wav):
            _, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", wav, body)
            if channels != 1 or bits != 16:
                raise SpeechEngineFailed(
                    f"espeak-ng wrote {channels}-channel {bits}-bit audio, not 16-bit mono")
        elif chunk_id == b"data":
            if not rate:
                break
            # Written while streaming, the data size is a placeholder: take the rest.
            data = wav[body:]
            return data[: len(data) - len(data) % 2], rate
        offset = body + size + size % 2
    raise SpeechEngineFailed("espeak-ng wrote a WAV without audio data", hint=_INSTALL_HINT)
