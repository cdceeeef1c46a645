"""Opus round trip quality, loss concealment and the resampling helpers."""

from __future__ import annotations

import numpy as np

from libra.discord.voice.audio import SILENCE_FRAME, OpusDecoder, OpusEncoder
from libra.voice.audio import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    FrameChunker,
    mono_to_stereo48k,
    stereo48k_to_mono16k,
)


def speech_like(seconds: float, rate: int = 48_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)
    tone = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate((220, 440, 660, 1320)))
    return (envelope * tone * 6000).astype(np.float64)


def snr_db(reference: np.ndarray, decoded: np.ndarray, max_lag: int = 960) -> float:
    """SNR after aligning for the codec delay."""
    best = -np.inf
    n = len(reference) - max_lag
    for lag in range(0, max_lag):
        ref = reference[:n]
        out = decoded[lag : lag + n]
        noise = np.sum((ref - out) ** 2)
        best = max(best, 10 * np.log10(np.sum(ref**2) / max(noise, 1e-9)))
    return float(best)


def test_opus_round_trip_snr() -> None:
    mono = speech_like(1.0)
    stereo = np.repeat(mono.astype("<i2"), 2).tobytes()
    encoder, decoder = OpusEncoder(), OpusDecoder()
    decoded = b"".join(
        decoder.decode(encoder.encode(stereo[i : i + FRAME_BYTES]))
        for i in range(0, len(stereo), FRAME_BYTES)
    )
    left = np.frombuffer(decoded, "<i2")[::2].astype(np.float64)
    # 312 samples is libopus's algorithmic delay at 48 kHz; search around it.
    assert snr_db(mono, left, max_lag=400) > 15


def test_loss_concealment_yields_a_full_frame() -> None:
    encoder, decoder = OpusEncoder(), OpusDecoder()
    frame = np.repeat(speech_like(0.02).astype("<i2"), 2).tobytes()
    first, second = encoder.encode(frame), encoder.encode(frame)
    decoder.decode(first)
    assert len(decoder.conceal()) == FRAME_BYTES
    assert len(decoder.conceal(second)) == FRAME_BYTES
    assert len(decoder.decode(SILENCE_FRAME)) == FRAME_BYTES


def test_resampling_keeps_duration_and_pitch() -> None:
    t = np.arange(22050) / 22050
    piper = (np.sin(2 * np.pi * 300 * t) * 10000).astype("<i2").tobytes()
    stereo = mono_to_stereo48k(piper, 22050)
    assert len(stereo) == 48000 * 2 * 2
    mono16 = np.frombuffer(stereo48k_to_mono16k(stereo), "<i2").astype(np.float64)
    assert len(mono16) == 16000
    spectrum = np.abs(np.fft.rfft(mono16))
    assert abs(np.argmax(spectrum) - 300) <= 1  # 1 Hz bins over one second


def test_chunker_cuts_exact_frames() -> None:
    chunker = FrameChunker()
    frames = chunker.feed(bytes(FRAME_BYTES + 100)) + chunker.feed(bytes(FRAME_BYTES))
    assert [len(f) for f in frames] == [FRAME_BYTES, FRAME_BYTES]
    tail = chunker.flush()
    assert tail is not None and len(tail) == FRAME_BYTES
    assert chunker.flush() is None
    assert FRAME_SAMPLES == 960
