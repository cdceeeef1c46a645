"""The voice gateway websocket (v8) for the bot.

Handshake: op 8 HELLO → op 0 IDENTIFY (fields must match the test's `CallIdentity`;
without `max_dave_protocol_version` the socket is closed with 4017) → op 2 READY →
op 1 SELECT PROTOCOL (unknown mode → 4016) → op 4 SESSION DESCRIPTION, then op 11
for users already in the call and op 25, the DAVE external sender.

Every session message carries `seq` (JSON) or a u16 sequence prefix (binary) from
one counter and is kept in a replay buffer; op 7 RESUME on a *new* socket gets op 9
then everything after its `seq_ack`. Connection-level messages (op 8, op 6, op 9)
are not numbered. Close codes follow discord-api-docs: 4001 unknown opcode, 4002
undecodable payload, 4003 not identified, 4004 wrong token/identity, 4005 identified
twice, 4006 invalid session (failed resume), 4009 heartbeat timeout, 4016 unknown
mode, 4017 DAVE required, 4020 bad request (no `?v=8`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.fakes.fake_voice.server import FakeVoiceServer

OP_IDENTIFY, OP_SELECT, OP_READY, OP_HEARTBEAT, OP_DESCRIPTION, OP_SPEAKING = 0, 1, 2, 3, 4, 5
OP_ACK, OP_RESUME, OP_HELLO, OP_RESUMED, OP_CONNECT, OP_DISCONNECT = 6, 7, 8, 9, 11, 13
OP_READY_FOR_TRANSITION, OP_KEY_PACKAGE, OP_COMMIT_WELCOME, OP_INVALID = 23, 26, 28, 31
SESSION_ENDING_CLOSES = {4006, 4014, 4021, 4022}


@dataclass
class GatewayRecord:
    """Counters and transcripts for assertions about the bot's gateway behaviour."""

    connections: int = 0
    identifies: int = 0
    resumes: int = 0
    failed_resumes: int = 0
    heartbeats: int = 0
    heartbeat_seq_acks: list[int | None] = field(default_factory=list)
    speaking: list[dict[str, Any]] = field(default_factory=list)
    received_ops: list[int] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)
    """Close codes the server sent."""
    client_close_codes: list[int | None] = field(default_factory=list)
    """Close codes of sockets the bot (or the network) closed."""
    identify_payloads: list[dict[str, Any]] = field(default_factory=list)
    select_payloads: list[dict[str, Any]] = field(default_factory=list)


class BotSession:
    """One identified voice session of the bot; survives sockets until it is invalidated."""

    def __init__(self, user_id: int, ssrc: int, replay_size: int) -> None:
        self.user_id = user_id
        self.ssrc = ssrc
        self.seq = 0
        self.valid = True
        self.described = False
        self.buffer: deque[tuple[int, str | bytes]] = deque(maxlen=replay_size)
        self.outbox: asyncio.Queue[str | bytes] | None = None

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFF
        return self.seq

    def send_json(self, op: int, data: Any) -> None:
        seq = self._next_seq()
        self._emit(seq, json.dumps({"op": op, "d": data, "seq": seq}))

    def dave_binary(self, op: int, payload: bytes) -> None:
        seq = self._next_seq()
        self._emit(seq, seq.to_bytes(2, "big") + bytes([op]) + payload)

    def dave_json(self, op: int, data: dict[str, Any]) -> None:
        self.send_json(op, data)

    def _emit(self, seq: int, frame: str | bytes) -> None:
        self.buffer.append((seq, frame))
        if self.outbox is not None:
            self.outbox.put_nowait(frame)

    def replay_after(self, seq_ack: int) -> list[str | bytes] | None:
        """Messages after `seq_ack`, or None when the buffer no longer holds them all."""
        if seq_ack == self.seq:
            return []
        seqs = [s for s, _ in self.buffer]
        if seq_ack == -1 and seqs and seqs[0] == 1:
            return [f for _, f in self.buffer]
        if seq_ack not in seqs:
            return None
        index = seqs.index(seq_ack)
        return [f for _, f in list(self.buffer)[index + 1 :]]


