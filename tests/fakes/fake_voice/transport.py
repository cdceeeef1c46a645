"""RTP packets, Discord's rtpsize transport encryption and UDP IP discovery.

Written from the discord-api-docs text (voice-connections.mdx) and RFC 3550/3711,
independently of Libra's client:

* rtpsize AEAD modes authenticate, but do not encrypt, the 12-byte header, the
  CSRCs and the 4-byte extension preamble (`0xBEDE`, length in 32-bit words); the
  extension *body* is the start of the ciphertext.
* packet = header ‖ ciphertext ‖ 16-byte tag ‖ 4-byte big-endian counter; the nonce
  is that counter zero-padded to 12 (AES-256-GCM) or 24 (XChaCha20-Poly1305) bytes.
* RTP padding (P bit) lives inside the plaintext; its last byte counts the padding.

AES-256-GCM comes from `cryptography`, XChaCha20-Poly1305 from PyNaCl (libsodium).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError

AES_GCM = "aead_aes256_gcm_rtpsize"
XCHACHA = "aead_xchacha20_poly1305_rtpsize"
SUPPORTED_MODES = (AES_GCM, XCHACHA)
OPUS_PAYLOAD_TYPE = 0x78
OPUS_SILENCE = b"\xf8\xff\xfe"
DAVE_MAGIC = b"\xfa\xfa"
IP_DISCOVERY_SIZE = 74


class TransportError(ValueError):
    """A UDP packet that is not a valid Discord voice packet."""


@dataclass(frozen=True)
class RtpHeader:
    """The clear part of an RTP packet; `aad` is what rtpsize modes authenticate."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    has_padding: bool
    extension_words: int | None
    aad: bytes


def parse_header(packet: bytes) -> RtpHeader:
    if len(packet) < 12 or packet[0] >> 6 != 2:
        raise TransportError("not an RTP v2 packet")
    csrc_count = packet[0] & 0x0F
    size = 12 + 4 * csrc_count
    words: int | None = None
    if packet[0] & 0x10:
        if len(packet) < size + 4:
            raise TransportError("truncated extension preamble")
        words = struct.unpack(">H", packet[size + 2 : size + 4])[0]
        size += 4
    seq, ts, ssrc = struct.unpack(">HII", packet[2:12])
    return RtpHeader(
        payload_type=packet[1] & 0x7F,
        sequence=seq,
        timestamp=ts,
        ssrc=ssrc,
        has_padding=bool(packet[0] & 0x20),
        extension_words=words,
        aad=packet[:size],
    )


def build_header(
    sequence: int, timestamp: int, ssrc: int, *, extension_words: int | None, padded: bool
) -> bytes:
    first = 0x80 | (0x20 if padded else 0) | (0x10 if extension_words is not None else 0)
    head = struct.pack(">BBHII", first, OPUS_PAYLOAD_TYPE, sequence, timestamp, ssrc)
    if extension_words is not None:
        head += struct.pack(">HH", 0xBEDE, extension_words)
    return head


class TransportCipher:
    """One direction's AEAD for a negotiated mode and 32-byte secret key."""

    def __init__(self, mode: str, secret_key: bytes) -> None:
        if mode not in SUPPORTED_MODES:
            raise TransportError(f"unsupported mode {mode}")
        self.mode = mode
        self._key = bytes(secret_key)
        self._aes = AESGCM(self._key) if mode == AES_GCM else None

    def _nonce(self, counter: bytes) -> bytes:
        return counter + bytes(8 if self._aes is not None else 20)

    def seal(self, aad: bytes, plaintext: bytes, counter: int) -> bytes:
        raw = struct.pack(">I", counter & 0xFFFFFFFF)
        nonce = self._nonce(raw)
        if self._aes is not None:
            sealed = self._aes.encrypt(nonce, plaintext, aad)
        else:
            sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, self._key)
        return aad + sealed + raw

    def open(self, packet: bytes, header: RtpHeader) -> tuple[bytes, int]:
        """Return (plaintext, counter); raises `TransportError` if authentication fails."""
        if len(packet) < len(header.aad) + 16 + 4:
            raise TransportError("packet too short for tag and nonce")
        raw = packet[-4:]
        body = packet[len(header.aad) : -4]
        try:
            if self._aes is not None:
                plain = self._aes.decrypt(self._nonce(raw), body, header.aad)
            else:
                plain = crypto_aead_xchacha20poly1305_ietf_decrypt(
                    body, header.aad, self._nonce(raw), self._key
                )
        except (InvalidTag, CryptoError) as err:
            raise TransportError(f"{self.mode} authentication failed") from err
        return plain, int(struct.unpack(">I", raw)[0])


def media_payload(plain: bytes, header: RtpHeader) -> bytes:
    """Strip the encrypted extension body, then RTP padding, leaving the (DAVE) frame."""
    start = 4 * header.extension_words if header.extension_words is not None else 0
    end = len(plain)
    if header.has_padding:
        if not plain:
            raise TransportError("padding bit set on an empty payload")
        count = plain[-1]
        if count == 0 or count > end - start:
            raise TransportError(f"invalid RTP padding count {count}")
        end -= count
    if start > end:
        raise TransportError("extension body longer than the payload")
    return plain[start:end]


def discovery_request(ssrc: int) -> bytes:
    return struct.pack(">HHI", 1, 70, ssrc) + bytes(64) + struct.pack(">H", 0)


def discovery_response(ssrc: int, address: str, port: int) -> bytes:
    return (
        struct.pack(">HHI", 2, 70, ssrc)
        + address.encode().ljust(64, b"\0")
        + struct.pack(">H", port)
    )


def parse_discovery(packet: bytes) -> tuple[int, int, str, int]:
    """Return (type, ssrc, address, port) of a 74-byte IP discovery packet."""
    if len(packet) != IP_DISCOVERY_SIZE:
        raise TransportError(f"IP discovery packet is {len(packet)} bytes, not 74")
    kind, length, ssrc = struct.unpack(">HHI", packet[:8])
    if length != 70:
        raise TransportError(f"IP discovery length field {length}, not 70")
    address = packet[8:72].split(b"\0", 1)[0].decode()
    return kind, ssrc, address, int(struct.unpack(">H", packet[72:74])[0])
