"""Voice ports: what the voice pipeline needs from a voice transport, and nothing more.

Media flows as streams, control as events: received audio reaches a consumer through
:meth:`VoiceLink.audio` (one ordered, bounded stream per speaker), playback takes an
async iterable of PCM, and the bus carries only the facts around them
(``VoiceConnected``, ``VoiceSpeakingStarted``/``Stopped``, ``VoiceFailed``,
``VoiceDisconnected``). Dependency neutral on purpose: no hikari, no sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioChunk:
    """Decoded PCM from one member (48 kHz, stereo, s16le), ``voice.receive_chunk_ms`` long.

    The last chunk of a talk spurt may be shorter (whole 20 ms frames); ``sequence``
    is the RTP sequence number of the chunk's first frame.
    """

    guild_id: int
    user_id: int
    pcm: bytes
    sequence: int


class Playback(Protocol):
    """One running playback started by :meth:`VoiceLink.play`."""

    @property
    def done(self) -> bool:
        """Whether playback has finished (or was stopped)."""
        ...

    def stop(self) -> None:
        """Interrupt playback now (barge-in)."""
        ...

    async def wait(self) -> None:
        """Wait until the playback has been sent to the end."""
        ...

    async def first_frame(self) -> float | None:
        """When its first audio frame was sent (``time.perf_counter``); ``None``: never."""
        ...


class VoiceLink(Protocol):
    """One guild's live voice connection, as the voice pipeline sees it.

    Received audio: :meth:`speakers` announces each member whose audio starts
    arriving, :meth:`audio` yields one member's chunks in sequence order. Each
    member's buffer is bounded: a consumer that falls behind loses the *oldest*
    chunks (counted in the snapshot's ``audio_dropped``), it never blocks the socket
    reader nor grows memory. Audio is buffered only while someone listens (a
    :meth:`speakers` iterator or the member's :meth:`audio` iterator is open).
    """

    @property
    def guild_id(self) -> int:
        """The guild of this connection."""
        ...

    @property
    def channel_id(self) -> int:
        """The voice channel the connection is in."""
        ...

    @property
    def is_alive(self) -> bool:
        """Whether the connection has not closed for good."""
        ...

    def speakers(self) -> AsyncIterator[int]:
        """Yield the user id of every member whose received audio stream opens.

        Members already buffered come first; ends when the connection closes.
        """
        ...

    def audio(self, user_id: int) -> AsyncIterator[AudioChunk]:
        """Yield ``user_id``'s received audio in order.

        Ends when the member leaves the channel or the connection closes (after the
        chunks still buffered). One consumer per member at a time.
        """
        ...

    async def play(self, source: AsyncIterable[bytes], timeout: float = 10.0) -> Playback:
        """Play 48 kHz stereo s16le PCM (any chunk size); a playback in progress stops."""
        ...

    async def stop(self) -> None:
        """Stop the current playback, if any, and wait for its closing silence."""
        ...

    async def wait_media_ready(self, timeout: float = 10.0) -> None:
        """Wait until audio can be sent."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """Diagnostics for ``/voice status``, metrics and logs (JSON-ready)."""
        ...

    async def disconnect(self) -> None:
        """Leave the channel and wait until the connection has closed (idempotent)."""
        ...


class VoiceRegistry(Protocol):
    """The live voice links, one per guild, for commands, status pages and metrics."""

    def get(self, guild_id: int) -> VoiceLink | None:
        """The guild's live link, if any."""
        ...

    def links(self) -> list[VoiceLink]:
        """Every live link, by guild id order."""
        ...

    def snapshots(self) -> list[dict[str, Any]]:
        """Every live link's diagnostics, by guild id order."""
        ...

    def __len__(self) -> int:
        """How many links are live."""
        ...


# --- speech: the transport-free pipeline's ports --------------------------------------

SPEECH_RATE = 16_000
"""Sample rate (mono s16le) that voice activity detection and speech-to-text take."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    """What a speech-to-text engine heard so far (partial) or in the end (final)."""

    text: str
    final: bool
    language: str | None = None
    """ISO 639-1 code when the engine knows it (a Vosk model is one language; Whisper
    detects); ``None`` = ask Libra's own detector."""


class VoiceActivityDetector(Protocol):
    """Judges 16 kHz mono s16le frames as speech or not; one instance per speaker."""

    @property
    def engine(self) -> str:
        """The engine's name (``silero``, ``webrtc``)."""
        ...

    @property
    def frame_ms(self) -> int:
        """Milliseconds of audio each call to :meth:`speech_probability` takes."""
        ...

    def speech_probability(self, frame: bytes) -> float:
        """Probability in ``[0, 1]`` that ``frame`` (exactly ``frame_ms`` long) is speech.

        Cheap enough to call on the event loop (well under 1 ms per frame).
        """
        ...

    def reset(self) -> None:
        """Forget the state of the previous utterance."""
        ...


class SpeechToText(Protocol):
    """One loaded speech-to-text model. Thread-safe to share; each stream is its own."""

    @property
    def engine(self) -> str:
        """The engine's name (``vosk``, ``whisper``)."""
        ...

    @property
    def model(self) -> str:
        """The model's catalogue name (for status pages and logs)."""
        ...

    @property
    def languages(self) -> frozenset[str] | None:
        """Languages the model recognises; ``None`` = many (it detects the language)."""
        ...

    def stream(self, pcm: AsyncIterable[bytes], *,
               language: str | None = None) -> AsyncIterator[Transcript]:
        """16 kHz mono s16le chunks in; partials as they change, then exactly one final.

        The final comes once ``pcm`` ends. Heavy work runs off the event loop.
        ``language`` is a hint for multilingual models (``None`` = detect).
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechAudio:
    """Synthesised speech for one sentence (or part of one): mono s16le PCM."""

    pcm: bytes
    sample_rate: int
    text: str
    """What this audio says (for mirroring and for storing what was actually spoken)."""


class TextToSpeech(Protocol):
    """One loaded voice. Thread-safe to share."""

    @property
    def engine(self) -> str:
        """The engine's name (``piper``, ``espeak-ng``)."""
        ...

    @property
    def voice(self) -> str:
        """The voice's name (for status pages and logs)."""
        ...

    @property
    def language(self) -> str:
        """The language the voice speaks (ISO 639-1)."""
        ...

    def synthesize(self, text: str) -> AsyncIterator[SpeechAudio]:
        """Speech for ``text`` (plain, speakable text), one chunk per sentence as it is made.

        Heavy work runs off the event loop; the first sentence is yielded before the
        next is synthesised.
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineChoice:
    """Which engine and model serve one language, or why none can (``libra doctor``)."""

    language: str
    stt: str | None
    """``engine:model`` that recognises the language, or None."""
    tts: str | None
    """``engine:voice`` that speaks the language, or None."""
    missing: tuple[str, ...] = ()
    """What to run to fix what is missing (``libra models pull …``), in order."""


class SpeechEngines(Protocol):
    """The engines chosen by configuration per language, loaded once and shared."""

    def new_vad(self) -> VoiceActivityDetector:
        """A fresh detector (they keep per-speaker state)."""
        ...

    async def stt(self, language: str | None, *, engine: str | None = None) -> SpeechToText:
        """The recogniser for ``language`` (``None`` = one that detects the language).

        ``engine`` (``vosk`` | ``whisper``) overrides ``voice.stt_engine`` for this call.

        Raises:
            SpeechModelMissing: no installed model serves it (the error names the
                ``libra models pull`` command).
        """
        ...

    async def tts(self, language: str, *, voice: str | None = None) -> TextToSpeech:
        """The voice for ``language``: the configured Piper voice, else espeak-ng.

        ``voice`` (a Piper voice's catalogue name or ``.onnx`` path) overrides the
        configured one for this call.

        Raises:
            SpeechModelMissing: neither a Piper voice nor espeak-ng can speak it.
        """
        ...

    def choices(self, languages: Iterable[str]) -> list[EngineChoice]:
        """What serves each language, without loading anything (``libra doctor``)."""
        ...
