"""A deliberately small voice client used only to prove the fake voice server faithful.

It follows the documented flow step by step (HELLO, IDENTIFY, READY, IP discovery,
SELECT PROTOCOL, SESSION DESCRIPTION, DAVE opcodes, op 5, encrypted RTP) with its
own davey session, so the fake can be exercised without Libra's client. Its RTP,
IP discovery and AEAD code is written inline, not borrowed from the fake, so the
two cross-check each other; only the mode names are shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
import davey
import opuslib_next
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)

from tests.fakes.fake_voice import transport


class _Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait(data)


@dataclass(frozen=True)
class ReceivedPacket:
    user_id: int
    sequence: int
    padding: int
    extension_words: int
    opus: bytes | None  # DAVE-decrypted; None for the Opus silence frame
    pcm: bytes | None
    dave_error: str | None = None


class ReferenceClient:
    """Connect with `await client.connect(identify_extra)`; see the tests for use."""

    def __init__(self, url: str, identity: Any, *, mode: str = transport.AES_GCM) -> None:
        self.url = url
        self.identity = identity
        self.mode = mode
        self.session: davey.DaveSession | None = None
        self.received: list[dict[str, Any] | bytes] = []
        self.known_users: set[int] = {identity.user_id}
        self.ssrc_users: dict[int, int] = {}
        self.last_seq = -1
        self.close_code: int | None = None
        self.counter = 0
        self.sequence = 0
        self._http = aiohttp.ClientSession()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._udp: _Udp | None = None
        self._udp_transport: asyncio.DatagramTransport | None = None
        self.negotiated_mode = ""
        self.secret_key = b""
        self.ready_info: dict[str, Any] = {}
        self._decoders: dict[int, opuslib_next.Decoder] = {}
        self.external_sender = b""

    async def open(self) -> dict[str, Any]:
        """Connect the websocket and return HELLO's `d`."""
        self._ws = await self._http.ws_connect(self.url)
        hello = json.loads((await self._ws.receive()).data)
        assert hello["op"] == 8
        return cast(dict[str, Any], hello["d"])

    async def identify(self, *, dave: bool = True) -> None:
        i = self.identity
        d: dict[str, Any] = {
            "server_id": str(i.guild_id),
            "user_id": str(i.user_id),
            "session_id": i.session_id,
            "token": i.token,
        }
        if dave:
            d["max_dave_protocol_version"] = davey.DAVE_PROTOCOL_VERSION
        await self.send(0, d)

    async def handshake(self) -> None:
        """IDENTIFY → READY → IP discovery → SELECT PROTOCOL → op 4 → key package."""
        await self.open()
        await self.identify()
        ready = await self.next_json(2)
        self.ready_info = ready
        loop = asyncio.get_running_loop()
        udp_transport, self._udp = await loop.create_datagram_endpoint(
            _Udp, remote_addr=(ready["ip"], ready["port"])
        )
        self._udp_transport = udp_transport
        self._udp_transport.sendto(struct.pack(">HHI", 1, 70, ready["ssrc"]) + bytes(66))
        answer = await self._udp.queue.get()
        assert len(answer) == 74 and answer[:2] == b"\x00\x02"
        address = answer[8:72].rstrip(b"\0").decode()
        port = struct.unpack(">H", answer[72:74])[0]
        await self.send(
            1, {"protocol": "udp", "data": {"address": address, "port": port, "mode": self.mode}}
        )
        description = await self.next_json(4)
        self.negotiated_mode = description["mode"]
        self.secret_key = bytes(description["secret_key"])
        i = self.identity
        self.session = davey.DaveSession(
            description["dave_protocol_version"], i.user_id, i.channel_id
        )
        await self.send_key_package()
        self._reader = asyncio.create_task(self._read_forever(), name="reference-client-reader")

    async def send_key_package(self) -> None:
        assert self._ws is not None and self.session is not None
        await self._ws.send_bytes(bytes([26]) + self.session.get_serialized_key_package())

    async def send(self, op: int, d: Any) -> None:
        assert self._ws is not None
        await self._ws.send_str(json.dumps({"op": op, "d": d}))

    async def next_json(self, op: int) -> dict[str, Any]:
        assert self._ws is not None
        while True:
            msg = await self._ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"expected op {op}, got {msg.type} {self._ws.close_code}")
            payload = json.loads(msg.data)
            self.last_seq = payload.get("seq", self.last_seq)
            if payload["op"] == op:
                return cast(dict[str, Any], payload["d"])

    async def wait_closed(self) -> int | None:
        assert self._ws is not None
        while (await self._ws.receive()).type not in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.CLOSING,
        ):
            pass
        return self._ws.close_code

    async def _read_forever(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.last_seq = struct.unpack(">H", msg.data[:2])[0]
                self.received.append(msg.data)
                await self._dave_binary(msg.data[2], msg.data[3:])
            elif msg.type == aiohttp.WSMsgType.TEXT:
                payload = json.loads(msg.data)
                self.last_seq = payload.get("seq", self.last_seq)
                self.received.append(payload)
                await self._json(payload["op"], payload["d"])
        self.close_code = self._ws.close_code

    async def _dave_binary(self, op: int, payload: bytes) -> None:
        assert self.session is not None and self._ws is not None
        if op == 25:
            self.external_sender = payload
            self.session.set_external_sender(payload)
        elif op == 27:
            kind = (
                davey.ProposalsOperationType.revoke
                if payload[0] == 1
                else davey.ProposalsOperationType.append
            )
            result = self.session.process_proposals(kind, payload[1:], sorted(self.known_users))
            if result is not None:
                await self._ws.send_bytes(bytes([28]) + result.commit + (result.welcome or b""))
        elif op in (29, 30):
            tid = struct.unpack(">H", payload[:2])[0]
            if op == 29:
                self.session.process_commit(payload[2:])
            else:
                self.session.process_welcome(payload[2:])
            await self.send(23, {"transition_id": tid})

    async def _json(self, op: int, d: Any) -> None:
        if op == 11:
            self.known_users |= {int(u) for u in d["user_ids"]}
        elif op == 13:
            self.known_users.discard(int(d["user_id"]))
        elif op == 5:
            self.ssrc_users[int(d["ssrc"])] = int(d["user_id"])
        elif op == 24 and d["epoch"] == 1 and self.session is not None:
            i = self.identity
            self.session.reinit(d["protocol_version"], i.user_id, i.channel_id)
            self.session.set_external_sender(self.external_sender)
            await self.send_key_package()

    def send_frame(self, opus: bytes, *, dave: bool = True, counter: int | None = None) -> None:
        """Send one Opus frame as an encrypted RTP packet (DAVE-encrypted unless told not)."""
        assert self.session is not None and self._udp_transport is not None
        frame = self.session.encrypt_opus(opus) if dave else opus
        self.sequence += 1
        ssrc = self.ready_info["ssrc"]
        header = struct.pack(">BBHII", 0x80, 0x78, self.sequence, self.sequence * 960, ssrc)
        self.counter = self.counter + 1 if counter is None else counter
        raw = struct.pack(">I", self.counter)
        if self.negotiated_mode == transport.AES_GCM:
            sealed = AESGCM(self.secret_key).encrypt(raw + bytes(8), frame, header)
        else:
            sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(
                frame, header, raw + bytes(20), self.secret_key
            )
        self._udp_transport.sendto(header + sealed + raw)

    async def receive_frame(self, timeout: float = 5.0) -> tuple[int, bytes]:
        """Next audio frame from the SFU → (user id, decoded PCM); silence is skipped."""
        while True:
            packet = await self.receive_packet(timeout)
            if packet.pcm is not None:
                return packet.user_id, packet.pcm

    async def receive_packet(self, timeout: float = 5.0) -> ReceivedPacket:
        """Next packet, opened with code independent of the fake's `transport` module."""
        assert self._udp is not None and self.session is not None
        data = await asyncio.wait_for(self._udp.queue.get(), timeout)
        first = data[0]
        aad_size = 12 + 4 * (first & 0x0F)
        ext_words = 0
        if first & 0x10:  # extension: preamble authenticated, body encrypted (rtpsize)
            ext_words = struct.unpack(">H", data[aad_size + 2 : aad_size + 4])[0]
            aad_size += 4
        aad, body, counter = data[:aad_size], data[aad_size:-4], data[-4:]
        key = self.secret_key
        if self.negotiated_mode == transport.AES_GCM:
            plain = AESGCM(key).decrypt(counter + bytes(8), body, aad)
        else:
            plain = crypto_aead_xchacha20poly1305_ietf_decrypt(body, aad, counter + bytes(20), key)
        padding = plain[-1] if first & 0x20 else 0
        frame = plain[4 * ext_words : len(plain) - padding]
        seq, _, ssrc = struct.unpack(">HII", data[2:12])
        user = self.ssrc_users[ssrc]
        opus = pcm = None
        if frame != b"\xf8\xff\xfe":
            try:
                opus = bytes(self.session.decrypt(user, davey.MediaType.audio, frame))
            except ValueError as err:
                return ReceivedPacket(user, seq, padding, ext_words, None, None, str(err))
            decoder = self._decoders.setdefault(user, opuslib_next.Decoder(48000, 2))
            pcm = bytes(decoder.decode(opus, 960))
        return ReceivedPacket(user, seq, padding, ext_words, opus, pcm)

    async def close(self, code: int = 1000) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close(code=code)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._udp_transport is not None:
            self._udp_transport.close()
        await self._http.close()
