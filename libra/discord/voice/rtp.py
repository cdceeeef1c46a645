"""RTP packets as Discord voice sends and receives them (RFC 3550 + RFC 8285).

Discord voice packets are RTP version 2 with payload type 120 (Opus). Incoming ones may
carry CSRCs, a one-byte ``0xBEDE`` header extension and padding; RTCP reports (payload
types 200-204) arrive on the same socket and are dropped by :func:`is_rtcp`.

In the ``*_rtpsize`` transport modes the extension *preamble* (profile + length) is
authenticated in the clear while the extension *body* travels inside the ciphertext,
so the body and the padding are only stripped after transport decryption
(:func:`strip_extension_and_padding`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from libra.errors import VoicePacketInvalid

RTP_VERSION = 2
OPUS_PAYLOAD_TYPE = 0x78
FIXED_HEADER_SIZE = 12
EXTENSION_PREAMBLE_SIZE = 4
ONE_BYTE_EXTENSION_PROFILE = 0xBEDE
RTCP_PAYLOAD_TYPES = range(200, 205)
"""RTCP packet types occupy the whole second byte (marker bit included)."""

_HEADER = struct.Struct(">BBHII")
_PREAMBLE = struct.Struct(">HH")


@dataclass(frozen=True, slots=True)
class RtpHeader:
    """The parsed clear-text part of an RTP packet."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool = False
    padding: bool = False
    csrcs: tuple[int, ...] = ()
    extension_profile: int | None = None
    """Profile of the header extension, ``None`` when the extension bit is clear."""
    extension_words: int = 0
    """Length of the extension body in 32-bit words (the body itself is encrypted)."""

    @property
    def size(self) -> int:
        """Bytes of clear header: fixed part, CSRCs and the extension preamble.

        This is exactly the additional authenticated data of the rtpsize modes.
        """
        size = FIXED_HEADER_SIZE + 4 * len(self.csrcs)
        if self.extension_profile is not None:
            size += EXTENSION_PREAMBLE_SIZE
        return size

    @property
    def extension_body_size(self) -> int:
        """Bytes of extension body that lead the (decrypted) payload."""
        return 4 * self.extension_words


def is_rtcp(packet: bytes) -> bool:
    """Whether ``packet`` is an RTCP report rather than RTP media."""
    return len(packet) >= 2 and packet[1] in RTCP_PAYLOAD_TYPES


def parse_header(packet: bytes) -> RtpHeader:
    """Parse the clear-text header of an RTP packet.

    Raises:
        VoicePacketInvalid: the packet is too short, not version 2, or its CSRC list or
            extension preamble runs past its end.
    """
    if len(packet) < FIXED_HEADER_SIZE:
        raise VoicePacketInvalid(f"RTP packet of {len(packet)} bytes is shorter than a header")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(packet)
    if first >> 6 != RTP_VERSION:
        raise VoicePacketInvalid(f"RTP version {first >> 6} is not 2")
    csrc_count = first & 0x0F
    offset = FIXED_HEADER_SIZE + 4 * csrc_count
    if len(packet) < offset:
        raise VoicePacketInvalid(f"RTP packet too short for {csrc_count} CSRCs")
    csrcs = struct.unpack_from(f">{csrc_count}I", packet, FIXED_HEADER_SIZE)
    profile: int | None = None
    words = 0
    if first & 0x10:
        if len(packet) < offset + EXTENSION_PREAMBLE_SIZE:
            raise VoicePacketInvalid("RTP packet too short for its extension preamble")
        profile, words = _PREAMBLE.unpack_from(packet, offset)
    return RtpHeader(
        payload_type=second & 0x7F,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        marker=bool(second & 0x80),
        padding=bool(first & 0x20),
        csrcs=tuple(csrcs),
        extension_profile=profile,
        extension_words=words,
    )


def build_header(
    *,
    sequence: int,
    timestamp: int,
    ssrc: int,
    payload_type: int = OPUS_PAYLOAD_TYPE,
    marker: bool = False,
    padding: bool = False,
    csrcs: tuple[int, ...] = (),
    extension_profile: int | None = None,
    extension_words: int = 0,
) -> bytes:
    """Build the clear-text part of an RTP header (the rtpsize AAD).

    The extension body, if any, belongs to the payload that gets encrypted.
    """
    if len(csrcs) > 15:
        raise VoicePacketInvalid("an RTP header holds at most 15 CSRCs")
    first = (RTP_VERSION << 6) | len(csrcs)
    if padding:
        first |= 0x20
    if extension_profile is not None:
        first |= 0x10
    second = (payload_type & 0x7F) | (0x80 if marker else 0)
    header = _HEADER.pack(
        first, second, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF
    )
    if csrcs:
        header += struct.pack(f">{len(csrcs)}I", *csrcs)
    if extension_profile is not None:
        header += _PREAMBLE.pack(extension_profile, extension_words)
    return header


def build_one_byte_extension(elements: list[tuple[int, bytes]]) -> tuple[int, bytes]:
    """Encode RFC 8285 one-byte extension elements into a body padded to whole words.

    Returns:
        The body length in 32-bit words and the body bytes.
    """
    body = bytearray()
    for ident, data in elements:
        if not 1 <= ident <= 14 or not 1 <= len(data) <= 16:
            raise VoicePacketInvalid("one-byte extension id must be 1-14, data 1-16 bytes")
        body.append((ident << 4) | (len(data) - 1))
        body += data
    body += b"\x00" * (-len(body) % 4)
    return len(body) // 4, bytes(body)


def strip_extension_and_padding(header: RtpHeader, plaintext: bytes) -> bytes:
    """Remove the extension body, then the RTP padding, from a decrypted payload.

    The order matters: padding is counted from the end of the whole plaintext, the
    extension body sits at its start, and the result is what DAVE must see.

    Raises:
        VoicePacketInvalid: the declared extension or padding is larger than the payload.
    """
    start = header.extension_body_size
    end = len(plaintext)
    if start > end:
        raise VoicePacketInvalid("RTP extension body runs past the payload")
    if header.padding:
        if end == start:
            raise VoicePacketInvalid("padded RTP packet has an empty payload")
        pad = plaintext[-1]
        if pad == 0 or pad > end - start:
            raise VoicePacketInvalid(f"RTP padding of {pad} bytes does not fit the payload")
        end -= pad
    return plaintext[start:end]


def pad_payload(payload: bytes, pad: int) -> bytes:
    """Append RTP padding of ``pad`` bytes (the last byte holds the count)."""
    if not 1 <= pad <= 255:
        raise VoicePacketInvalid("RTP padding must be 1-255 bytes")
    return payload + b"\x00" * (pad - 1) + bytes([pad])


def sequence_distance(newer: int, older: int) -> int:
    """Signed distance between two 16-bit sequence numbers, modulo wrap-around."""
    diff = (newer - older) & 0xFFFF
    return diff - 0x10000 if diff >= 0x8000 else diff
