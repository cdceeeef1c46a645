"""The two voice activity detectors on real speech (Piper) and generated noise."""

from __future__ import annotations

import numpy as np
import pytest

from libra.errors import AudioInvalid, ConfigError
from libra.voice.api import VoiceActivityDetector
from libra.voice.vad import ENGINES, SileroDetector, WebrtcDetector, frame_bytes, new_detector
from tests.fakes import noise as N


@pytest.fixture(scope="module")
def sentence() -> np.ndarray:
    return N.speech16k("The quick brown fox jumps over the lazy dog.")


def probabilities(vad: VoiceActivityDetector, samples: np.ndarray) -> np.ndarray:
    pcm = N.to_pcm(samples)
    size = frame_bytes(vad.frame_ms)
    return np.array([vad.speech_probability(pcm[i : i + size])
                     for i in range(0, len(pcm) - size + 1, size)])


@pytest.mark.parametrize("engine", ENGINES)
def test_each_engine_hears_speech_and_not_silence(engine: str, sentence: np.ndarray) -> None:
    vad = new_detector(engine)
    assert vad.engine == engine
    speech = probabilities(vad, sentence)
    vad.reset()
    # A quiet room (-60 dBFS); WebRTC needs ~100 ms to learn the noise floor.
    quiet = probabilities(vad, N.white(2 * 16_000, seed=1) * 30)
    assert np.mean(speech >= 0.5) > 0.6, f"{engine} missed most of the sentence"
    assert np.mean(quiet >= 0.5) < 0.05, f"{engine} took a quiet room for speech"
    assert all(0.0 <= p <= 1.0 for p in np.concatenate([speech, quiet]))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_frame_of_the_wrong_size_is_refused_clearly(engine: str) -> None:
    vad = new_detector(engine)
    with pytest.raises(AudioInvalid) as caught:
        vad.speech_probability(bytes(frame_bytes(vad.frame_ms) - 2))
    assert f"{vad.frame_ms} ms" in str(caught.value)
    assert caught.value.hint and "TurnDetector" in caught.value.hint


def test_an_unknown_engine_names_the_ones_there_are() -> None:
    with pytest.raises(ConfigError) as caught:
        new_detector("cobra")
    assert "cobra" in caught.value.message
    assert caught.value.hint == "set voice.vad_engine to one of: silero, webrtc"


def test_engine_names_are_forgiving_about_case_and_spaces() -> None:
    assert isinstance(new_detector(" Silero "), SileroDetector)
    assert isinstance(new_detector("WEBRTC"), WebrtcDetector)


def test_silero_rejects_white_noise_that_webrtc_mostly_takes_for_speech() -> None:
    """The measured reason for the default: stationary noise at speech level."""
    noise = N.white(3 * 16_000, seed=2) * 3000  # about -20 dBFS
    silero = probabilities(new_detector("silero"), noise)
    webrtc = probabilities(new_detector("webrtc"), noise)
    assert np.mean(silero >= 0.5) < 0.05
    assert np.mean(webrtc >= 0.5) > np.mean(silero >= 0.5)


def test_webrtc_mode_is_checked() -> None:
    with pytest.raises(ConfigError):
        WebrtcDetector(mode=4)
