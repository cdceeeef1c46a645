"""One voice session's protocol and media: gateway ops in, UDP, DAVE, send and receive.

:class:`VoiceSession` is the gateway's listener. It wires the media parts together
(UDP socket, transport cipher, DAVE driver, receiver, sender, player) and keys them
as the handshake proceeds. What hikari sees — lifecycle, moves, ``on_close`` — is
:class:`~libra.discord.voice.connection.LibraVoiceConnection`'s business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loguru import logger

from libra.discord.voice.crypto import NonceCounter, TransportCipher, TransportMode, choose_mode
from libra.discord.voice.dave import DaveDriver
from libra.discord.voice.diagnostics import VoiceDiagnostics
from libra.discord.voice.gateway import VoiceGateway
from libra.discord.voice.player import AudioPlayer
from libra.discord.voice.protocol import VoiceOp, VoiceServer
from libra.discord.voice.receiver import AudioReceiver
from libra.discord.voice.sender import RtpSender
from libra.discord.voice.udp import VoiceUdp
from libra.errors import VoiceError
from libra.events import Event, VoiceConnected
from libra.tasks import TaskGroup
from libra.voice.streams import AudioSink


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOptions:
    """Tuning of one session (defaults suit Discord; tests shorten the timeouts)."""

    max_dave_version: int = 1
    preferred_mode: TransportMode | None = None
    move_grace: float = 5.0
    silence_timeout: float = 0.25
    receive_chunk_frames: int = 5
    max_reconnects: int = 5
    """Failed reconnects in a row (without a healthy session between) before giving up."""


class VoiceSession:
    """The gateway listener and the media path of one guild's voice connection."""

    def __init__(
        self,
        server: VoiceServer,
        diagnostics: VoiceDiagnostics,
        tasks: TaskGroup,
        *,
        publish: Callable[[Event], object],
        on_failure: Callable[[VoiceError], None],
        sink: AudioSink,
        options: SessionOptions,
    ) -> None:
        self.server = server
        self.diagnostics = diagnostics
        self._publish = publish
        self._preferred_mode = options.preferred_mode
        self.gateway = VoiceGateway(
            server, self, max_dave_version=options.max_dave_version,
            move_grace=options.move_grace, max_reconnects=options.max_reconnects,
        )
        self.dave = DaveDriver(
            server.user_id, server.channel_id, self.gateway.send_json, self.gateway.send_binary,
            on_failure=on_failure,
        )
        self.receiver = AudioReceiver(
            server.guild_id, self.dave, diagnostics, publish, sink,
            silence_timeout=options.silence_timeout, chunk_frames=options.receive_chunk_frames,
        )
        self.udp = VoiceUdp(self.receiver.feed, tasks)
        self.sender = RtpSender(self.udp, self.dave, diagnostics, self.gateway.send_json)
        self.player = AudioPlayer(self.sender)
        self._counter = NonceCounter()
        """One counter for every key of the connection, so nonces never repeat."""
        self._mode: TransportMode | None = None
        self.connected = asyncio.Event()
        """Set once the first session description (op 4) has keyed the transport."""

    @property
    def media_ready(self) -> bool:
        """Whether frames can be sent (transport keyed and, under DAVE, group keyed)."""
        return self.sender.cipher is not None and (
            self.dave.protocol_version == 0 or self.dave.can_encrypt
        )

    # --- GatewayListener ------------------------------------------------------------

    async def on_ready(self, data: dict[str, Any]) -> None:
        """Op 2: UDP, IP discovery, select protocol."""
        ssrc = self.sender.ssrc = int(data["ssrc"])
        self.sender.cipher = self.receiver.cipher = None
        self.dave.known_users.clear()  # a new session: op 11 lists the call again
        await self.udp.open(str(data["ip"]), int(data["port"]))
        address, port = await self.udp.discover_ip(ssrc)
        self._mode = choose_mode(list(data.get("modes", [])), self._preferred_mode)
        await self.gateway.send_json(VoiceOp.SELECT_PROTOCOL, {
            "protocol": "udp",
            "data": {"address": address, "port": port, "mode": self._mode.value},
        })

    async def on_resumed(self) -> None:
        """Op 9."""
        self.diagnostics.reconnects["resume"] += 1
        logger.info("voice session resumed in guild {}", self.server.guild_id)
        if self.player.playing:
            # An op 5 sent while no socket was open was lost; without it the server
            # drops our audio.
            await self.sender.set_speaking(True)

    async def on_json(self, op: int, data: dict[str, Any]) -> None:
        """Session description, speaking, members and DAVE JSON ops."""
        if op == VoiceOp.SESSION_DESCRIPTION:
            await self._on_session_description(data)
        elif op == VoiceOp.SPEAKING and "user_id" in data and "ssrc" in data:
            ssrc = int(data["ssrc"])
            self.receiver.map_ssrc(ssrc, int(data["user_id"]))
            self.receiver.speaking_flag(ssrc, bool(data.get("speaking", 1)))
        elif op == VoiceOp.CLIENTS_CONNECT:
            self.dave.on_clients_connect([int(u) for u in data.get("user_ids", [])])
        elif op == VoiceOp.CLIENT_DISCONNECT and "user_id" in data:
            self.dave.on_client_disconnect(int(data["user_id"]))
            self.receiver.forget_user(int(data["user_id"]))
        elif VoiceOp.DAVE_PREPARE_TRANSITION <= op <= VoiceOp.DAVE_PREPARE_EPOCH:
            await self.dave.on_json(op, data)

    async def on_binary(self, op: int, payload: bytes) -> None:
        """DAVE binary ops."""
        await self.dave.on_binary(op, payload)

    async def _on_session_description(self, data: dict[str, Any]) -> None:
        mode = TransportMode(str(data.get("mode", self._mode)))
        self._mode = mode
        cipher = TransportCipher(mode, bytes(data["secret_key"]), self._counter)
        self.sender.cipher = self.receiver.cipher = cipher
        self.diagnostics.mode = mode.value
        version = int(data.get("dave_protocol_version", 0))
        await self.dave.on_session_description(version)
        if self.player.playing:
            # A new session has a new SSRC, which must be announced before audio.
            await self.sender.set_speaking(True)
        self.connected.set()
        self._publish(VoiceConnected(
            guild_id=self.server.guild_id, channel_id=self.server.channel_id,
            mode=mode.value, dave_protocol_version=version,
        ))
