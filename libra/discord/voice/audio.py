"""Opus coding for Discord's voice transport.

Discord carries 48 kHz stereo Opus in 20 ms frames. The PCM conversions a voice
pipeline needs (resampling, channel mixing, frame sizing) are transport-neutral and
live in :mod:`libra.voice.audio`; this module holds only what Opus needs.
"""

from __future__ import annotations

import ctypes
from typing import Any, cast

import opuslib_next
from opuslib_next.api.decoder import libopus_decode as _libopus_decode
from opuslib_next.api.encoder import libopus_encode as _libopus_encode

from libra.errors import VoiceError
from libra.voice.audio import CHANNELS, FRAME_BYTES, FRAME_SAMPLES, SAMPLE_RATE

SILENCE_FRAME = b"\xf8\xff\xfe"
"""The Opus frame Discord expects at the end of a stream (and DAVE passes through)."""
_MAX_FRAME_SAMPLES = 5760
"""120 ms: the largest frame a peer may send."""
_MAX_PACKET_BYTES = 4000
"""libopus's recommended output buffer size for one packet."""


class OpusEncoder:
    """Encodes 20 ms frames of 48 kHz stereo PCM for sending.

    libopus is called directly with buffers allocated once: the wrapper's own
    ``encode`` allocates a 4 KB output buffer and copies it through an ``array`` on
    every frame, which costs more than a third of the encoding itself.
    """

    def __init__(self, bitrate: int = 64_000, complexity: int = 5) -> None:
        self._encoder: Any = opuslib_next.Encoder(SAMPLE_RATE, CHANNELS, "audio")
        self._encoder.bitrate = bitrate
        # Complexity 5 costs a third of the default 10 per frame; for synthesized
        # speech at 64 kb/s the difference is inaudible.
        self._encoder.complexity = complexity
        self._pcm = (ctypes.c_int16 * (FRAME_SAMPLES * CHANNELS))()
        self._out = ctypes.create_string_buffer(_MAX_PACKET_BYTES)

    def encode(self, pcm: bytes) -> bytes:
        """Encode one frame; shorter input is padded with silence.

        Raises:
            VoiceError: the frame is longer than 20 ms or libopus refused it.
        """
        size = len(pcm)
        if size > FRAME_BYTES:
            raise VoiceError(f"PCM frame of {size} bytes exceeds 20 ms ({FRAME_BYTES})")
        ctypes.memmove(self._pcm, pcm, size)
        if size < FRAME_BYTES:
            ctypes.memset(ctypes.addressof(self._pcm) + size, 0, FRAME_BYTES - size)
        length = _libopus_encode(
            self._encoder.encoder_state, self._pcm, FRAME_SAMPLES, self._out, _MAX_PACKET_BYTES
        )
        if length < 0:
            raise VoiceError(f"Opus encoding failed (libopus error {length})")
        return ctypes.string_at(self._out, length)


class OpusDecoder:
    """Decodes one speaker's Opus stream, concealing lost frames.

    As for encoding, libopus decodes into one buffer owned by the decoder; the
    wrapper's ``decode`` turns every frame into a Python list of 1,920 ints, which
    cost three times the decoding itself.
    """

    def __init__(self) -> None:
        self._decoder: Any = opuslib_next.Decoder(SAMPLE_RATE, CHANNELS)
        self._pcm = (ctypes.c_int16 * (_MAX_FRAME_SAMPLES * CHANNELS))()

    def _run(self, packet: bytes | None, frame_samples: int, fec: int) -> int:
        return cast(int, _libopus_decode(
            self._decoder.decoder_state, packet, len(packet) if packet else 0,
            self._pcm, frame_samples, fec,
        ))

    def decode(self, packet: bytes) -> bytes:
        """Decode one Opus packet to s16le stereo PCM.

        Raises:
            VoiceError: the packet is not valid Opus.
        """
        samples = self._run(packet, _MAX_FRAME_SAMPLES, 0) if packet else -1
        if samples < 0:
            raise VoiceError(f"Opus decoding failed (libopus error {samples})")
        return ctypes.string_at(self._pcm, samples * CHANNELS * 2)

    def conceal(self, next_packet: bytes | None = None) -> bytes:
        """Produce one 20 ms frame for a lost packet.

        With the packet that follows the loss, its in-band FEC data is used (falling
        back to plain loss concealment); without it, plain concealment. That FEC data
        describes only the frame just before its packet: pass it for that frame alone.
        """
        samples = self._run(next_packet, FRAME_SAMPLES, 1) if next_packet else -1
        if samples < 0:
            samples = self._run(None, FRAME_SAMPLES, 0)
        if samples < 0:
            return bytes(FRAME_BYTES)
        return ctypes.string_at(self._pcm, samples * CHANNELS * 2)
