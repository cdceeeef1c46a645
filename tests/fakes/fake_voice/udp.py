"""The fake SFU's UDP socket: IP discovery, strict intake of the bot's audio, and
forwarding of fake peers' packets to the bot.

Every bot packet is checked the way a strict server would: IP discovery is
answered with the address and port the packet came from; 8-byte keepalives and RTCP
are counted and ignored; audio outside "speaking 1" ... "speaking 0" (op 5) is
dropped and counted; the packet must authenticate in the
negotiated mode; its 4-byte nonce counter must be strictly increasing; the media
frame (after extension body and padding are removed) must be the Opus silence frame
or end in the DAVE magic marker `0xFAFA`. Accepted frames go to every fake peer,
which DAVE-decrypts and Opus-decodes them with its own session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from tests.fakes.fake_voice import transport


@dataclass(frozen=True)
class BotPacket:
    """One accepted audio packet from the bot."""

    arrived: float
    sequence: int
    timestamp: int
    counter: int
    frame_size: int
    dave: bool


@dataclass
class UdpRecord:
    """What the bot sent over UDP, and what it got wrong."""

    discoveries: int = 0
    keepalives: int = 0
    """8-byte UDP keepalives (a counter, as Discord clients send while silent)."""
    packets: list[BotPacket] = field(default_factory=list)
    refused_before_speaking: int = 0
    """Audio packets while the bot was not speaking (before op 5, or after speaking 0)."""
    before_session: int = 0
    rtcp: int = 0
    wrong_ssrc: int = 0
    decrypt_failures: int = 0
    malformed: list[str] = field(default_factory=list)
    nonce_violations: list[tuple[int, int]] = field(default_factory=list)
    """(previous counter, offending counter) for every non-increasing nonce."""
    unencrypted_frames: int = 0
    """Non-silence frames without the DAVE magic marker."""
    silence_frames: int = 0
    sent_to_bot: int = 0


KEEPALIVE_SIZE = 8
FrameSink = Callable[[int, int, bytes], None]  # (sequence, timestamp, frame)


class SfuEndpoint(asyncio.DatagramProtocol):
    """UDP side of one fake voice server; the gateway configures it per bot session."""

    def __init__(self) -> None:
        self.record = UdpRecord()
        self.transport: asyncio.DatagramTransport | None = None
        self.bot_ssrc: int | None = None
        self.bot_speaking = False
        self.malformed_discovery_answers = 0
        """How many coming IP discovery requests get a malformed answer."""
        self.bot_address: tuple[str, int] | None = None
        self.cipher: transport.TransportCipher | None = None
        self.frame_sink: FrameSink | None = None
        self._last_counter: int | None = None
        self._send_counter = 0

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def new_session(self, ssrc: int) -> None:
        """A fresh IDENTIFY: forget the previous session's key, speaking state and counters."""
        self.bot_ssrc = ssrc
        self.bot_speaking = False
        self.cipher = None
        self.bot_address = None
        self._last_counter = None

    def describe(self, mode: str, secret_key: bytes, address: tuple[str, int]) -> None:
        self.cipher = transport.TransportCipher(mode, secret_key)
        self.bot_address = address
        self._last_counter = None

    def connection_made(self, transport_: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport_)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) == transport.IP_DISCOVERY_SIZE and data[:2] == b"\x00\x01":
            self._discovery(data, addr)
            return
        if len(data) == KEEPALIVE_SIZE:
            self.record.keepalives += 1
            return
        try:
            self._audio(data)
        except transport.TransportError as err:
            self.record.malformed.append(str(err))

    def _discovery(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            _, ssrc, _, _ = transport.parse_discovery(data)
        except transport.TransportError as err:
            self.record.malformed.append(str(err))
            return
        self.record.discoveries += 1
        assert self.transport is not None
        if self.malformed_discovery_answers > 0:
            self.malformed_discovery_answers -= 1
            answer = bytearray(transport.discovery_response(ssrc, addr[0], addr[1]))
            answer[2:4] = (12).to_bytes(2, "big")  # a response with a wrong length field
            self.transport.sendto(bytes(answer), addr)
            return
        self.transport.sendto(transport.discovery_response(ssrc, addr[0], addr[1]), addr)

    def _audio(self, data: bytes) -> None:
        if len(data) >= 2 and 200 <= data[1] <= 204:
            self.record.rtcp += 1
            return
        header = transport.parse_header(data)
        if header.payload_type != transport.OPUS_PAYLOAD_TYPE:
            self.record.malformed.append(f"payload type {header.payload_type}")
            return
        if header.ssrc != self.bot_ssrc:
            self.record.wrong_ssrc += 1
            return
        if self.cipher is None:
            self.record.before_session += 1
            return
        if not self.bot_speaking:
            self.record.refused_before_speaking += 1
            return
        try:
            plain, counter = self.cipher.open(data, header)
        except transport.TransportError:
            self.record.decrypt_failures += 1
            return
        if self._last_counter is not None and counter <= self._last_counter:
            self.record.nonce_violations.append((self._last_counter, counter))
        self._last_counter = max(counter, self._last_counter or 0)
        frame = transport.media_payload(plain, header)
        dave = frame.endswith(transport.DAVE_MAGIC)
        if frame == transport.OPUS_SILENCE:
            self.record.silence_frames += 1
        elif not dave:
            self.record.unencrypted_frames += 1
        self.record.packets.append(
            BotPacket(
                time.monotonic(), header.sequence, header.timestamp, counter, len(frame), dave
            )
        )
        if self.frame_sink is not None:
            self.frame_sink(header.sequence, header.timestamp, frame)

    def send_to_bot(self, aad: bytes, plaintext: bytes) -> None:
        """Transport-encrypt a peer's packet with the bot's session key and send it."""
        if self.cipher is None or self.bot_address is None or self.transport is None:
            return
        if self.transport.is_closing():
            return
        self._send_counter = (self._send_counter + 1) & 0xFFFFFFFF
        self.transport.sendto(
            self.cipher.seal(aad, plaintext, self._send_counter), self.bot_address
        )
        self.record.sent_to_bot += 1
