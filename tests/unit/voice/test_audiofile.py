"""Audio files to 16 kHz mono: every common WAV layout, compressed formats, and refusals.

Test files are written by independent encoders (sox for WAV, FFmpeg through PyAV for
compressed formats), so the reader is checked against what real tools produce.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from libra.errors import AudioInvalid
from libra.voice.api import SPEECH_RATE
from libra.voice.audio import resample, s16_to_float
from libra.voice.audiofile import SpeechFile, read_speech, require_speech, resample_bandlimited
from tests.fakes.audio_fixtures import speech

LIMIT = 30.0
SOX = shutil.which("sox")
pytestmark = pytest.mark.skipif(SOX is None, reason="sox writes the test files (apt install sox)")


def sox_tone(path: Path, *, rate: int, channels: int, bits: int, encoding: str = "signed-integer",
             seconds: float = 1.0, freq: int = 1000) -> Path:
    subprocess.run([str(SOX), "-n", "-r", str(rate), "-c", str(channels), "-b", str(bits),
                    "-e", encoding, str(path), "synth", str(seconds), "sine", str(freq),
                    "vol", "0.5"], check=True, timeout=30)
    return path


def dominant_hz(audio: SpeechFile) -> float:
    samples = s16_to_float(audio.pcm).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * SPEECH_RATE / samples.size)


def rms(audio: SpeechFile) -> float:
    samples = s16_to_float(audio.pcm).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


@pytest.mark.parametrize(("rate", "channels", "bits", "encoding"), [
    (8_000, 1, 16, "signed-integer"),
    (11_025, 1, 8, "unsigned-integer"),
    (16_000, 1, 16, "signed-integer"),
    (22_050, 2, 16, "signed-integer"),
    (44_100, 2, 16, "signed-integer"),
    (44_100, 2, 24, "signed-integer"),   # sox writes WAVE_FORMAT_EXTENSIBLE here
    (48_000, 6, 24, "signed-integer"),   # multichannel, extensible
    (48_000, 2, 32, "signed-integer"),
    (44_100, 1, 32, "floating-point"),   # IEEE float, which the stdlib cannot read
    (96_000, 2, 64, "floating-point"),
])
def test_wav_of_any_layout_becomes_16k_mono_with_pitch_level_and_length_kept(
    tmp_path: Path, rate: int, channels: int, bits: int, encoding: str
) -> None:
    path = sox_tone(tmp_path / "tone.wav", rate=rate, channels=channels, bits=bits,
                    encoding=encoding)
    audio = read_speech(path, max_seconds=LIMIT)
    assert len(audio.pcm) == 2 * SPEECH_RATE  # one second, mono s16le
    assert abs(dominant_hz(audio) - 1000) < 3
    # A full-scale-0.5 sine has RMS 0.354 whatever the bit depth or channel count.
    assert rms(audio) == pytest.approx(0.5 / np.sqrt(2), rel=0.03)
    assert f"{rate} Hz" in audio.source and f"{bits}-bit" in audio.source


def test_downsampling_removes_what_the_new_rate_cannot_carry(tmp_path: Path) -> None:
    # A 12 kHz whistle at 44.1 kHz cannot exist at 16 kHz: it must vanish, not fold
    # back to 4 kHz in the middle of the speech band (what plain interpolation does).
    path = sox_tone(tmp_path / "whistle.wav", rate=44_100, channels=1, bits=16, freq=12_000)
    assert rms(read_speech(path, max_seconds=LIMIT)) < 0.001
    t = np.arange(44_100) / 44_100
    folded = resample(np.sin(2 * np.pi * 12_000 * t) * 0.5, 44_100, 16_000)
    assert np.sqrt(np.mean(folded**2)) > 0.1  # why the band-limited resampler exists


def test_bandlimited_resampling_keeps_a_speech_band_tone_exact() -> None:
    t = np.arange(2 * 44_100) / 44_100
    out = resample_bandlimited(np.sin(2 * np.pi * 1000 * t), 44_100, 16_000)
    expected = np.sin(2 * np.pi * 1000 * np.arange(out.size) / 16_000)
    assert out.size == 32_000
    assert np.max(np.abs(out - expected)[1600:-1600]) < 1e-6


@pytest.mark.parametrize(("suffix", "codec", "rate"), [
    ("flac", "flac", 44_100), ("ogg", "libopus", 48_000), ("mp3", "libmp3lame", 44_100),
    ("m4a", "aac", 44_100),
])
def test_compressed_formats_decode_through_ffmpeg(tmp_path: Path, suffix: str, codec: str,
                                                  rate: int) -> None:
    av = pytest.importorskip("av", reason="PyAV (the whisper extra) decodes compressed audio")
    path = tmp_path / f"tone.{suffix}"
    t = np.arange(rate) / rate
    stereo = np.tile((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), (2, 1))
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout="stereo")
        fmt = stream.codec_context.codec.audio_formats[0].name
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, rate, frame_size):
            frame = av.AudioFrame.from_ndarray(stereo[:, start:start + frame_size].copy(),
                                               format="fltp", layout="stereo")
            frame.sample_rate = rate
            frame.pts = start
            for resampled in av.AudioResampler(format=fmt, layout="stereo",
                                               rate=rate).resample(frame):
                out.mux(stream.encode(resampled))
        out.mux(stream.encode(None))
    audio = read_speech(path, max_seconds=LIMIT)
    assert audio.seconds == pytest.approx(1.0, abs=0.1)  # encoders add priming samples
    assert abs(dominant_hz(audio) - 1000) < 5
    assert rms(audio) == pytest.approx(0.5 / np.sqrt(2), rel=0.15)


def test_ogg_vorbis_from_sox_decodes(tmp_path: Path) -> None:
    pytest.importorskip("av", reason="PyAV (the whisper extra) decodes OGG")
    path = sox_tone(tmp_path / "tone.ogg", rate=22_050, channels=2, bits=16)
    audio = read_speech(path, max_seconds=LIMIT)
    assert abs(dominant_hz(audio) - 1000) < 5 and audio.seconds == pytest.approx(1.0, abs=0.1)


def test_mu_law_wav_is_decoded_by_ffmpeg(tmp_path: Path) -> None:
    pytest.importorskip("av", reason="PyAV (the whisper extra) decodes compressed WAV")
    path = sox_tone(tmp_path / "phone.wav", rate=8_000, channels=1, bits=8, encoding="u-law")
    audio = read_speech(path, max_seconds=LIMIT)
    assert abs(dominant_hz(audio) - 1000) < 3 and len(audio.pcm) == 2 * SPEECH_RATE


# --- refusals ---------------------------------------------------------------------------


def refusal(path: Path, max_seconds: float = LIMIT) -> str:
    with pytest.raises(AudioInvalid) as caught:
        read_speech(path, max_seconds=max_seconds)
    assert caught.value.hint, "every refusal says what to do"
    return str(caught.value)


def test_a_text_file_named_wav_is_not_audio_and_the_formats_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "question.wav"
    path.write_text("What is the capital of France?\n")
    message = refusal(path)
    assert "is not audio Libra can read" in message and "WAV (8/16/24/32-bit PCM" in message


def test_an_empty_file_says_empty(tmp_path: Path) -> None:
    path = tmp_path / "question.wav"
    path.touch()
    assert "is empty (0 bytes)" in refusal(path)


def test_a_header_without_samples_says_no_audio(tmp_path: Path) -> None:
    path = tmp_path / "question.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
    assert "holds no audio" in refusal(path)


def test_a_missing_file_and_a_folder_are_named(tmp_path: Path) -> None:
    assert f"no such file: {tmp_path / 'nope.wav'}" in refusal(tmp_path / "nope.wav")
    assert "is a folder" in refusal(tmp_path)


def test_a_ten_minute_wav_is_refused_from_its_header_before_reading_it(tmp_path: Path) -> None:
    # A header claiming 10 minutes of 48 kHz stereo: the samples are never read.
    path = tmp_path / "lecture.wav"
    frames = 600 * 48_000
    fmt = struct.pack("<HHIIHH", 1, 2, 48_000, 48_000 * 4, 4, 16)
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + frames * 4) + b"WAVE"
                     + b"fmt " + struct.pack("<I", 16) + fmt
                     + b"data" + struct.pack("<I", frames * 4))
    with path.open("r+b") as handle:  # a sparse file of the claimed size
        handle.truncate(path.stat().st_size + frames * 4)
    started = time.perf_counter()
    message = refusal(path)
    assert time.perf_counter() - started < 0.5
    assert "is 10:00 min long" in message and "at most 30 s (voice.max_utterance_s)" in message


def test_a_long_flac_is_refused_from_its_declared_length(tmp_path: Path) -> None:
    pytest.importorskip("av", reason="PyAV (the whisper extra) decodes FLAC")
    path = tmp_path / "long.flac"
    subprocess.run([str(SOX), "-n", "-r", "16000", "-c", "1", str(path), "trim", "0", "40"],
                   check=True, timeout=30)
    assert "is 40 s long" in refusal(path)


def test_a_truncated_wav_gives_the_audio_that_is_there(tmp_path: Path) -> None:
    path = sox_tone(tmp_path / "cut.wav", rate=16_000, channels=1, bits=16, seconds=2)
    path.write_bytes(path.read_bytes()[: 44 + 16_000 * 2])  # the recorder died after 1 s
    assert read_speech(path, max_seconds=LIMIT).seconds == pytest.approx(1.0, abs=0.01)


def test_silence_is_not_a_question_and_a_tone_is_loud_enough(tmp_path: Path) -> None:
    silent = tmp_path / "silence.wav"
    subprocess.run([str(SOX), "-n", "-r", "44100", "-c", "2", str(silent), "trim", "0", "5"],
                   check=True, timeout=30)
    with pytest.raises(AudioInvalid) as caught:
        require_speech(read_speech(silent, max_seconds=LIMIT), min_speech_ms=300)
    assert "no speech found" in str(caught.value) and "digital silence" in str(caught.value)
    tone = sox_tone(tmp_path / "tone.wav", rate=16_000, channels=1, bits=16)
    assert require_speech(read_speech(tone, max_seconds=LIMIT), min_speech_ms=300) >= 900


def test_faint_hiss_is_silence(tmp_path: Path) -> None:
    path = tmp_path / "hiss.wav"
    subprocess.run([str(SOX), "-n", "-r", "16000", "-c", "1", str(path), "synth", "3",
                    "whitenoise", "vol", "0.001"], check=True, timeout=30)
    with pytest.raises(AudioInvalid, match="no speech found"):
        require_speech(read_speech(path, max_seconds=LIMIT), min_speech_ms=300)


def test_with_a_vad_loud_noise_is_not_speech_and_a_spoken_question_is(tmp_path: Path) -> None:
    vad = pytest.importorskip("libra.voice.vad")
    detector = vad.new_detector("silero")
    noise = tmp_path / "fan.wav"
    subprocess.run([str(SOX), "-n", "-r", "16000", "-c", "1", str(noise), "synth", "3",
                    "brownnoise", "vol", "0.3"], check=True, timeout=30)
    loud = read_speech(noise, max_seconds=LIMIT)
    assert require_speech(loud, min_speech_ms=300) >= 2900  # loud enough for the energy check
    with pytest.raises(AudioInvalid, match="no speech found"):
        require_speech(loud, min_speech_ms=300, detector=detector)
    question = tmp_path / "question.raw"
    question.write_bytes(speech("What is the capital of France?"))
    spoken = tmp_path / "question.wav"
    subprocess.run([str(SOX), "-t", "raw", "-r", "48000", "-e", "signed", "-b", "16", "-c", "2",
                    str(question), str(spoken)], check=True, timeout=30)
    assert require_speech(read_speech(spoken, max_seconds=LIMIT), min_speech_ms=300,
                          detector=detector) >= 800
