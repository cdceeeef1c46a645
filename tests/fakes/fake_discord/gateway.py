"""The fake gateway: one websocket session per shard connection.

Speaks what the bot asks for in the URL: plain JSON text frames, ``zlib-stream``
(one compressor per connection, ``Z_SYNC_FLUSH`` per message) or ``zstd-stream``
(one compressor per connection, a flushed *block* per message, never a frame end).
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.fake_discord import payloads
from tests.fakes.fake_discord.gateway_limits import GatewayLimits
from tests.fakes.fake_discord.world import CONNECT, VIEW_CHANNEL, FakeVoiceState, GatewayOp, World

VoiceEndpoint = Callable[[int, int, str, str], Awaitable[str]]
"""``(guild_id, channel_id, session_id, token) -> host:port`` of the voice server."""

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_VOICE_STATE, OP_RESUME = 0, 1, 2, 4, 6
MESSAGE_CONTENT_INTENT = 1 << 15
OP_RECONNECT, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 7, 9, 10, 11


class _Compressor:
    """Turns one JSON text into one websocket frame for the negotiated transport."""

    def __init__(self, mode: str | None) -> None:
        self.mode = mode
        self._zlib = zlib.compressobj() if mode == "zlib-stream" else None
        self._zstd: Any = None
        if mode == "zstd-stream":
            # Only reached when the bot asked for zstd, i.e. a zstd module is importable.
            try:
                from compression import zstd  # type: ignore[import-not-found]
            except ImportError:
                from backports import zstd  # type: ignore[import-not-found]
            self._zstd = zstd.ZstdCompressor()
            self._zstd_flush_block = zstd.ZstdCompressor.FLUSH_BLOCK

    def frame(self, text: str) -> bytes | str:
        data = text.encode()
        if self._zlib is not None:
            return self._zlib.compress(data) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        if self._zstd is not None:
            return bytes(self._zstd.compress(data, self._zstd_flush_block))
        return text


class GatewaySession:
    """One connected shard: sends HELLO, answers IDENTIFY/RESUME/heartbeats/voice."""

    def __init__(
        self,
        world: World,
        ws: web.WebSocketResponse,
        compression: str | None,
        *,
        heartbeat_interval_ms: int,
        gateway_url: str,
        token: str,
        voice_endpoint: VoiceEndpoint,
        limits: GatewayLimits | None = None,
        peers: list[GatewaySession] | None = None,
    ) -> None:
        self.world = world
        self.limits = limits or GatewayLimits()
        self._peers = peers if peers is not None else []
        self.shard: tuple[int, int] = (0, 1)
        """``[shard_id, shard_count]`` this connection identified as."""
        self.ws = ws
        self.compression = compression
        self.session_id = f"session-{world.snowflakes.next()}"
        self.identified = asyncio.Event()
        self._compressor = _Compressor(compression)
        self._seq = 0
        self._heartbeat_interval_ms = heartbeat_interval_ms
        self._gateway_url = gateway_url
        self._token = token
        self._voice_endpoint = voice_endpoint
        self._send_lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        """Send one gateway payload through the negotiated compression."""
        frame = self._compressor.frame(json.dumps(payload))
        async with self._send_lock:
            if self.ws.closed:
                return
            if isinstance(frame, bytes):
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_str(frame)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a DISPATCH (op 0) with the next sequence number."""
        self._seq += 1
        await self.send({"op": OP_DISPATCH, "t": event, "s": self._seq, "d": data})

    async def run(self, sessions: dict[str, GatewaySession]) -> None:
        """Serve the connection until the bot closes it."""
        await self.send({"op": OP_HELLO, "d": {"heartbeat_interval": self._heartbeat_interval_ms}})
        async for message in self.ws:
            # hikari sends its JSON uncompressed, in binary frames.
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            payload = json.loads(message.data)
            self.world.gateway_ops.append(
                GatewayOp(op=payload["op"], d=payload.get("d"), at=time.monotonic())
            )
            await self._handle(payload, sessions)
            await self.world.notify()

    async def _handle(self, payload: dict[str, Any], sessions: dict[str, GatewaySession]) -> None:
        op, data = payload["op"], payload.get("d") or {}
        if op == OP_HEARTBEAT:
            await self.send({"op": OP_HEARTBEAT_ACK})
        elif op == OP_IDENTIFY:
            await self._identify(data, sessions)
        elif op == OP_RESUME:
            await self._resume(data, sessions)
        elif op == OP_VOICE_STATE:
            await self._voice_state(data)

    async def _identify(self, data: dict[str, Any], sessions: dict[str, GatewaySession]) -> None:
        if data.get("token") != self._token:
            await self.ws.close(code=4004, message=b"Authentication failed.")
            return
        if int(data.get("intents", 0)) & MESSAGE_CONTENT_INTENT and not (
            self.world.message_content_allowed
        ):
            await self.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard_id, count = (int(x) for x in data.get("shard") or (0, 1))
        if not 0 <= shard_id < count:
            await self.ws.close(code=4010, message=b"Invalid shard.")
            return
        verdict = self.limits.admit(shard_id, time.monotonic())
        if verdict == "too_fast":
            await self.invalidate_session()
            return
        if verdict == "budget":
            for peer in self._peers:  # over the daily budget: Discord drops every session
                if peer.identified.is_set() and not peer.ws.closed:
                    await peer.invalidate_session()
            await self.invalidate_session()
            return
        self.limits.identifies.append((time.monotonic(), shard_id, count))
        self.shard = (shard_id, count)
        sessions[self.session_id] = self
        self._seq = 0
        guilds = [g for g in self.world.guilds if g.id not in self.world.left_guilds
                  and GatewayLimits.shard_of(g.id, count) == shard_id]
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": payloads.own_user(self.world.bot_user),
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": self.session_id,
                "resume_gateway_url": self._gateway_url,
                "shard": [shard_id, count],
                "application": {"id": str(self.world.application_id), "flags": 0},
                "private_channels": [],
            },
        )
        for guild in guilds:
            await self.dispatch("GUILD_CREATE", payloads.guild_create(guild, self.world))
        self.identified.set()

    async def _resume(self, data: dict[str, Any], sessions: dict[str, GatewaySession]) -> None:
        previous = sessions.get(data.get("session_id", ""))
        if previous is None or data.get("token") != self._token:
            await self.send({"op": OP_INVALID_SESSION, "d": False})
            return
        self.session_id = previous.session_id
        self._seq = int(data.get("seq") or previous._seq)
        sessions[self.session_id] = self
        await self.dispatch("RESUMED", {})
        self.identified.set()

    async def _voice_state(self, data: dict[str, Any]) -> None:
        """Op 4: join, move or leave a voice channel, as Discord answers it.

        Discord ignores a join the bot may not make (no View Channel or Connect in
        that channel): no event comes back, and the client's wait times out.
        """
        guild_id = int(data["guild_id"])
        channel_id = int(data["channel_id"]) if data.get("channel_id") is not None else None
        guild = self.world.guild(guild_id)
        bot_id = self.world.bot_user.id
        if guild is None:
            return
        if channel_id is not None:
            channel = next((c for c in guild.channels if c.id == channel_id), None)
            if channel is None:
                return
            needed = VIEW_CHANNEL | CONNECT
            if guild.permissions_in(guild.member(bot_id), channel) & needed != needed:
                return
            joined = FakeVoiceState(bot_id, channel_id, f"voice-{self.session_id}")
            guild.voice_states[bot_id] = joined
            state: FakeVoiceState | None = joined
        else:
            state = None
            guild.voice_states.pop(bot_id, None)
        payload = payloads.voice_state(state, guild, user_id=bot_id)
        payload["self_deaf"] = bool(data.get("self_deaf"))
        payload["self_mute"] = bool(data.get("self_mute"))
        await self.dispatch("VOICE_STATE_UPDATE", payload)
        if state is not None:
            token = f"voice-token-{guild_id}"
            endpoint = await self._voice_endpoint(guild_id, state.channel_id, state.session_id,
                                                  token)
            await self.dispatch("VOICE_SERVER_UPDATE",
                                {"token": token, "guild_id": str(guild_id), "endpoint": endpoint})

    async def close_for_reconnect(self) -> None:
        """Ask the bot to reconnect (op 7) so it resumes on a new connection."""
        await self.send({"op": OP_RECONNECT, "d": None})

    def revoke(self) -> None:
        """Refuse the current token from now on (IDENTIFY and RESUME with it fail)."""
        self._token = "revoked"

    async def close_with(self, code: int, reason: str) -> None:
        """Close the connection with a gateway close code (e.g. 4004 when the token is reset)."""
        await self.ws.close(code=code, message=reason.encode())

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send INVALID_SESSION (op 9); ``d`` says whether the bot may RESUME."""
        await self.send({"op": OP_INVALID_SESSION, "d": resumable})
