"""RTP header parsing/building with CSRCs, the 0xBEDE extension and padding."""

from __future__ import annotations

import pytest

from libra.discord.voice import rtp
from libra.errors import VoicePacketInvalid


def test_plain_header_round_trip() -> None:
    header = rtp.build_header(sequence=65535, timestamp=2**32 - 1, ssrc=0xDEADBEEF)
    assert len(header) == 12
    assert header[:2] == b"\x80\x78"
    parsed = rtp.parse_header(header + b"payload")
    assert (parsed.sequence, parsed.timestamp, parsed.ssrc) == (65535, 2**32 - 1, 0xDEADBEEF)
    assert parsed.payload_type == rtp.OPUS_PAYLOAD_TYPE
    assert parsed.size == 12 and parsed.csrcs == () and not parsed.padding


def test_csrcs_extension_and_padding_are_parsed_and_stripped() -> None:
    words, body = rtp.build_one_byte_extension([(1, b"\x01\x02\x03"), (3, b"\xff")])
    assert words == 2 and len(body) == 8
    header = rtp.build_header(
        sequence=7, timestamp=960, ssrc=42, csrcs=(1, 2, 3), padding=True,
        extension_profile=rtp.ONE_BYTE_EXTENSION_PROFILE, extension_words=words,
    )
    opus = b"\xfc\x01\x02\x03dave\xfa\xfa"
    # The extension body leads the (decrypted) payload; padding trails it.
    plaintext = rtp.pad_payload(body + opus, 7)
    parsed = rtp.parse_header(header + plaintext)
    assert parsed.csrcs == (1, 2, 3)
    assert parsed.extension_profile == 0xBEDE and parsed.extension_words == 2
    assert parsed.size == 12 + 12 + 4 == len(header)
    assert parsed.padding
    assert rtp.strip_extension_and_padding(parsed, plaintext) == opus


def test_extension_without_padding_and_padding_without_extension() -> None:
    words, body = rtp.build_one_byte_extension([(2, b"abcd")])
    ext = rtp.parse_header(rtp.build_header(
        sequence=1, timestamp=1, ssrc=1, extension_profile=0xBEDE, extension_words=words
    ))
    assert rtp.strip_extension_and_padding(ext, body + b"opus") == b"opus"
    padded = rtp.parse_header(rtp.build_header(sequence=1, timestamp=1, ssrc=1, padding=True))
    assert rtp.strip_extension_and_padding(padded, rtp.pad_payload(b"opus", 1)) == b"opus"
    assert rtp.strip_extension_and_padding(padded, rtp.pad_payload(b"opus", 255)) == b"opus"


@pytest.mark.parametrize(
    "packet",
    [b"\x80\x78\x00", b"\x40" + bytes(11), b"\x83\x78" + bytes(14), b"\x90\x78" + bytes(12)],
    ids=["short", "version1", "csrc-overrun", "extension-overrun"],
)
def test_malformed_headers_are_rejected(packet: bytes) -> None:
    with pytest.raises(VoicePacketInvalid):
        rtp.parse_header(packet)


def test_bad_padding_is_rejected() -> None:
    parsed = rtp.parse_header(rtp.build_header(sequence=1, timestamp=1, ssrc=1, padding=True))
    with pytest.raises(VoicePacketInvalid):
        rtp.strip_extension_and_padding(parsed, b"ab\x09")
    with pytest.raises(VoicePacketInvalid):
        rtp.strip_extension_and_padding(parsed, b"ab\x00")


@pytest.mark.parametrize("second", [200, 201, 202, 203, 204])
def test_rtcp_is_recognised(second: int) -> None:
    assert rtp.is_rtcp(bytes([0x81, second]) + bytes(6))


def test_opus_with_marker_is_not_rtcp() -> None:
    header = rtp.build_header(sequence=1, timestamp=1, ssrc=1, marker=True)
    assert header[1] == 0xF8 and not rtp.is_rtcp(header)


def test_sequence_distance_wraps() -> None:
    assert rtp.sequence_distance(0, 65535) == 1
    assert rtp.sequence_distance(65535, 0) == -1
    assert rtp.sequence_distance(5, 65530) == 11
