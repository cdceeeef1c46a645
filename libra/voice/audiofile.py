"""Speech from audio files: any common format in, 16 kHz mono s16le out, or a clear refusal.

``libra voice reply --in question.wav`` starts here. :func:`read_speech` decodes the
file, downmixes every channel and resamples to :data:`~libra.voice.api.SPEECH_RATE`;
:func:`require_speech` refuses a file with no speech in it. Each refusal is an
:class:`~libra.errors.AudioInvalid` naming the file and what to do, never a traceback.

Formats: WAV is read by :mod:`libra.voice.wavfile` (no dependency: 8/16/24/32-bit PCM
and float, any rate and channel count). With PyAV installed (``av``, part of the
``whisper`` extra) FLAC, OGG/Opus/Vorbis, MP3, M4A/AAC and compressed WAV are decoded
by FFmpeg too.

Resampling: WAV goes through :func:`resample_bandlimited`, an FFT resampler that
removes everything above the new Nyquist frequency. The linear interpolation in
:mod:`libra.voice.audio` is fine for Piper's 22.05 kHz speech going *up* to 48 kHz,
but going *down* (44.1 kHz to 16 kHz) it has no low-pass, and the 8-22 kHz content
folds back onto the speech band. Files decoded by FFmpeg are resampled by its own
``libswresample`` (a windowed-sinc polyphase filter) on the way out of the decoder.

Length: the header says how long a WAV is and FFmpeg containers usually declare a
duration, so a file over ``voice.max_utterance_s`` is refused before its samples are
decoded; a container that lies is cut off as soon as decoding passes the limit.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from libra.errors import AudioInvalid
from libra.voice import wavfile
from libra.voice.api import SPEECH_RATE, VoiceActivityDetector
from libra.voice.audio import float_to_s16, s16_to_float

FORMATS_WAV = "WAV (8/16/24/32-bit PCM or 32/64-bit float, any rate and channels)"
FORMATS_AV = "FLAC, OGG (Opus, Vorbis), MP3, M4A/AAC"
LIMIT_SETTING = "voice.max_utterance_s"
SILENCE_DBFS = -50.0
"""A 30 ms frame quieter than this is not speech whatever a detector says (dBFS RMS)."""
_ENERGY_FRAME_MS = 30

FloatArray = np.ndarray[Any, np.dtype[np.floating[Any]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechFile:
    """A decoded audio file, ready for speech-to-text."""

    path: Path
    pcm: bytes
    """The audio as 16 kHz mono s16le."""
    source: str
    """What the file was, e.g. ``WAV 16-bit PCM, 44100 Hz, 2 channels``."""

    @property
    def seconds(self) -> float:
        """Duration of the decoded audio."""
        return len(self.pcm) / 2 / SPEECH_RATE


def supported_formats() -> str:
    """The formats this installation reads, for messages."""
    if av_available():
        return f"{FORMATS_WAV}, {FORMATS_AV}"
    return f"{FORMATS_WAV}; {FORMATS_AV} too once PyAV is installed (pip install 'libra[whisper]')"


def av_available() -> bool:
    """Whether PyAV (FFmpeg) can decode compressed formats here."""
    return importlib.util.find_spec("av") is not None


def read_speech(path: Path, *, max_seconds: float) -> SpeechFile:
    """Decode ``path`` to 16 kHz mono s16le (blocking: call it off the event loop).

    Raises:
        AudioInvalid: the file is missing, unreadable, empty, not audio, in a format
            this installation cannot decode, or longer than ``max_seconds``.
    """
    size = _check_file(path)
    with path.open("rb") as stream:
        head = stream.read(12)
        if wavfile.is_riff_wave(head):
            stream.seek(0)
            try:
                info = wavfile.read_header(stream, size)
            except wavfile.WavFormatError as err:
                if err.codec is None or not av_available():
                    raise _not_decodable(path, f"a WAV file this reader cannot decode "
                                               f"({err})") from err
            else:
                return _read_wav(path, stream, info, max_seconds)
    if not av_available():
        raise _not_decodable(path, "not a WAV file")
    from libra.voice.avdecode import decode_with_av  # noqa: PLC0415

    return decode_with_av(path, max_seconds=max_seconds)


def _check_file(path: Path) -> int:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise AudioInvalid(f"no such file: {path}",
                           hint="check the path given to --in") from None
    except OSError as err:
        raise AudioInvalid(f"cannot read {path}: {err.strerror}") from err
    if path.is_dir():
        raise AudioInvalid(f"{path} is a folder, not an audio file",
                           hint="give the path of a recording, e.g. --in question.wav")
    if stat.st_size == 0:
        raise AudioInvalid(f"{path} is empty (0 bytes)",
                           hint="record the question again; the file holds no audio")
    try:
        with path.open("rb"):
            pass
    except OSError as err:
        raise AudioInvalid(f"cannot read {path}: {err.strerror}") from err
    return stat.st_size


def _not_decodable(path: Path, why: str) -> AudioInvalid:
    return AudioInvalid(f"{path} is not audio Libra can read: {why}",
                        hint=f"supported: {supported_formats()}")


def too_long(path: Path, seconds: float, max_seconds: float, *,
             at_least: bool = False) -> AudioInvalid:
    """The refusal of a file over the length limit (``at_least``: decoding stopped early)."""
    length = f"more than {_duration(seconds)}" if at_least else _duration(seconds)
    return AudioInvalid(
        f"{path} is {length} long; a spoken question may last at most "
        f"{_duration(max_seconds)} ({LIMIT_SETTING})",
        hint=f"trim it (sox {path.name} short.wav trim 0 {max_seconds:g}) or raise "
             f"{LIMIT_SETTING} (at most 300)")


def no_audio(path: Path) -> AudioInvalid:
    """The refusal of a well-formed file that holds no samples."""
    return AudioInvalid(f"{path} holds no audio (0 samples)",
                        hint="record the question again; the file is only a header")


def _read_wav(path: Path, stream: Any, info: wavfile.WavInfo, max_seconds: float) -> SpeechFile:
    if info.seconds > max_seconds:
        raise too_long(path, info.seconds, max_seconds)
    if info.frames == 0:
        raise no_audio(path)
    stream.seek(info.data_offset)
    raw = stream.read(info.frames * info.channels * info.bits // 8)
    samples = wavfile.decode_frames(raw, info)
    if samples.shape[0] == 0:
        raise no_audio(path)
    mono = samples.mean(axis=1, dtype=np.float64)
    resampled = resample_bandlimited(mono, info.sample_rate, SPEECH_RATE)
    source = f"{info.description}, {info.sample_rate} Hz, {_channels(info.channels)}"
    return SpeechFile(path=path, pcm=float_to_s16(resampled), source=source)


def resample_bandlimited(mono: FloatArray, src_rate: int, dst_rate: int) -> FloatArray:
    """Resample by FFT: exact band limiting at the lower of the two Nyquist frequencies.

    The whole signal is transformed at once, which is cheap for speech-length audio
    (under 0.1 s for 30 s at 48 kHz). The top 5% of the kept band is tapered with a
    raised cosine so the cut does not ring.
    """
    if src_rate == dst_rate or mono.size == 0:
        return mono
    # The FFT is circular: pad with silence so the end does not bleed into the start.
    pad = src_rate // 10
    padded = np.concatenate([np.zeros(pad), np.asarray(mono, dtype=np.float64), np.zeros(pad)])
    spectrum = np.fft.rfft(padded)
    out_len = round(padded.size * dst_rate / src_rate)
    keep = min(spectrum.size, out_len // 2 + 1)
    kept = spectrum[:keep].copy()
    taper = max(1, keep // 20)
    kept[-taper:] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, taper)))
    out_spectrum = np.zeros(out_len // 2 + 1, dtype=np.complex128)
    out_spectrum[:keep] = kept
    out: FloatArray = np.fft.irfft(out_spectrum, out_len) * (out_len / padded.size)
    start = round(pad * dst_rate / src_rate)
    return out[start : start + round(mono.size * dst_rate / src_rate)]


def require_speech(audio: SpeechFile, *, min_speech_ms: int,
                   detector: VoiceActivityDetector | None = None) -> int:
    """Return how many milliseconds of speech ``audio`` holds; refuse it if too few.

    Frames quieter than :data:`SILENCE_DBFS` never count; with a ``detector``, the
    louder frames count only when it judges them speech (so a hum or steady noise
    is not a question), without one every loud frame counts.

    Raises:
        AudioInvalid: less than ``min_speech_ms`` of speech (at least one frame).
    """
    samples = s16_to_float(audio.pcm)
    energy_frame = SPEECH_RATE * _ENERGY_FRAME_MS // 1000
    count = samples.size // energy_frame
    frames = samples[: count * energy_frame].reshape(count, energy_frame).astype(np.float64)
    rms = np.sqrt(np.mean(frames * frames, axis=1)) if count else np.zeros(0)
    with np.errstate(divide="ignore"):
        level = 20 * np.log10(rms) if count else np.zeros(0)
    loud_ms = int(np.count_nonzero(level > SILENCE_DBFS)) * _ENERGY_FRAME_MS
    speech_ms = loud_ms if detector is None or not loud_ms else _detected_ms(audio, detector)
    needed = max(min_speech_ms, _ENERGY_FRAME_MS)
    if speech_ms < needed:
        peak = float(level.max()) if count else float("-inf")
        loudest = "digital silence" if peak == float("-inf") else f"loudest {peak:.0f} dBFS"
        raise AudioInvalid(
            f"no speech found in {audio.path} ({_duration(audio.seconds)} of audio, "
            f"{loudest}, {speech_ms} ms judged speech, at least {needed} ms needed)",
            hint="check that this is the right recording and that the microphone was on")
    return speech_ms


def _detected_ms(audio: SpeechFile, detector: VoiceActivityDetector) -> int:
    frame = SPEECH_RATE * detector.frame_ms // 1000 * 2
    detector.reset()
    speech = 0
    pcm = audio.pcm
    for start in range(0, len(pcm) - frame + 1, frame):
        if detector.speech_probability(pcm[start : start + frame]) >= 0.5:
            speech += detector.frame_ms
    detector.reset()
    return speech


def _duration(seconds: float) -> str:
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes}:{rest:02d} min"
    return f"{seconds:.1f} s" if seconds % 1 else f"{seconds:.0f} s"


def _channels(count: int) -> str:
    return "mono" if count == 1 else "stereo" if count == 2 else f"{count} channels"
