"""Test noise and speech at 16 kHz mono for voice activity detection and endpointing.

Everything here is float64 samples in s16 units (±32767) at 16 kHz, deterministic
for a given seed, so tests and ``bench/vad.py`` judge the same signals.

* ``speech16k(text)`` — Piper (or espeak-ng) speech from :mod:`tests.fakes.audio_fixtures`
  (cached), converted to 16 kHz mono.
* ``white``, ``pink`` — stationary noise.
* ``clicks`` — keyboard-like typing: 2-5 ms decaying broadband ticks, ~6 a second with
  human irregularity and the occasional double strike.
* ``coughs`` — cough-like bursts: a sharp onset then ~250 ms of decaying band-passed
  noise, sometimes a second smaller burst right after (a cough is rarely single).
* ``babble`` — six time-shifted, pitch-shifted Piper talkers summed (a café).
* ``mix(speech, noise, snr_db)`` — scales the noise so that speech power over the
  speech's active frames / noise power over the noise's active frames = ``snr_db``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from libra.voice.audio import stereo48k_to_mono16k
from tests.fakes.audio_fixtures import speech

RATE = 16_000
Samples = np.ndarray[Any, np.dtype[np.float64]]

BABBLE_TEXTS = (
    "I went to the market yesterday and bought some apples and a loaf of bread.",
    "The meeting has been moved to Thursday afternoon because of the holiday.",
    "Could you pass me the salt, please? This soup needs a little more flavour.",
    "My brother lives in Canada now, he moved there three years ago for work.",
    "We should really fix the fence before the winter storms arrive this year.",
    "Did you see the game last night? It went into overtime and nobody left early.",
)


def speech16k(text: str) -> Samples:
    """``text`` spoken by Piper, as 16 kHz mono samples (cached between runs)."""
    pcm = stereo48k_to_mono16k(speech(text))
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def to_pcm(samples: Samples) -> bytes:
    """Samples as 16 kHz mono s16le bytes (clipped)."""
    data: bytes = np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()
    return data


def silence(seconds: float) -> Samples:
    """Digital silence."""
    return np.zeros(round(seconds * RATE))


def white(n: int, seed: int = 0) -> Samples:
    """Gaussian white noise of unit RMS."""
    return np.random.default_rng(seed).standard_normal(n)


def pink(n: int, seed: int = 0) -> Samples:
    """1/f noise of unit RMS (white noise shaped in the frequency domain)."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    freqs[0] = freqs[1]
    shaped = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    return shaped / np.sqrt(np.mean(shaped**2))


def _tick(rng: np.random.Generator) -> Samples:
    length = int(rng.uniform(0.002, 0.005) * RATE)
    t = np.arange(length)
    decay = np.exp(-t / (length / 4))
    return rng.standard_normal(length) * decay * rng.uniform(0.6, 1.0)


def clicks(n: int, seed: int = 0, rate_hz: float = 6.0) -> Samples:
    """Keyboard-like typing: irregular decaying ticks (peak ~1) at about ``rate_hz``."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    pos = int(rng.uniform(0, 0.2) * RATE)
    while pos < n:
        for strike in range(2 if rng.random() < 0.3 else 1):  # key down + key up
            tick = _tick(rng) * (1.0 if strike == 0 else 0.5)
            start = pos + strike * int(rng.uniform(0.04, 0.09) * RATE)
            end = min(n, start + tick.size)
            if start < n:
                out[start:end] += tick[: end - start]
        pos += int(rng.exponential(1 / rate_hz) * RATE) + int(0.03 * RATE)
    return out


def cough(rng: np.random.Generator) -> Samples:
    """One cough-like burst (~0.2-0.35 s): a plosive onset then decaying rough noise."""
    length = int(rng.uniform(0.2, 0.35) * RATE)
    t = np.arange(length) / RATE
    noise = rng.standard_normal(length)
    # band-pass 300-3000 Hz in the frequency domain: coughs are voiceless, broadband
    spectrum = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(length, 1 / RATE)
    spectrum[(freqs < 300) | (freqs > 3000)] *= 0.1
    burst = np.fft.irfft(spectrum, length)
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-t / rng.uniform(0.06, 0.1))
    out: Samples = burst / np.max(np.abs(burst)) * envelope
    return out


def coughs(n: int, seed: int = 0, every_s: float = 1.5) -> Samples:
    """Cough-like bursts about every ``every_s`` seconds, some in pairs."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    pos = int(rng.uniform(0.1, every_s) * RATE)
    while pos < n:
        for k in range(2 if rng.random() < 0.4 else 1):
            burst = cough(rng) * (1.0 if k == 0 else 0.6)
            start = pos + k * int(0.3 * RATE)
            end = min(n, start + burst.size)
            if start < n:
                out[start:end] += burst[: end - start]
        pos += int(rng.uniform(0.6, 1.4) * every_s * RATE)
    return out


def babble(n: int, seed: int = 0, talkers: int = 6) -> Samples:
    """Several Piper talkers at once, each shifted in time and pitch (unit RMS)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    for k in range(talkers):
        voice = speech16k(BABBLE_TEXTS[k % len(BABBLE_TEXTS)])
        factor = rng.uniform(0.85, 1.2)  # resampling shifts pitch and tempo together
        positions = np.arange(0, voice.size - 1, factor)
        voice = np.interp(positions, np.arange(voice.size), voice)
        reps = int(np.ceil(n / voice.size)) + 1
        track = np.roll(np.tile(voice, reps), int(rng.integers(0, voice.size)))[:n]
        out += track / np.sqrt(np.mean(voice**2))
    return out / np.sqrt(np.mean(out**2))


NOISES = {"white": white, "pink": pink, "clicks": clicks, "coughs": coughs, "babble": babble}
"""Noise kinds by name: ``fn(n_samples, seed) -> samples``."""


def active_power(samples: Samples, frame: int = 320, floor_db: float = 30.0) -> float:
    """Mean power over the 20 ms frames within ``floor_db`` of the loudest one."""
    usable = samples[: samples.size - samples.size % frame].reshape(-1, frame)
    power = np.mean(usable**2, axis=1)
    if not np.any(power > 0):
        return 0.0
    active = power[power >= power.max() * 10 ** (-floor_db / 10)]
    return float(np.mean(active))


def mix(clean: Samples, noise: Samples, snr_db: float) -> Samples:
    """``clean`` plus ``noise`` scaled to ``snr_db`` (active power against active power)."""
    gain = np.sqrt(active_power(clean) / (active_power(noise) * 10 ** (snr_db / 10)))
    mixed: Samples = clean + noise[: clean.size] * gain
    return mixed
