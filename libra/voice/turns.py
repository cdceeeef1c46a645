"""Turn taking for one speaker: voice activity in, speech turns out.

:class:`TurnDetector` is a pure, synchronous state machine. Feed it a speaker's
16 kHz mono s16le PCM in chunks of any size (:meth:`~TurnDetector.push`); it cuts
them into the detector's frames, asks the :class:`VoiceActivityDetector` for a
speech probability per frame, and returns what happened as events:

* :class:`SpeechStarted` — a turn opened; carries ~300 ms of pre-roll so the first
  syllable (which the detector only recognises once it is under way) is not lost.
* :class:`UtteranceAudio` — audio that belongs to the open turn, so a caller can
  stream it into speech-to-text while the person is still talking.
* :class:`TurnEnded` — the turn is over: enough trailing silence, or too long.
* :class:`TurnDiscarded` — what opened was too short to be a turn (a cough, a click,
  keyboard noise); throw its audio away.
* :class:`PauseStarted` / :class:`SpeechResumed` (only with ``pause_ms``) — the speaker
  has been silent for ``pause_ms`` inside a turn, and then spoke again. A caller whose
  speech-to-text works only on whole utterances (Whisper) transcribes the turn so far
  on a pause, during the endpoint wait: if the turn then ends without new speech the
  result is the final, if speech resumes it is thrown away.

Hysteresis keeps noise from flapping the state: a turn opens only after
``onset_ms`` of consecutive frames at or above ``start_threshold``, stays in speech
while frames are at or above the lower ``stop_threshold``, and an isolated speech
frame in the trailing silence does not restart the wait (it takes ``resume_ms`` of
speech). The wait itself adapts to the words: :meth:`~TurnDetector.hint` passes the
latest partial transcript to :func:`~libra.voice.endpointing.endpoint_wait_ms`.

All times are *audio* time in milliseconds since the detector was created (frames
consumed × frame length), so they are exact and reproducible whatever the wall
clock does; the pipeline pairs them with wall-clock stamps for its latency report.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from libra.config import VoiceSettings
from libra.errors import ConfigError
from libra.voice.api import VoiceActivityDetector
from libra.voice.endpointing import endpoint_wait_ms
from libra.voice.vad import frame_bytes

__all__ = [
    "EndReason",
    "PauseStarted",
    "SpeechResumed",
    "SpeechStarted",
    "TurnDetector",
    "TurnDiscarded",
    "TurnEnded",
    "TurnEvent",
    "UtteranceAudio",
    "endpoint_wait_ms",
]


class EndReason(StrEnum):
    """Why a turn ended."""

    SILENCE = "silence"
    MAX_LENGTH = "max_length"


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechStarted:
    """A turn opened; ``audio`` is its beginning (pre-roll and the onset frames)."""

    speech_start_ms: int
    """Audio time where speech was first detected (start of the onset frames)."""
    audio_start_ms: int
    """Audio time where ``audio`` begins (``speech_start_ms`` minus the pre-roll)."""
    audio: bytes
    """16 kHz mono s16le from ``audio_start_ms`` to now; the turn's audio is this
    followed by every :class:`UtteranceAudio` until the turn ends."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UtteranceAudio:
    """More audio of the open turn (speech and the silence inside or after it)."""

    start_ms: int
    pcm: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnEnded:
    """The open turn is over and should be answered."""

    reason: EndReason
    speech_start_ms: int
    speech_end_ms: int
    """Audio time where the last speech frame ended."""
    end_ms: int
    """Audio time the end was decided (``speech_end_ms`` + the silence waited)."""
    speech_ms: int
    """Length of the speech, from its start to its last speech frame."""
    silence_ms: int
    """Trailing silence waited before ending (the latency "endpoint wait")."""
    endpoint_wait_ms: int
    """The wait that applied (the base, or as adapted by the last :meth:`hint`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnDiscarded:
    """What opened a turn was too short to be one (cough, click, keyboard)."""

    speech_start_ms: int
    speech_end_ms: int
    speech_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseStarted:
    """The open turn's speaker has been silent ``pause_ms`` (emitted once per pause).

    Every audio of the turn up to ``at_ms`` has been handed out before this event.
    """

    speech_end_ms: int
    """Audio time where the last speech frame ended: equal to the
    :attr:`TurnEnded.speech_end_ms` of the turn if nobody speaks again before it ends."""
    at_ms: int
    """Audio time now (``speech_end_ms`` + the silence so far)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechResumed:
    """Speech came back after a :class:`PauseStarted`: the turn goes on."""

    at_ms: int


TurnEvent = (SpeechStarted | UtteranceAudio | TurnEnded | TurnDiscarded | PauseStarted
             | SpeechResumed)


