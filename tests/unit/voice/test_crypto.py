"""Transport encryption: both rtpsize modes, nonce monotonicity, interop with discord.py."""

from __future__ import annotations

import os
import struct
import warnings
from types import SimpleNamespace
from typing import Any

import nacl.secret
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from libra.discord.voice import rtp
from libra.discord.voice.crypto import (
    NonceCounter,
    TransportCipher,
    TransportMode,
    choose_mode,
)
from libra.errors import VoiceCryptoError

KEY = bytes(range(32))


@pytest.mark.parametrize("mode", list(TransportMode))
def test_round_trip_with_extension_and_padding(mode: TransportMode) -> None:
    sender, receiver = TransportCipher(mode, KEY), TransportCipher(mode, KEY)
    words, body = rtp.build_one_byte_extension([(1, b"xyz")])
    header = rtp.build_header(
        sequence=9, timestamp=1920, ssrc=5, csrcs=(77,), padding=True,
        extension_profile=0xBEDE, extension_words=words,
    )
    packet = sender.encrypt(header, rtp.pad_payload(body + b"opus-frame", 3))
    assert packet.startswith(header)
    assert len(packet) == len(header) + len(body) + 10 + 3 + 16 + 4
    assert body not in packet  # the extension body is encrypted, only the preamble is clear
    parsed = rtp.parse_header(packet)
    assert rtp.strip_extension_and_padding(parsed, receiver.decrypt(packet)) == b"opus-frame"


@pytest.mark.parametrize("mode", list(TransportMode))
def test_tampered_aad_or_wrong_key_fails(mode: TransportMode) -> None:
    packet = TransportCipher(mode, KEY).encrypt(
        rtp.build_header(sequence=1, timestamp=1, ssrc=1), b"frame"
    )
    tampered = bytes([packet[0], packet[1], packet[2] ^ 1]) + packet[3:]
    with pytest.raises(VoiceCryptoError):
        TransportCipher(mode, KEY).decrypt(tampered)
    with pytest.raises(VoiceCryptoError):
        TransportCipher(mode, bytes(32)).decrypt(packet)


@pytest.mark.parametrize("mode", list(TransportMode))
def test_send_counter_strictly_increases(mode: TransportMode) -> None:
    cipher = TransportCipher(mode, KEY)
    header = rtp.build_header(sequence=1, timestamp=1, ssrc=1)
    counters = [TransportCipher.counter_of(cipher.encrypt(header, b"x")) for _ in range(500)]
    assert counters == list(range(500))


def test_counter_is_shared_across_keys_and_refuses_to_wrap() -> None:
    counter = NonceCounter()
    header = rtp.build_header(sequence=1, timestamp=1, ssrc=1)
    first = TransportCipher(TransportMode.AES256_GCM, KEY, counter).encrypt(header, b"a")
    second = TransportCipher(TransportMode.XCHACHA20, os.urandom(32), counter).encrypt(header, b"b")
    assert TransportCipher.counter_of(first) == 0 and TransportCipher.counter_of(second) == 1
    last = NonceCounter(0xFFFFFFFF)
    assert last.next() == 0xFFFFFFFF
    with pytest.raises(VoiceCryptoError):
        last.next()


def test_mode_choice_prefers_aes_and_rejects_unknown() -> None:
    both = [TransportMode.XCHACHA20.value, TransportMode.AES256_GCM.value]
    assert choose_mode(both) is TransportMode.AES256_GCM
    assert choose_mode(both, TransportMode.XCHACHA20) is TransportMode.XCHACHA20
    assert choose_mode(["aead_xchacha20_poly1305_rtpsize"]) is TransportMode.XCHACHA20
    with pytest.raises(VoiceCryptoError):
        choose_mode(["xsalsa20_poly1305"])


# --- interop with independent implementations --------------------------------------


def _discord_py_encrypt() -> Any:
    """discord.py's own xchacha rtpsize encryption (a test-only dependency)."""
    with warnings.catch_warnings():
        # discord.py imports the stdlib audioop, deprecated since 3.11.
        warnings.simplefilter("ignore", DeprecationWarning)
        from discord.voice_client import VoiceClient
    return VoiceClient._encrypt_aead_xchacha20_poly1305_rtpsize


def _discord_py_client(key: bytes) -> SimpleNamespace:
    """The minimal state discord.py's VoiceClient encryption methods read."""
    client = SimpleNamespace(secret_key=list(key), _incr_nonce=0)

    def checked_add(attr: str, value: int, limit: int) -> None:
        setattr(client, attr, (getattr(client, attr) + value) % (limit + 1))

    client.checked_add = checked_add
    return client


def test_discord_py_xchacha_packets_decrypt_with_ours() -> None:
    client = _discord_py_client(KEY)
    ours = TransportCipher(TransportMode.XCHACHA20, KEY)
    encrypt = _discord_py_encrypt()
    for sequence in range(3):
        header = rtp.build_header(sequence=sequence, timestamp=960 * sequence, ssrc=1234)
        frame = f"opus-{sequence}".encode()
        packet = encrypt(client, header, frame)
        assert ours.decrypt(packet) == frame
        assert TransportCipher.counter_of(packet) == sequence


def test_our_xchacha_packets_decrypt_with_libsodium_as_discord_py_lays_them_out() -> None:
    ours = TransportCipher(TransportMode.XCHACHA20, KEY)
    header = rtp.build_header(sequence=3, timestamp=3, ssrc=3)
    packet = ours.encrypt(header, b"frame")
    # discord.py's layout: nonce = trailing 4 bytes padded to 24, AAD = the header.
    nonce = packet[-4:] + bytes(20)
    box = nacl.secret.Aead(KEY)
    assert box.decrypt(packet[12:-4], header, nonce) == b"frame"


def test_our_aes_packets_match_a_reference_aesgcm_layout() -> None:
    ours = TransportCipher(TransportMode.AES256_GCM, KEY)
    words, body = rtp.build_one_byte_extension([(1, b"\x10")])
    header = rtp.build_header(
        sequence=3, timestamp=3, ssrc=3, extension_profile=0xBEDE, extension_words=words
    )
    ours.counter = NonceCounter(0x01020304)
    packet = ours.encrypt(header, body + b"frame")
    assert packet[-4:] == struct.pack(">I", 0x01020304)
    reference = AESGCM(KEY).decrypt(packet[-4:] + bytes(8), packet[len(header) : -4], header)
    assert reference == body + b"frame"
    sealed = AESGCM(KEY).encrypt(struct.pack(">I", 9) + bytes(8), body + b"peer", header)
    assert ours.decrypt(header + sealed + struct.pack(">I", 9)) == body + b"peer"