class VoiceGateway:
    """Serves `GET /?v=8` websockets for one fake voice server."""

    def __init__(self, server: FakeVoiceServer) -> None:
        self.server = server
        self.record = GatewayRecord()
        self.session: BotSession | None = None
        self.socket: web.WebSocketResponse | None = None
        self._request: web.Request | None = None
        self._server_close: dict[int, int] = {}
        self._closers: set[asyncio.Task[None]] = set()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.record.connections += 1
        if request.query.get("v") != "8":
            await self._close(ws, 4020)
            return ws
        outbox: asyncio.Queue[str | bytes] = asyncio.Queue()
        writer = asyncio.create_task(self._write(ws, outbox), name="fake-voice-ws-writer")
        outbox.put_nowait(
            json.dumps({"op": OP_HELLO, "d": {"heartbeat_interval": self.server.heartbeat_ms}})
        )
        self.socket, self._request = ws, request
        conn = _Connection(outbox)
        try:
            await self._read(ws, conn)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            if conn.session is not None and conn.session.outbox is outbox:
                conn.session.outbox = None
            if self.socket is ws:
                self.socket = None
            code = self._server_close.pop(id(ws), None)
            if code is None:
                self.record.client_close_codes.append(ws.close_code)
                code = ws.close_code
            self._after_close(conn, code)
        return ws

    async def _write(self, ws: web.WebSocketResponse, outbox: asyncio.Queue[str | bytes]) -> None:
        while True:
            frame = await outbox.get()
            try:
                if isinstance(frame, bytes):
                    await ws.send_bytes(frame)
                else:
                    await ws.send_str(frame)
            except ConnectionResetError:
                return  # the socket is closing; the session's replay buffer keeps the frame

    async def _read(self, ws: web.WebSocketResponse, conn: _Connection) -> None:
        loop = asyncio.get_running_loop()
        allowance = self.server.heartbeat_ms / 1000 * 2  # a missed beat is tolerated, two are not
        conn.last_heartbeat = loop.time()
        while not ws.closed:
            remaining = conn.last_heartbeat + allowance - loop.time()
            if self.server.enforce_heartbeat and remaining <= 0:
                await self._close(ws, 4009)
                return
            try:
                msg = await ws.receive(timeout=remaining if self.server.enforce_heartbeat else None)
            except TimeoutError:
                continue
            if msg.type == WSMsgType.TEXT:
                try:
                    payload = json.loads(msg.data)
                    op, data = int(payload["op"]), payload.get("d")
                except (ValueError, KeyError, TypeError):
                    await self._close(ws, 4002)
                    return
                self.record.received_ops.append(op)
                await self._on_json(ws, conn, op, data)
            elif msg.type == WSMsgType.BINARY:
                raw: bytes = msg.data
                if not raw or conn.session is None:
                    await self._close(ws, 4003)
                    return
                self.record.received_ops.append(raw[0])
                await self._on_binary(ws, conn.session, raw[0], raw[1:])
            else:
                return

    async def _on_json(self, ws: web.WebSocketResponse, conn: _Connection, op: int, d: Any) -> None:
        dave = self.server.dave
        if op == OP_HEARTBEAT:
            conn.last_heartbeat = asyncio.get_running_loop().time()
            self.record.heartbeats += 1
            if not self.server.ack_heartbeats:
                return
            if isinstance(d, dict):
                self.record.heartbeat_seq_acks.append(d.get("seq_ack"))
                conn.outbox.put_nowait(json.dumps({"op": OP_ACK, "d": {"t": d.get("t")}}))
            else:  # pre-v8 bare nonce: acknowledged, but seq_ack is missing
                self.record.heartbeat_seq_acks.append(None)
                conn.outbox.put_nowait(json.dumps({"op": OP_ACK, "d": d}))
        elif op == OP_IDENTIFY:
            await self._identify(ws, conn, d)
        elif op == OP_RESUME:
            await self._resume(ws, conn, d)
        elif conn.session is None:
            await self._close(ws, 4003)
        elif op == OP_SELECT:
            await self._select(ws, conn.session, d)
        elif op == OP_SPEAKING:
            self.record.speaking.append(dict(d))
            if int(d.get("ssrc", -1)) == conn.session.ssrc:
                # Audio is accepted between "speaking 1" and "speaking 0", never outside.
                self.server.udp.bot_speaking = bool(int(d.get("speaking", 0)))
        elif op == OP_READY_FOR_TRANSITION:
            dave.on_ready(conn.session.user_id, int(d["transition_id"]))
        elif op == OP_INVALID:
            dave.on_invalid(conn.session.user_id, int(d["transition_id"]))
        else:
            await self._close(ws, 4001)

    async def _on_binary(
        self, ws: web.WebSocketResponse, session: BotSession, op: int, payload: bytes
    ) -> None:
        if op == OP_KEY_PACKAGE:
            self.server.dave.on_key_package(session.user_id, payload)
        elif op == OP_COMMIT_WELCOME:
            self.server.dave.on_commit_welcome(session.user_id, payload)
        else:
            await self._close(ws, 4001)

    async def _identify(self, ws: web.WebSocketResponse, conn: _Connection, d: Any) -> None:
        self.record.identifies += 1
        self.record.identify_payloads.append(dict(d) if isinstance(d, dict) else {})
        if conn.session is not None:
            await self._close(ws, 4005)
            return
        if not isinstance(d, dict) or not self.server.identity.matches(d, resume=False):
            await self._close(ws, 4004)
            return
        if not d.get("max_dave_protocol_version"):
            await self._close(ws, 4017)
            return
        self._end_session()
        session = BotSession(self.server.identity.user_id, self.server.next_ssrc(), 1024)
        session.outbox = conn.outbox
        conn.session = self.session = session
        self.server.udp.new_session(session.ssrc)
        session.send_json(
            OP_READY,
            {
                "ssrc": session.ssrc,
                "ip": "127.0.0.1",
                "port": self.server.udp.port,
                "modes": list(self.server.modes),
                "heartbeat_interval": 1,
            },
        )

    async def _select(self, ws: web.WebSocketResponse, session: BotSession, d: Any) -> None:
        self.record.select_payloads.append(dict(d) if isinstance(d, dict) else {})
        try:
            data = d["data"]
            mode, address, port = data["mode"], str(data["address"]), int(data["port"])
        except (KeyError, TypeError, ValueError):
            await self._close(ws, 4020)
            return
        if d.get("protocol") != "udp":
            await self._close(ws, 4012)
            return
        if mode not in self.server.modes:
            await self._close(ws, 4016)
            return
        key = secrets.token_bytes(32)
        self.server.udp.describe(mode, key, (address, port))
        session.send_json(
            OP_DESCRIPTION,
            {
                "mode": mode,
                "secret_key": list(key),
                "audio_codec": "opus",
                "media_session_id": secrets.token_hex(16),
                "dave_protocol_version": self.server.dave.protocol_version,
            },
        )
        session.described = True
        self.server.bot_joined(session)
        code = self.server.close_after_handshake
        if code is not None:
            # After the writer has sent op 4 and what follows it.
            task = asyncio.get_running_loop().create_task(self._close_soon(ws, code))
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)

    async def _close_soon(self, ws: web.WebSocketResponse, code: int) -> None:
        await asyncio.sleep(0.05)
        if not ws.closed:
            await self._close(ws, code)

    async def _resume(self, ws: web.WebSocketResponse, conn: _Connection, d: Any) -> None:
        self.record.resumes += 1
        session = self.session
        if (
            conn.session is not None
            or session is None
            or not session.valid
            or not isinstance(d, dict)
            or not self.server.identity.matches(d, resume=True)
        ):
            self.record.failed_resumes += 1
            await self._close(ws, 4006)
            return
        raw_ack = d.get("seq_ack", -1)
        missed = session.replay_after(int(raw_ack) if raw_ack is not None else -1)
        if missed is None:
            self.record.failed_resumes += 1
            await self._close(ws, 4006)
            return
        conn.session = session
        conn.outbox.put_nowait(json.dumps({"op": OP_RESUMED, "d": None}))
        for frame in missed:
            conn.outbox.put_nowait(frame)
        session.outbox = conn.outbox

    def _after_close(self, conn: _Connection, code: int | None) -> None:
        session = conn.session
        if session is None or session is not self.session:
            return
        if code in (1000, 1001) or code in SESSION_ENDING_CLOSES:
            self._end_session()

    def _end_session(self) -> None:
        """The bot's session is over: it leaves the call (Remove proposal for its leaf)."""
        session, self.session = self.session, None
        if session is not None:
            session.valid = False
            session.outbox = None
            if session.described:
                self.server.bot_left(session)

    async def _close(self, ws: web.WebSocketResponse, code: int) -> None:
        self.record.closes.append(code)
        self._server_close[id(ws)] = code
        await ws.close(code=code)

    # ---- controls used by FakeVoiceServer ---------------------------------------------
    async def close_socket(self, code: int) -> None:
        if self.socket is not None:
            await self._close(self.socket, code)

    def drop_socket(self) -> None:
        """Sever the TCP connection without a close frame."""
        if self._request is not None and self._request.transport is not None:
            self._request.transport.abort()


@dataclass
class _Connection:
    outbox: asyncio.Queue[str | bytes]
    session: BotSession | None = None
    last_heartbeat: float = 0.0