class TurnDetector:
    """Per-speaker endpointing: PCM chunks in, turn events out (no I/O, no asyncio)."""

    def __init__(
        self,
        vad: VoiceActivityDetector,
        *,
        endpoint_silence_ms: int = 500,
        min_utterance_ms: int = 300,
        max_utterance_s: float = 30.0,
        pre_roll_ms: int = 300,
        onset_ms: int = 90,
        resume_ms: int = 60,
        start_threshold: float = 0.5,
        stop_threshold: float = 0.35,
        pause_ms: int | None = None,
    ) -> None:
        """Build a detector around ``vad`` (which it owns from now on).

        Args:
            vad: a fresh voice activity detector for this speaker.
            endpoint_silence_ms: trailing silence that ends a turn (before hints).
            min_utterance_ms: shorter speech is discarded, not a turn.
            max_utterance_s: a turn this long ends even while the speaker talks.
            pre_roll_ms: audio before the detected onset handed over with it.
            onset_ms: consecutive speech needed to open a turn (rounded up to frames).
            resume_ms: consecutive speech that cancels a trailing-silence wait.
            start_threshold: probability at which a frame counts as speech to open.
            stop_threshold: probability under which a frame counts as silence in a
                turn (lower than ``start_threshold``: hysteresis).
            pause_ms: trailing silence that announces a :class:`PauseStarted` (and
                its :class:`SpeechResumed`); ``None`` = no pause events.

        Raises:
            ConfigError: a value is out of range.
        """
        if endpoint_silence_ms <= 0 or min_utterance_ms < 0 or max_utterance_s <= 0:
            raise ConfigError(
                "turn detection needs endpoint_silence_ms > 0, min_utterance_ms >= 0 "
                "and max_utterance_s > 0",
                hint="check voice.endpoint_silence_ms, voice.min_utterance_ms, "
                "voice.max_utterance_s",
            )
        if pause_ms is not None and pause_ms <= 0:
            raise ConfigError("turn detection needs pause_ms > 0 (or None)")
        if not 0.0 <= stop_threshold <= start_threshold <= 1.0:
            raise ConfigError("VAD thresholds need 0 <= stop_threshold <= start_threshold <= 1")
        self._vad = vad
        self._frame_ms = vad.frame_ms
        self._frame_bytes = frame_bytes(vad.frame_ms)
        self._base_wait_ms = endpoint_silence_ms
        self._min_utterance_ms = min_utterance_ms
        self._max_utterance_ms = round(max_utterance_s * 1000)
        self._onset_frames = max(1, math.ceil(onset_ms / self._frame_ms))
        self._resume_frames = max(1, math.ceil(resume_ms / self._frame_ms))
        self._start_threshold = start_threshold
        self._stop_threshold = stop_threshold
        self._pause_ms = pause_ms
        self._pre_roll: deque[bytes] = deque(maxlen=max(0, math.ceil(pre_roll_ms / self._frame_ms)))
        self._pending = bytearray()
        self._clock_ms = 0
        self._reset_turn()

    @classmethod
    def from_settings(cls, vad: VoiceActivityDetector, settings: VoiceSettings, *,
                      pause_ms: int | None = None) -> TurnDetector:
        """A detector with the ``voice.*`` endpointing settings (and ``pause_ms``)."""
        return cls(
            vad,
            endpoint_silence_ms=settings.endpoint_silence_ms,
            min_utterance_ms=settings.min_utterance_ms,
            max_utterance_s=settings.max_utterance_s,
            pause_ms=pause_ms,
        )

    # --- state ------------------------------------------------------------------------

    def _reset_turn(self) -> None:
        self._in_turn = False
        self._onset: list[bytes] = []
        self._speech_start_ms = 0
        self._speech_end_ms = 0
        self._silence_ms = 0
        self._resume_run = 0
        self._wait_ms = self._base_wait_ms
        self._paused = False

    @property
    def vad(self) -> VoiceActivityDetector:
        """The detector judging the frames."""
        return self._vad

    @property
    def in_turn(self) -> bool:
        """Whether a turn is open (between :class:`SpeechStarted` and its end)."""
        return self._in_turn

    @property
    def position_ms(self) -> int:
        """Audio time consumed so far (whole frames)."""
        return self._clock_ms

    @property
    def endpoint_wait_ms(self) -> int:
        """The trailing silence that would end the open turn now."""
        return self._wait_ms

    @property
    def silence_ms(self) -> int:
        """Trailing silence in the open turn so far (0 while speech goes on)."""
        return self._silence_ms if self._in_turn else 0

    # --- input ------------------------------------------------------------------------

    def push(self, pcm: bytes) -> list[TurnEvent]:
        """Feed 16 kHz mono s16le of any length; return the events it caused, in order.

        Bytes that do not fill a frame (even an odd byte) wait for the next push.
        """
        self._pending += pcm
        size = self._frame_bytes
        count = len(self._pending) // size
        events: list[TurnEvent] = []
        turn_audio = bytearray()
        turn_audio_start = 0
        for index in range(count):
            frame = bytes(self._pending[index * size : (index + 1) * size])
            was_in_turn = self._in_turn
            frame_events = self._step(frame)
            if was_in_turn:
                if not turn_audio:
                    turn_audio_start = self._clock_ms - self._frame_ms
                turn_audio += frame
            if frame_events:
                # Audio of the turn goes out before the event that ends (or follows) it.
                if turn_audio:
                    events.append(UtteranceAudio(start_ms=turn_audio_start, pcm=bytes(turn_audio)))
                    turn_audio.clear()
                events.extend(frame_events)
        del self._pending[: count * size]
        if turn_audio:
            events.append(UtteranceAudio(start_ms=turn_audio_start, pcm=bytes(turn_audio)))
        return events

    def hint(self, partial_text: str, language: str | None) -> list[TurnEvent]:
        """Adapt the endpoint wait to the latest partial transcript of the open turn.

        A finished sentence shortens the wait, words left hanging lengthen it (see
        :func:`~libra.voice.endpointing.endpoint_wait_ms`). When the silence already
        waited reaches the new, shorter wait, the turn ends now: handle the returned
        events as those of :meth:`push`. Outside a turn this does nothing.
        """
        if not self._in_turn:
            return []
        self._wait_ms = endpoint_wait_ms(partial_text, language, self._base_wait_ms)
        if self._silence_ms > 0 and self._silence_ms >= self._wait_ms:
            return self._end_turn(EndReason.SILENCE)
        return []

    def reset(self) -> None:
        """Forget any open turn, buffered audio and the detector's state.

        The audio clock keeps running, so later timestamps stay comparable.
        """
        self._pending.clear()
        self._pre_roll.clear()
        self._vad.reset()
        self._reset_turn()

    # --- the state machine --------------------------------------------------------------

    def _step(self, frame: bytes) -> list[TurnEvent]:
        probability = self._vad.speech_probability(frame)
        frame_start = self._clock_ms
        self._clock_ms += self._frame_ms
        if not self._in_turn:
            return self._step_idle(frame, frame_start, probability)
        events: list[TurnEvent] = []
        if probability >= self._stop_threshold:
            self._resume_run += 1
            if self._silence_ms == 0 or self._resume_run >= self._resume_frames:
                if self._silence_ms > 0:
                    # Speech resumed after a silence: a wait judged from the words up
                    # to it does not hold for the words that follow.
                    self._wait_ms = self._base_wait_ms
                self._silence_ms = 0
                self._speech_end_ms = self._clock_ms
                if self._paused:
                    self._paused = False
                    events.append(SpeechResumed(at_ms=self._clock_ms))
        else:
            self._resume_run = 0
        if self._speech_end_ms < self._clock_ms:
            self._silence_ms = self._clock_ms - self._speech_end_ms
        if self._clock_ms - self._speech_start_ms >= self._max_utterance_ms:
            return events + self._end_turn(EndReason.MAX_LENGTH)
        if self._silence_ms >= self._wait_ms:
            return events + self._end_turn(EndReason.SILENCE)
        if (self._pause_ms is not None and not self._paused
                and self._silence_ms >= self._pause_ms):
            self._paused = True
            events.append(PauseStarted(speech_end_ms=self._speech_end_ms, at_ms=self._clock_ms))
        return events

    def _step_idle(self, frame: bytes, frame_start: int, probability: float) -> list[TurnEvent]:
        if probability < self._start_threshold:
            # The onset run broke: its frames become pre-roll for the next attempt.
            self._pre_roll.extend(self._onset)
            self._onset.clear()
            self._pre_roll.append(frame)
            return []
        if not self._onset:
            self._speech_start_ms = frame_start
        self._onset.append(frame)
        if len(self._onset) < self._onset_frames:
            return []
        audio_start = self._speech_start_ms - len(self._pre_roll) * self._frame_ms
        audio = b"".join(self._pre_roll) + b"".join(self._onset)
        self._pre_roll.clear()
        self._onset.clear()
        self._in_turn = True
        self._speech_end_ms = self._clock_ms
        self._silence_ms = 0
        self._resume_run = 0
        self._wait_ms = self._base_wait_ms
        return [SpeechStarted(speech_start_ms=self._speech_start_ms,
                              audio_start_ms=audio_start, audio=audio)]

    def _end_turn(self, reason: EndReason) -> list[TurnEvent]:
        speech_ms = self._speech_end_ms - self._speech_start_ms
        event: TurnEvent
        if reason is EndReason.SILENCE and speech_ms < self._min_utterance_ms:
            event = TurnDiscarded(speech_start_ms=self._speech_start_ms,
                                  speech_end_ms=self._speech_end_ms, speech_ms=speech_ms)
        else:
            event = TurnEnded(
                reason=reason,
                speech_start_ms=self._speech_start_ms,
                speech_end_ms=self._speech_end_ms,
                end_ms=self._clock_ms,
                speech_ms=speech_ms,
                silence_ms=self._clock_ms - self._speech_end_ms,
                endpoint_wait_ms=self._wait_ms,
            )
        self._reset_turn()
        return [event]
