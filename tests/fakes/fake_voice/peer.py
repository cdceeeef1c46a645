"""A fake Discord user in the call: its own DAVE session, a voice, and ears.

A `FakePeer` drives a real `davey.DaveSession` exactly as a DAVE client would from
the gateway's opcodes (25, 27, 29, 30, 22, 24, 21), answers with key packages,
commits, op 23 and op 31, speaks PCM as paced RTP through the fake SFU, and
records, per sender, the PCM it decoded from what the bot sent.
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import davey
import opuslib_next

from tests.fakes.fake_voice import transport

FRAME_SAMPLES = 960
FRAME_BYTES = FRAME_SAMPLES * 2 * 2  # 20 ms of 48 kHz stereo s16le
TIMESTAMP_STEP = 960


@dataclass(frozen=True)
class NetworkConditions:
    """How the fake SFU mistreats a peer's packets on the way to the bot."""

    loss: float = 0.0
    """Probability that a packet is dropped."""
    reorder: float = 0.0
    """Probability that a packet is held back and sent after the next one."""
    jitter_ms: float = 0.0
    """Uniform extra delay, 0..jitter_ms, added to each packet."""
    padding_every: int = 3
    """Every Nth packet carries 1-15 bytes of RTP padding (0 disables)."""
    duplicate_every: int = 0
    """Every Nth packet is sent again five packets later, after it was played (0: never)."""
    first_packet_after: int = 0
    """The first packet of each talk spurt is sent after the next N (1: 2, 1, 3, 4…)."""
    seed: int = 1
    """Seed for the deterministic random choices above."""


@dataclass(frozen=True)
class HeardFrame:
    """One frame the peer received from a sender, decoded."""

    sequence: int
    timestamp: int
    pcm: bytes


@dataclass
class PeerLog:
    """What the peer's DAVE client did, for assertions."""

    executed: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    decrypt_failures: int = 0
    silence_frames: int = 0
    frames_sent: int = 0
    frames_skipped_not_ready: int = 0
    spurt_starts: list[int] = field(default_factory=list)
    """RTP sequence number of the first packet of each `speak` (talk spurt)."""


# (aad, plaintext) to be transport-encrypted by the SFU and sent to the bot.
Transmit = Callable[[bytes, bytes], None]


