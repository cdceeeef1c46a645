"""PCM conversions a voice pipeline needs, whatever carries the audio.

Discord carries 48 kHz stereo, speech-to-text wants 16 kHz mono and Piper speaks
22.05 kHz mono; this module converts between them. PCM is signed 16-bit
little-endian, interleaved when stereo; ``float32`` samples are in ``[-1, 1]``.
Codec details (Opus) stay with the transport in :mod:`libra.discord.voice.audio`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SAMPLE_RATE = 48_000
"""The rate of the voice link (Discord's Opus rate)."""
CHANNELS = 2
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
"""Samples per channel in one 20 ms frame (960)."""
FRAME_BYTES = FRAME_SAMPLES * CHANNELS * 2
"""Bytes of s16le stereo PCM in one frame (3840)."""
_S16_SCALE = 32768.0

FloatSamples = np.ndarray[Any, np.dtype[np.float64]]


def frame_bytes(
    sample_rate: int = SAMPLE_RATE, channels: int = CHANNELS, ms: int = FRAME_MS
) -> int:
    """Bytes of s16le PCM in ``ms`` milliseconds at ``sample_rate`` and ``channels``."""
    return sample_rate * ms // 1000 * channels * 2


def _as_samples(pcm: bytes) -> np.ndarray[Any, np.dtype[np.int16]]:
    return np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")


def _to_s16(samples: FloatSamples) -> bytes:
    data: bytes = np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()
    return data


def s16_to_float(pcm: bytes) -> np.ndarray[Any, np.dtype[np.float32]]:
    """s16le PCM as ``float32`` samples in ``[-1, 1)`` (what most ML models take)."""
    out: np.ndarray[Any, np.dtype[np.float32]] = (
        _as_samples(pcm).astype(np.float32) / np.float32(_S16_SCALE)
    )
    return out


def float_to_s16(samples: np.ndarray[Any, Any]) -> bytes:
    """``float`` samples in ``[-1, 1]`` as s16le PCM (clipped, rounded)."""
    return _to_s16(np.asarray(samples, dtype=np.float64) * _S16_SCALE)


def resample(mono: FloatSamples, src_rate: int, dst_rate: int) -> FloatSamples:
    """Linear-interpolation resampling (speech-grade; cheap enough for real time)."""
    if src_rate == dst_rate or mono.size == 0:
        return mono
    out_len = round(mono.size * dst_rate / src_rate)
    positions = np.arange(out_len) * (src_rate / dst_rate)
    resampled: FloatSamples = np.interp(positions, np.arange(mono.size), mono)
    return resampled


def downmix(pcm: bytes, channels: int = CHANNELS) -> FloatSamples:
    """Interleaved s16le PCM of ``channels`` channels as mono samples (their mean)."""
    samples = _as_samples(pcm)
    frames = samples.size // channels
    mixed: FloatSamples = (
        samples[: frames * channels].reshape(frames, channels).astype(np.float64).mean(axis=1)
    )
    return mixed


def stereo48k_to_mono16k(pcm: bytes) -> bytes:
    """Downmix 48 kHz stereo to 16 kHz mono for speech-to-text.

    48 kHz to 16 kHz is an exact factor of three: average each triple after a
    downmix, a boxcar low-pass that keeps speech intelligible and aliasing low.
    """
    mono = downmix(pcm)
    usable = mono.size - mono.size % 3
    return _to_s16(mono[:usable].reshape(-1, 3).mean(axis=1))


def mono_to_stereo48k(pcm: bytes, sample_rate: int) -> bytes:
    """Resample mono PCM (e.g. Piper's 22.05 kHz) to 48 kHz stereo for sending."""
    mono = resample(_as_samples(pcm).astype(np.float64), sample_rate, SAMPLE_RATE)
    stereo = np.repeat(np.clip(np.rint(mono), -32768, 32767).astype("<i2"), 2)
    return stereo.tobytes()


class FrameChunker:
    """Cuts a stream of PCM chunks of any size into exact 20 ms frames."""

    def __init__(self, frame_bytes: int = FRAME_BYTES) -> None:
        self._frame_bytes = frame_bytes
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add a chunk; return every complete frame now available."""
        self._pending += chunk
        size = self._frame_bytes
        count = len(self._pending) // size
        frames = [bytes(self._pending[i * size : (i + 1) * size]) for i in range(count)]
        del self._pending[: count * size]
        return frames

    def flush(self) -> bytes | None:
        """The last partial frame padded with silence, if any input is left."""
        if not self._pending:
            return None
        frame = bytes(self._pending) + bytes(self._frame_bytes - len(self._pending))
        self._pending.clear()
        return frame
