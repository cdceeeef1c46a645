"""Compressed audio files through FFmpeg (PyAV): FLAC, OGG, MP3, M4A, compressed WAV.

Imported only when PyAV is installed (the ``whisper`` extra). Decoding and resampling
stream frame by frame through FFmpeg's ``libswresample`` straight to 16 kHz mono
s16le, so memory stays at the size of the result, and a file whose container hides
or misstates its length is stopped as soon as it passes the limit.
"""

from __future__ import annotations

from pathlib import Path

import av
import av.error

from libra.errors import AudioInvalid
from libra.voice.api import SPEECH_RATE
from libra.voice.audiofile import SpeechFile, no_audio, supported_formats, too_long

_BYTES_PER_SECOND = SPEECH_RATE * 2


def decode_with_av(path: Path, *, max_seconds: float) -> SpeechFile:
    """Decode the first audio stream of ``path`` to 16 kHz mono s16le.

    Raises:
        AudioInvalid: not a media file, no audio stream, damaged, or too long.
    """
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError) as err:
        raise AudioInvalid(f"{path} is not audio Libra can read: FFmpeg found no known "
                           f"audio format in it", hint=f"supported: {supported_formats()}"
                           ) from err
    with container:
        if not container.streams.audio:
            raise AudioInvalid(f"{path} has no audio stream ({container.format.long_name})",
                               hint=f"supported: {supported_formats()}")
        stream = container.streams.audio[0]
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > max_seconds:
            raise too_long(path, declared, max_seconds)
        codec = stream.codec_context.name
        rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SPEECH_RATE)
        limit = int(max_seconds * _BYTES_PER_SECOND)
        pcm = bytearray()
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pcm += out.to_ndarray().tobytes()
                if len(pcm) > limit:
                    # Stop decoding: the declared length (if any) was wrong.
                    raise too_long(path, len(pcm) / _BYTES_PER_SECOND, max_seconds,
                                   at_least=True)
            for out in resampler.resample(None):
                pcm += out.to_ndarray().tobytes()
        except av.error.FFmpegError as err:
            raise AudioInvalid(f"{path} is damaged: FFmpeg could not decode its {codec} "
                               f"audio ({err})",
                               hint="export the recording again, e.g. as WAV") from err
    if len(pcm) > limit:
        raise too_long(path, len(pcm) / _BYTES_PER_SECOND, max_seconds)
    if not pcm:
        raise no_audio(path)
    name = container.format.long_name or container.format.name
    layout = "mono" if channels == 1 else "stereo" if channels == 2 else f"{channels} channels"
    return SpeechFile(path=path, pcm=bytes(pcm), source=f"{name} ({codec}), {rate} Hz, {layout}")


def _declared_seconds(container: av.container.InputContainer,
                      stream: av.audio.stream.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None