class FakePeer:
    """A call member with its own `davey.DaveSession`; created by `FakeVoiceServer.add_peer`."""

    def __init__(
        self,
        *,
        user_id: int,
        channel_id: int,
        ssrc: int,
        protocol_version: int,
        delivery: Any,
        conditions: NetworkConditions,
        transmit: Transmit,
        on_speaking: Callable[[FakePeer], None],
        commit_delay: float = 0.0,
    ) -> None:
        self.user_id = user_id
        self.channel_id = channel_id
        self.ssrc = ssrc
        self.protocol_version = protocol_version
        self.conditions = conditions
        self.session = davey.DaveSession(protocol_version, user_id, channel_id)
        self.known_users: set[int] = {user_id}
        self.log = PeerLog()
        self.heard: dict[int, list[HeardFrame]] = {}
        self._delivery = delivery
        self._transmit = transmit
        self._on_speaking = on_speaking
        self._commit_delay = commit_delay
        self.ready_delay = 0.0
        """Seconds this peer takes to send op 23 (a slow client stretches a transition)."""
        self._wire_time: float | None = None
        """When the packet being sent leaves, on the loop clock (``None``: now)."""
        self._external_sender = b""
        self._decoders: dict[int, opuslib_next.Decoder] = {}
        self._encoder = opuslib_next.Encoder(48000, 2, opuslib_next.APPLICATION_AUDIO)
        self._sequence = random.Random(ssrc).randrange(0, 0xFFFF)
        self._timestamp = random.Random(ssrc + 1).randrange(0, 0xFFFFFFFF)
        self._rng = random.Random(conditions.seed)
        self._settled = asyncio.Event()  # no commit processed but not yet executed
        self._settled.set()

    # ---- DAVE: MemberLink --------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Whether this peer's davey session can encrypt and decrypt."""
        return bool(self.session.ready)

    def _reply(self, fn: Callable[..., None], *args: Any) -> None:
        # Answers travel "over the network": never re-enter the delivery service.
        asyncio.get_running_loop().call_soon(fn, self.user_id, *args)

    def send_key_package(self) -> None:
        self._reply(self._delivery.on_key_package, self.session.get_serialized_key_package())

    def dave_binary(self, op: int, payload: bytes) -> None:
        try:
            self._handle_binary(op, payload)
        except (ValueError, RuntimeError) as err:
            self.log.errors.append(f"op {op}: {err}")
            if op in (29, 30):
                self._recover(struct.unpack(">H", payload[:2])[0])

    def _handle_binary(self, op: int, payload: bytes) -> None:
        if op == 25:
            self._external_sender = payload
            self.session.set_external_sender(payload)
        elif op == 27:
            kind = (
                davey.ProposalsOperationType.revoke
                if payload[0] == 1
                else davey.ProposalsOperationType.append
            )
            result = self.session.process_proposals(kind, payload[1:], sorted(self.known_users))
            if result is not None:
                # A slower committer lets another member's commit win the epoch.
                asyncio.get_running_loop().call_later(
                    self._commit_delay,
                    self._delivery.on_commit_welcome,
                    self.user_id,
                    result.commit + (result.welcome or b""),
                )
        elif op in (29, 30):
            if op == 29:
                self.session.process_commit(payload[2:])
            else:
                self.session.process_welcome(payload[2:])
            self._settled.clear()
            asyncio.get_running_loop().call_later(
                self.ready_delay, self._delivery.on_ready, self.user_id,
                struct.unpack(">H", payload[:2])[0],
            )

    def dave_json(self, op: int, data: dict[str, Any]) -> None:
        if op == 22:
            self.log.executed.append(int(data["transition_id"]))
            self._settled.set()
        elif op == 24 and int(data["epoch"]) == 1:
            self._reinit()
        elif op == 21 and int(data["transition_id"]) != 0:
            self._reply(self._delivery.on_ready, int(data["transition_id"]))

    def _reinit(self) -> None:
        self._settled.set()
        self.session.reinit(self.protocol_version, self.user_id, self.channel_id)
        if self._external_sender:
            self.session.set_external_sender(self._external_sender)
        self.send_key_package()

    def _recover(self, transition_id: int) -> None:
        self._reply(self._delivery.on_invalid, transition_id)
        self._reinit()

    # ---- receiving from the bot --------------------------------------------------
    def receive(self, sender: int, sequence: int, timestamp: int, frame: bytes) -> None:
        """Called by the fake SFU with a transport-decrypted, un-padded media frame."""
        if frame == transport.OPUS_SILENCE:
            self.log.silence_frames += 1
            return
        try:
            opus = self.session.decrypt(sender, davey.MediaType.audio, frame)
        except ValueError as err:
            self.log.decrypt_failures += 1
            self.log.errors.append(f"decrypt from {sender}: {err}")
            return
        decoder = self._decoders.setdefault(sender, opuslib_next.Decoder(48000, 2))
        pcm = decoder.decode(opus, FRAME_SAMPLES * 6)
        self.heard.setdefault(sender, []).append(HeardFrame(sequence, timestamp, bytes(pcm)))

    def heard_pcm(self, sender: int) -> bytes:
        """Everything decoded from `sender`, in RTP sequence order (48 kHz stereo s16le)."""
        frames = self.heard.get(sender, [])
        return b"".join(f.pcm for f in _sequence_order(frames))

    # ---- speaking ------------------------------------------------------------------
    async def speak(self, pcm: bytes, *, realtime: bool = True, trailing_silence: int = 5) -> None:
        """Send `pcm` (48 kHz stereo s16le) to the bot as DAVE-encrypted Opus in RTP.

        The bot first gets op 5 `{user_id, ssrc, speaking: 1}` for this peer. Packets
        are paced every 20 ms (unless `realtime` is False), carry a `0xBEDE` extension,
        padding on every `padding_every`-th packet, and suffer the peer's
        `NetworkConditions`; `trailing_silence` Opus silence frames follow the speech.
        Frames produced while the peer's DAVE session is not ready are not sent.
        """
        self._on_speaking(self)
        transmit = self._transmit
        loop = asyncio.get_running_loop()
        start = loop.time()
        held: tuple[bytes, bytes] | None = None
        first: tuple[bytes, bytes] | None = None
        self.log.spurt_starts.append(self._sequence)
        duplicates: list[tuple[int, tuple[bytes, bytes]]] = []
        frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
        opus = [
            bytes(self._encoder.encode(f.ljust(FRAME_BYTES, b"\0"), FRAME_SAMPLES)) for f in frames
        ]
        opus += [transport.OPUS_SILENCE] * trailing_silence
        for index, frame in enumerate(opus):
            self._wire_time = due = start + index * 0.02 if realtime else None
            if due is not None:
                await asyncio.sleep(max(0.0, due - loop.time()))
            # davey 0.1.7 switches keys when it processes a commit, not at op 22, so
            # a real client's "old key until execute" is approximated by pausing.
            await self._settled.wait()
            payload = self._dave_encrypt(frame)
            if payload is None:
                self._advance()
                continue
            packet = self._packetize(payload)
            self._advance()
            self.log.frames_sent += 1
            every = self.conditions.duplicate_every
            if every and index % every == 0:
                duplicates.append((index + 5, packet))
            while duplicates and duplicates[0][0] <= index:
                self._send_later(duplicates.pop(0)[1], transmit)
            if index == 0 and self.conditions.first_packet_after:
                first = packet
                continue
            if first is not None and index >= self.conditions.first_packet_after:
                self._send_later(packet, transmit)  # exempt from loss: the order is the point
                self._send_later(first, transmit)
                first = None
                continue
            if self._rng.random() < self.conditions.loss:
                continue
            if held is None and self._rng.random() < self.conditions.reorder:
                held = packet
                continue
            self._send_later(packet, transmit)
            if held is not None:
                self._send_later(held, transmit)
                held = None
        for late in (first, held):
            if late is not None:
                self._send_later(late, transmit)

    def _dave_encrypt(self, opus: bytes) -> bytes | None:
        if opus == transport.OPUS_SILENCE:
            return opus  # the silence frame is exempt from DAVE (whitepaper, Silence Packets)
        if not self.session.ready:
            self.log.frames_skipped_not_ready += 1
            return None
        return bytes(self.session.encrypt_opus(opus))

    def _advance(self) -> None:
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + TIMESTAMP_STEP) & 0xFFFFFFFF

    def _packetize(self, frame: bytes) -> tuple[bytes, bytes]:
        count = self.log.frames_sent
        # One-byte header extension (RFC 8285): an audio-level element, sometimes two.
        body = bytes([0x10, self._rng.randrange(0, 127)])
        if count % 5 == 4:
            body += bytes([0x22, 1, 2, 3])
        body = body.ljust(-(-len(body) // 4) * 4, b"\0")
        padding = b""
        every = self.conditions.padding_every
        if every and count % every == every - 1:
            n = self._rng.randrange(1, 16)
            padding = bytes(n - 1) + bytes([n])
        header = transport.build_header(
            self._sequence,
            self._timestamp,
            self.ssrc,
            extension_words=len(body) // 4,
            padded=bool(padding),
        )
        return header, body + frame + padding

    def _send_later(self, packet: tuple[bytes, bytes], transmit: Transmit) -> None:
        delay = self._rng.uniform(0, self.conditions.jitter_ms) / 1000
        if delay <= 0:
            transmit(*packet)
            return
        loop = asyncio.get_running_loop()
        # Jitter counts from the frame's place in real time, not from when this
        # coroutine woke up: on a busy machine a late wake-up sends several frames at
        # once, and jitter measured from "now" would reorder them by chance. With
        # ``call_at`` the arrival order is the seed's, however late the sender runs.
        wire_time = loop.time() if self._wire_time is None else self._wire_time
        loop.call_at(wire_time + delay, transmit, *packet)


def _sequence_order(frames: list[HeardFrame]) -> list[HeardFrame]:
    """Sort by 16-bit sequence, unwrapping relative to the first frame."""
    if not frames:
        return []
    first = frames[0].sequence
    return sorted(frames, key=lambda f: (f.sequence - first + 0x8000) & 0xFFFF)
