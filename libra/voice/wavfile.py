"""WAV (RIFF/WAVE) files read and written without the limits of the stdlib ``wave``.

Python 3.11's :mod:`wave` reads only plain integer PCM: it refuses IEEE float and
``WAVE_FORMAT_EXTENSIBLE``, which is what sox, ffmpeg and most editors write for
24-bit, float and multichannel audio. This reader walks the RIFF chunks itself, so
every common uncompressed WAV works: 8/16/24/32-bit integer PCM, 32/64-bit float,
any rate and channel count, plain or extensible headers, and the "streamed" data size
(``0xFFFFFFFF`` or 0) that pipes write. Compressed WAV (ADPCM, µ-law, MP3-in-WAV) is
reported as such so the caller can hand it to a general decoder.

The header alone says how long the audio is (:attr:`WavInfo.seconds`), so an
over-long file is refused before its samples are read.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

PCM = 0x0001
FLOAT = 0x0003
EXTENSIBLE = 0xFFFE
_CODEC_NAMES = {0x0002: "MS ADPCM", 0x0006: "A-law", 0x0007: "µ-law", 0x0011: "IMA ADPCM",
                0x0031: "GSM 6.10", 0x0055: "MP3"}
_STREAMED_SIZES = (0, 0xFFFFFFFF)
"""Data sizes a writer that could not seek back leaves in the header: read to the end."""


class WavFormatError(ValueError):
    """The bytes are not a WAV file this reader can decode; the message says why."""

    def __init__(self, message: str, *, codec: str | None = None) -> None:
        super().__init__(message)
        self.codec = codec
        """Set when the file *is* WAV but its samples are compressed with this codec."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WavInfo:
    """What a WAV header says, and where its samples are."""

    format_tag: int
    """``PCM`` or ``FLOAT`` (an extensible header's sub-format)."""
    channels: int
    sample_rate: int
    bits: int
    data_offset: int
    frames: int
    """Sample frames (one sample per channel) in the data chunk."""

    @property
    def seconds(self) -> float:
        """Duration of the audio."""
        return self.frames / self.sample_rate

    @property
    def description(self) -> str:
        """Human-readable format, e.g. ``WAV 24-bit PCM``."""
        kind = "float" if self.format_tag == FLOAT else "PCM"
        return f"WAV {self.bits}-bit {kind}"


def is_riff_wave(head: bytes) -> bool:
    """Whether the first 12 bytes of a file are a RIFF/WAVE signature."""
    return len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def read_header(stream: BinaryIO, file_size: int) -> WavInfo:
    """Parse the header up to the data chunk; ``stream`` is left at the first sample.

    Raises:
        WavFormatError: not RIFF/WAVE, a damaged header, or a codec this reader
            does not decode (``codec`` is then set).
    """
    if not is_riff_wave(stream.read(12)):
        raise WavFormatError("no RIFF/WAVE signature")
    fmt: tuple[int, int, int, int, int] | None = None
    while True:
        head = stream.read(8)
        if len(head) < 8:
            raise WavFormatError("no data chunk" if fmt else "no fmt chunk")
        chunk_id, size = head[:4], struct.unpack("<I", head[4:])[0]
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(stream.read(size))
            if size % 2:
                stream.read(1)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavFormatError("data chunk before the fmt chunk")
            offset = stream.tell()
            available = file_size - offset
            if size in _STREAMED_SIZES or size > available:
                size = available
            tag, channels, rate, bits, block = fmt
            return WavInfo(format_tag=tag, channels=channels, sample_rate=rate, bits=bits,
                           data_offset=offset, frames=size // block)
        else:
            stream.seek(size + size % 2, os.SEEK_CUR)


def _parse_fmt(body: bytes) -> tuple[int, int, int, int, int]:
    if len(body) < 16:
        raise WavFormatError("fmt chunk too short")
    tag, channels, rate, _byte_rate, block, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == EXTENSIBLE:
        if len(body) < 26:
            raise WavFormatError("extensible fmt chunk too short")
        # The sub-format GUID starts with the plain format tag.
        tag = struct.unpack("<H", body[24:26])[0]
    if tag not in (PCM, FLOAT):
        name = _CODEC_NAMES.get(tag, f"format 0x{tag:04x}")
        raise WavFormatError(f"WAV with {name} samples", codec=name)
    if channels < 1 or not 1_000 <= rate <= 768_000:
        raise WavFormatError(f"impossible header: {channels} channels at {rate} Hz")
    valid = {PCM: (8, 16, 24, 32), FLOAT: (32, 64)}[tag]
    if bits not in valid or block != channels * bits // 8:
        kind = "float" if tag == FLOAT else "PCM"
        raise WavFormatError(f"unsupported {bits}-bit {kind} samples", codec=f"{bits}-bit {kind}")
    return tag, channels, rate, bits, block


def decode_frames(raw: bytes, info: WavInfo) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Samples of ``raw`` (whole frames of ``info``'s format) as float32 in ``[-1, 1]``.

    Shape ``(frames, channels)``.
    """
    width = info.bits // 8
    usable = len(raw) - len(raw) % (width * info.channels)
    data = raw[:usable]
    samples: np.ndarray[Any, Any]
    if info.format_tag == FLOAT:
        samples = np.frombuffer(data, dtype=f"<f{width}").astype(np.float32)
        samples = np.nan_to_num(np.clip(samples, -1.0, 1.0))
    elif info.bits == 8:
        # 8-bit WAV is the one unsigned width.
        samples = (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif info.bits == 24:
        triples = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        samples = value.astype(np.float32) / float(1 << 23)
    else:
        scale = float(1 << (info.bits - 1))
        samples = np.frombuffer(data, dtype=f"<i{width}").astype(np.float64) / scale
        samples = samples.astype(np.float32)
    shaped: np.ndarray[Any, np.dtype[np.float32]] = samples.reshape(-1, info.channels)
    return shaped


def write_mono16(path: Path, pcm: bytes, sample_rate: int) -> None:
    """Write mono s16le PCM as a WAV file, atomically (no half-written file on failure)."""
    path = path.expanduser()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw, wave.open(raw, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            out.writeframes(pcm)
        tmp.chmod(0o644)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def mono16_bytes(pcm: bytes, sample_rate: int) -> bytes:
    """A whole mono s16le WAV file in memory (for ``--out -``)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return buffer.getvalue()
