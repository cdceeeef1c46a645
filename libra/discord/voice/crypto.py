"""Transport encryption of voice packets: the two ``*_rtpsize`` AEAD modes.

Wire layout (both modes)::

    clear header (AAD) | ciphertext + 16-byte tag | 4-byte big-endian nonce counter

The AAD is the fixed header, the CSRCs and the extension preamble
(:attr:`RtpHeader.size`); the extension body is encrypted with the payload. The nonce
is the 4-byte counter followed by zeros up to 12 bytes (AES-256-GCM) or 24 bytes
(XChaCha20-Poly1305). A sender must never reuse a counter under one key, so
:class:`NonceCounter` is strictly increasing and refuses to wrap.
"""

from __future__ import annotations

import struct
from enum import StrEnum
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl import bindings as sodium
from nacl.exceptions import CryptoError

from libra.discord.voice.rtp import parse_header
from libra.errors import VoiceCryptoError, VoicePacketInvalid

TAG_SIZE = 16
COUNTER_SIZE = 4
KEY_SIZE = 32
_COUNTER = struct.Struct(">I")


class TransportMode(StrEnum):
    """Transport encryption modes Discord still offers, in order of preference."""

    AES256_GCM = "aead_aes256_gcm_rtpsize"
    XCHACHA20 = "aead_xchacha20_poly1305_rtpsize"


def choose_mode(offered: list[str], preferred: TransportMode | None = None) -> TransportMode:
    """Pick the transport mode to select from what READY offered.

    Raises:
        VoiceCryptoError: none of the offered modes is supported.
    """
    order = [preferred] if preferred is not None else []
    order += [mode for mode in TransportMode if mode is not preferred]
    for mode in order:
        if mode.value in offered:
            return mode
    raise VoiceCryptoError(
        f"the voice server offered no supported encryption mode: {', '.join(offered)}",
        hint="Libra supports aead_aes256_gcm_rtpsize and aead_xchacha20_poly1305_rtpsize",
    )


class NonceCounter:
    """The send-side nonce: starts at 0, each ``next()`` is larger than the last."""

    __slots__ = ("_value",)

    def __init__(self, start: int = 0) -> None:
        self._value = start

    @property
    def value(self) -> int:
        """The next counter value that will be handed out."""
        return self._value

    def next(self) -> int:
        """Take the next counter value.

        Raises:
            VoiceCryptoError: all 2**32 values are used (a new key is needed).
        """
        value = self._value
        if value > 0xFFFFFFFF:
            raise VoiceCryptoError(
                "voice nonce counter exhausted", hint="reconnect to get a new secret key"
            )
        self._value = value + 1
        return value


class _Aead(Protocol):
    def seal(self, nonce_counter: bytes, aad: bytes, plaintext: bytes) -> bytes: ...

    def open(self, nonce_counter: bytes, aad: bytes, sealed: bytes) -> bytes: ...


class _AesGcm:
    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, nonce_counter: bytes, aad: bytes, plaintext: bytes) -> bytes:
        return self._aead.encrypt(nonce_counter + bytes(8), plaintext, aad)

    def open(self, nonce_counter: bytes, aad: bytes, sealed: bytes) -> bytes:
        return self._aead.decrypt(nonce_counter + bytes(8), sealed, aad)


class _XChaCha:
    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def seal(self, nonce_counter: bytes, aad: bytes, plaintext: bytes) -> bytes:
        nonce = nonce_counter + bytes(20)
        return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, self._key)

    def open(self, nonce_counter: bytes, aad: bytes, sealed: bytes) -> bytes:
        nonce = nonce_counter + bytes(20)
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, aad, nonce, self._key)


class TransportCipher:
    """Encrypts outgoing and decrypts incoming RTP packets for one secret key."""

    __slots__ = ("_aead", "counter", "mode")

    def __init__(
        self, mode: TransportMode, secret_key: bytes, counter: NonceCounter | None = None
    ) -> None:
        if len(secret_key) != KEY_SIZE:
            raise VoiceCryptoError(f"voice secret key has {len(secret_key)} bytes, expected 32")
        self.mode = mode
        self.counter = counter if counter is not None else NonceCounter()
        """Shared across keys of one connection so counters never go backwards."""
        self._aead: _Aead = _AesGcm(secret_key) if mode is TransportMode.AES256_GCM else (
            _XChaCha(secret_key)
        )

    def encrypt(self, header: bytes, payload: bytes) -> bytes:
        """Seal ``payload`` (extension body included) behind the clear ``header``."""
        nonce = _COUNTER.pack(self.counter.next())
        return header + self._aead.seal(nonce, header, payload) + nonce

    def decrypt(self, packet: bytes, aad_size: int | None = None) -> bytes:
        """Open a received packet and return its plaintext (extension body + payload).

        Args:
            packet: The whole datagram.
            aad_size: Size of the clear header; parsed from the packet when omitted.

        Raises:
            VoiceCryptoError: the packet fails authentication.
            VoicePacketInvalid: the packet is too short to hold a tag and counter.
        """
        if aad_size is None:
            aad_size = parse_header(packet).size
        if len(packet) < aad_size + TAG_SIZE + COUNTER_SIZE:
            raise VoicePacketInvalid("voice packet too short for tag and nonce")
        aad = packet[:aad_size]
        nonce = packet[-COUNTER_SIZE:]
        try:
            return self._aead.open(nonce, aad, packet[aad_size:-COUNTER_SIZE])
        except (InvalidTag, CryptoError) as err:
            raise VoiceCryptoError(f"{self.mode.value} authentication failed") from err

    @staticmethod
    def counter_of(packet: bytes) -> int:
        """The nonce counter a packet was sealed with."""
        value: int = _COUNTER.unpack_from(packet, len(packet) - COUNTER_SIZE)[0]
        return value
