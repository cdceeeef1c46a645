"""Voice gateway v8 client: handshake, heartbeats, binary DAVE frames, resume and close codes.

One :class:`VoiceGateway` owns the websocket side of a voice connection for its whole
life. :meth:`VoiceGateway.run` opens sockets until the session ends for good, applying
the close-code policy of :func:`close_action`: resume on a *new* socket with op 7 after
a crash (4015) or a dropped socket, identify afresh after 4006/4009, stop after
4014/4022 unless the bot was moved, and stop with a clear error on fatal codes such as
4017 (DAVE required) and 4021 (rate limited).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import struct
import time
from typing import Any, Protocol

import aiohttp
from loguru import logger

from libra.discord.voice.protocol import (
    FATAL_CODES,
    CloseAction,
    GatewayExit,
    VoiceOp,
    VoiceServer,
    close_action,
)
from libra.errors import VoiceDaveRequired, VoiceError, VoiceGatewayClosed

__all__ = ["GatewayExit", "GatewayListener", "VoiceGateway", "VoiceOp", "VoiceServer"]


_RESUMABLE_CLOSE = 4900
"""Our close code for a socket we leave to resume elsewhere (1000/1001 end the session)."""


class GatewayListener(Protocol):
    """What the connection does with gateway messages."""

    async def on_ready(self, data: dict[str, Any]) -> None:
        """Op 2: open UDP, discover our address and select a protocol."""

    async def on_resumed(self) -> None:
        """Op 9: the session resumed on a new socket."""

    async def on_json(self, op: int, data: dict[str, Any]) -> None:
        """Any other JSON op (4, 5, 11, 13, DAVE 21-24 ...)."""

    async def on_binary(self, op: int, payload: bytes) -> None:
        """A binary DAVE frame (ops 25, 27, 29, 30)."""


class _SocketClosed(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


class _MessageFailed(Exception):
    """Handling one server message failed; the socket is given up for a new one."""

    def __init__(self, op: object, error: Exception, *, resumable: bool) -> None:
        super().__init__(f"op {op}: {type(error).__name__}: {error}")
        self.error = error
        self.resumable = resumable
        """Whether the session survives (``False`` when READY or op 4 was not taken in)."""


class VoiceGateway:
    """The voice websocket for one guild connection."""

    def __init__(
        self,
        server: VoiceServer,
        listener: GatewayListener,
        *,
        max_dave_version: int,
        move_grace: float = 5.0,
        max_reconnects: int = 5,
    ) -> None:
        self.server = server
        self._listener = listener
        self._max_dave_version = max_dave_version
        self._move_grace = move_grace
        self._max_reconnects = max_reconnects
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._seq_ack = -1
        self._identified = False
        self._established = False
        """Whether the current socket got READY or RESUMED."""
        self._healthy = False
        """Whether a heartbeat sent after READY/RESUMED was acknowledged on this socket."""
        self._beat_established = False
        """Whether the heartbeat awaiting its ACK was sent after READY/RESUMED."""
        self._leave_resumable = False
        """Whether the current socket is given up for a resume elsewhere (a missed
        heartbeat ACK, or a failed message the session survives): close it with 4900."""
        self._stopping = False
        self._reidentify = asyncio.Event()
        self._moved = asyncio.Event()
        self._stopped = asyncio.Event()
        self._acked = True
        self._closers: set[asyncio.Task[None]] = set()
        self.heartbeat_rtt: float | None = None
        self.resumes = 0
        self.identifies = 0

    @property
    def seq_ack(self) -> int:
        """The last sequence number received from the server (-1 before any)."""
        return self._seq_ack

    def reconnect(self, endpoint: str | None = None, token: str | None = None) -> None:
        """Identify afresh on a new socket (endpoint change, channel move)."""
        if endpoint is not None:
            self.server.endpoint = endpoint
        if token is not None:
            self.server.token = token
        self._reidentify.set()
        self._close_socket()

    def note_moved(self) -> None:
        """The bot was moved: a 4014/4022 close that follows means re-identify, not stop."""
        self._moved.set()

    def stop(self) -> None:
        """Close the socket and make :meth:`run` return."""
        self._stopping = True
        self._stopped.set()
        self._close_socket()

    def _close_socket(self) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            task = asyncio.get_running_loop().create_task(
                self._close_ws(ws), name=f"voice-ws-close-{self.server.guild_id}"
            )
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)

    @staticmethod
    async def _close_ws(ws: aiohttp.ClientWebSocketResponse) -> None:
        await ws.close(code=1000)

    async def send_json(self, op: int, data: Any) -> None:
        """Send a JSON op (dropped while no socket is open)."""
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(ConnectionError):
                await ws.send_str(json.dumps({"op": op, "d": data}))

    async def send_binary(self, op: int, payload: bytes) -> None:
        """Send a binary op: ``[op u8][payload]``."""
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(ConnectionError):
                await ws.send_bytes(bytes([op]) + payload)

    async def run(self) -> GatewayExit:
        """Connect, and reconnect per the close-code policy, until the session ends."""
        resume = False
        failures = 0
        async with aiohttp.ClientSession() as http:
            while True:
                self._reidentify.clear()
                code: int | None = None
                try:
                    code = await self._run_socket(http, resume=resume)
                except _MessageFailed as failed:
                    # One bad message must not end voice: log it and reconnect (resuming
                    # when the session survived it); only a persistent failure ends it.
                    failures = (0 if self._healthy else failures) + 1
                    logger.opt(exception=failed.error).warning(
                        "voice gateway message failed ({}); reconnecting", failed
                    )
                    if self._stopping:
                        return GatewayExit("disconnect requested", None)
                    if failures > self._max_reconnects:
                        return GatewayExit("voice gateway keeps failing", None, VoiceError(
                            f"voice connection failed {failures} times in a row; last: {failed}"
                        ))
                    resume = (
                        failed.resumable and self._identified and not self._reidentify.is_set()
                    )
                    if not await self._back_off(failures):
                        return GatewayExit("disconnect requested", None)
                    continue
                except (aiohttp.ClientError, OSError, TimeoutError) as err:
                    failures += 1
                    logger.warning("voice gateway {} unreachable: {}", self.server.url, err)
                    if failures > self._max_reconnects:
                        return GatewayExit("voice gateway unreachable", None, VoiceError(str(err)))
                    if not await self._back_off(failures):
                        return GatewayExit("disconnect requested", None)
                    continue
                if self._stopping:
                    return GatewayExit("disconnect requested", code)
                if self._reidentify.is_set():
                    resume = False
                    continue
                action = close_action(code)
                logger.info("voice gateway closed with {} -> {}", code, action.value)
                if action is CloseAction.FATAL:
                    return self._fatal_exit(code)
                if action is CloseAction.STOP_UNLESS_MOVED:
                    if await self._wait_for_move():
                        resume = False
                        continue
                    return GatewayExit("disconnected from the voice channel", code)
                resume = action is CloseAction.RESUME and self._identified
                # Only a session proven healthy (a heartbeat round trip after READY or
                # RESUMED, one heartbeat interval: ~14 s on Discord) resets the count.
                # Any other close made no lasting progress: retrying at once would
                # hammer a server that refuses us or drops every session right after
                # READY (thousands of identifies a second), so it backs off and counts.
                failures = 0 if self._healthy else failures + 1
                if failures > self._max_reconnects:
                    return GatewayExit(
                        "voice gateway keeps closing", code,
                        VoiceGatewayClosed(
                            f"voice gateway closed the connection {failures} times in a row "
                            f"before the session was healthy (last close code {code})"
                        ),
                    )
                if failures and not await self._back_off(failures):
                    return GatewayExit("disconnect requested", code)

    async def _back_off(self, failures: int) -> bool:
        """Wait before reconnect attempt ``failures``; ``False`` if stopped meanwhile."""
        delay = min(0.25 * 2**failures, 5.0) * random.uniform(0.8, 1.2)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), delay)
        return not self._stopping

    def _fatal_exit(self, code: int | None) -> GatewayExit:
        what = FATAL_CODES.get(code or 0, "fatal close")
        message = f"voice gateway closed the connection: {code} {what}"
        error: VoiceGatewayClosed
        if code == 4017:
            error = VoiceDaveRequired(
                message, hint="set voice.dave_max_version >= 1 (Discord requires DAVE)"
            )
        else:
            error = VoiceGatewayClosed(message)
        logger.error("{}", error)
        return GatewayExit(what, code, error)

    async def _wait_for_move(self) -> bool:
        waits = [
            asyncio.ensure_future(self._reidentify.wait()),
            asyncio.ensure_future(self._moved.wait()),
            asyncio.ensure_future(self._stopped.wait()),
        ]
        try:
            done, _ = await asyncio.wait(
                waits, timeout=self._move_grace, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waits:
                waiter.cancel()
        self._moved.clear()
        return bool(done) and not self._stopping

    async def _run_socket(self, http: aiohttp.ClientSession, *, resume: bool) -> int | None:
        ws = await http.ws_connect(
            self.server.url, max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=2.0)
        )
        self._ws = ws
        self._established = self._healthy = self._leave_resumable = False
        heartbeat: asyncio.Task[None] | None = None
        if self._reidentify.is_set() or self._stopping:
            # reconnect()/stop() arrived while this socket was still connecting.
            await ws.close(code=1000)
            self._ws = None
            return ws.close_code
        try:
            interval = await self._receive_hello(ws)
            await self._identify_or_resume(resume)
            heartbeat = asyncio.get_running_loop().create_task(
                self._heartbeat(ws, interval), name=f"voice-heartbeat-{self.server.guild_id}"
            )
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    await self._on_text(message.data)
                elif message.type is aiohttp.WSMsgType.BINARY:
                    await self._on_frame(message.data)
                else:
                    break
        except _SocketClosed as closed:
            return closed.code
        except _MessageFailed as failed:
            self._leave_resumable = failed.resumable
            raise
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
            self._ws = None
            if not ws.closed:
                # The heartbeat's own close was cancelled with it above; closing with
                # 1000 here would end the session on the server and make resume fail.
                await ws.close(code=_RESUMABLE_CLOSE if self._leave_resumable else 1000)
        return ws.close_code

    async def _receive_hello(self, ws: aiohttp.ClientWebSocketResponse) -> float:
        """The heartbeat interval in seconds, from op 8."""
        while True:
            message = await ws.receive(timeout=10.0)
            if message.type is aiohttp.WSMsgType.TEXT:
                payload = self._decode(message.data)
                if payload is None:
                    continue
                self._track_seq(payload)
                if payload.get("op") == VoiceOp.HELLO:
                    data = payload.get("d")
                    ms = data.get("heartbeat_interval") if isinstance(data, dict) else None
                    if not isinstance(ms, int | float) or ms <= 0:
                        raise _MessageFailed(
                            VoiceOp.HELLO, VoiceError(f"HELLO without an interval: {data!r}"),
                            resumable=True,
                        )
                    return float(ms) / 1000
            elif message.type is not aiohttp.WSMsgType.BINARY:
                raise _SocketClosed(ws.close_code)

    async def _identify_or_resume(self, resume: bool) -> None:
        server = self.server
        if resume:
            self.resumes += 1
            await self.send_json(VoiceOp.RESUME, {
                "server_id": str(server.guild_id),
                "session_id": server.session_id,
                "token": server.token,
                "seq_ack": self._seq_ack,
            })
            return
        self.identifies += 1
        self._seq_ack = -1
        await self.send_json(VoiceOp.IDENTIFY, {
            "server_id": str(server.guild_id),
            "user_id": str(server.user_id),
            "session_id": server.session_id,
            "token": server.token,
            "max_dave_protocol_version": self._max_dave_version,
        })

    def _track_seq(self, payload: dict[str, Any]) -> None:
        seq = payload.get("seq")
        if isinstance(seq, int):
            self._seq_ack = seq

    @staticmethod
    def _decode(raw: str) -> dict[str, Any] | None:
        """The payload of a text message; ``None`` (logged) when it is not one.

        Such a message carries no readable ``seq`` and no op to act on, and a resume
        would only have it replayed: it is skipped. Persistent garbage still ends
        the socket, through missed heartbeat ACKs.
        """
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            logger.warning("voice gateway sent an undecodable message: {!r}", raw[:200])
            return None
        return payload

    async def _on_text(self, raw: str) -> None:
        payload = self._decode(raw)
        if payload is None:
            return
        self._track_seq(payload)
        op = payload.get("op")
        data = payload.get("d")
        if data is None:
            data = {}
        try:
            await self._dispatch(op, data)
        except Exception as err:
            # The session survives a bad message of any op but READY and op 4: those
            # leave it without UDP or keys, which only a fresh identify restores.
            resumable = op not in (VoiceOp.READY, VoiceOp.SESSION_DESCRIPTION)
            if not resumable:
                self._identified = False
            raise _MessageFailed(op, err, resumable=resumable) from err

    async def _dispatch(self, op: object, data: Any) -> None:
        if op == VoiceOp.HEARTBEAT_ACK:
            self._acked = True
            self._healthy = self._healthy or self._beat_established
            sent = data.get("t") if isinstance(data, dict) else None
            if isinstance(sent, int | float):
                self.heartbeat_rtt = time.time() - sent / 1000
        elif op == VoiceOp.HELLO:
            pass
        elif not isinstance(data, dict):
            raise VoiceError(f"unexpected payload shape: {type(data).__name__}")
        elif op == VoiceOp.READY:
            self._identified = self._established = True
            await self._listener.on_ready(data)
        elif op == VoiceOp.RESUMED:
            self._established = True
            await self._listener.on_resumed()
        elif isinstance(op, int):
            await self._listener.on_json(op, data)

    async def _on_frame(self, frame: bytes) -> None:
        if len(frame) < 3:
            return
        self._seq_ack = struct.unpack_from(">H", frame)[0]
        try:
            await self._listener.on_binary(frame[2], frame[3:])
        except Exception as err:
            raise _MessageFailed(frame[2], err, resumable=True) from err

    async def _heartbeat(self, ws: aiohttp.ClientWebSocketResponse, interval: float) -> None:
        self._acked = True
        while not ws.closed:
            if not self._acked:
                # No ack for a whole interval: the socket is a zombie; resume elsewhere.
                logger.warning("voice heartbeat not acknowledged; reconnecting")
                self._leave_resumable = True
                await ws.close(code=_RESUMABLE_CLOSE)
                return
            self._acked = False
            self._beat_established = self._established
            await self.send_json(
                VoiceOp.HEARTBEAT, {"t": int(time.time() * 1000), "seq_ack": self._seq_ack}
            )
            await asyncio.sleep(interval)
