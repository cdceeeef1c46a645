"""`FakeVoiceServer`: gateway + SFU + DAVE delivery service + fake peers for one call."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.fake_voice import transport
from tests.fakes.fake_voice.dave_group import DaveDeliveryService
from tests.fakes.fake_voice.gateway import BotSession, VoiceGateway
from tests.fakes.fake_voice.peer import FakePeer, NetworkConditions
from tests.fakes.fake_voice.udp import SfuEndpoint


@dataclass(frozen=True)
class CallIdentity:
    """What the bot must present in IDENTIFY / RESUME (from the main gateway's events)."""

    guild_id: int
    channel_id: int
    user_id: int
    session_id: str
    token: str

    def matches(self, d: dict[str, Any], *, resume: bool) -> bool:
        same = (
            str(d.get("server_id")) == str(self.guild_id)
            and d.get("session_id") == self.session_id
            and d.get("token") == self.token
        )
        return same if resume else same and str(d.get("user_id")) == str(self.user_id)


class FakeVoiceServer:
    """A Discord voice server for one call; see the package docstring for usage."""

    def __init__(
        self,
        identity: CallIdentity,
        *,
        modes: tuple[str, ...] = transport.SUPPORTED_MODES,
        heartbeat_ms: int = 13_750,
        enforce_heartbeat: bool = True,
        transition_timeout: float = 3.0,
        dave_protocol_version: int = 1,
        peer_commit_delay: float = 0.0,
        seed: int = 7,
    ) -> None:
        self.identity = identity
        self.modes = modes
        self.heartbeat_ms = heartbeat_ms
        self.enforce_heartbeat = enforce_heartbeat
        self.ack_heartbeats = True
        """Set to False to play a stalled server: heartbeats are counted, never ACKed."""
        self.close_after_handshake: int | None = None
        """Close code sent right after every op 4 (a server that drops each new session)."""
        self.speaking_delay = 0.0
        """Seconds by which op 5 for a peer trails its first packets (a late op 5)."""
        self.peer_commit_delay = peer_commit_delay
        self.dave = DaveDeliveryService(
            identity.channel_id, dave_protocol_version, transition_timeout
        )
        self.udp = SfuEndpoint()
        self.gateway = VoiceGateway(self)
        self.peers: dict[int, FakePeer] = {}
        self.udp.frame_sink = self._bot_frame
        self._rng = random.Random(seed)
        self._runner: web.AppRunner | None = None
        self._site_port = 0
        self._bot_session: BotSession | None = None

    # ---- lifecycle --------------------------------------------------------------
    async def start(self) -> FakeVoiceServer:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self.udp, local_addr=("127.0.0.1", 0))
        app = web.Application()
        app.router.add_get("/", self.gateway.handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self._site_port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        self.dave.close()
        if self.gateway.socket is not None:
            await self.gateway.close_socket(4022)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.udp.transport is not None:
            self.udp.transport.close()

    async def __aenter__(self) -> FakeVoiceServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def host(self) -> str:
        """`127.0.0.1:PORT`, the shape of a real VOICE_SERVER_UPDATE endpoint."""
        return f"127.0.0.1:{self._site_port}"

    @property
    def endpoint(self) -> str:
        """`ws://127.0.0.1:PORT`: give this as the VOICE_SERVER_UPDATE endpoint in tests."""
        return f"ws://{self.host}"

    @property
    def url(self) -> str:
        """The full URL a v8 client connects to."""
        return f"{self.endpoint}/?v=8"

    def next_ssrc(self) -> int:
        return self._rng.randrange(1, 1 << 31)

    # ---- the bot ----------------------------------------------------------------
    @property
    def bot_session(self) -> BotSession | None:
        """The bot's current voice session (after op 4), if any."""
        return self._bot_session

    def bot_joined(self, session: BotSession) -> None:
        """Op 4 was sent: announce the peers already here, then start DAVE for the bot."""
        self._bot_session = session
        if self.peers:
            session.send_json(11, {"user_ids": [str(uid) for uid in self.peers]})
        for peer in self.peers.values():
            peer.known_users.add(session.user_id)
        self.dave.connect(session)

    def bot_left(self, session: BotSession) -> None:
        if self._bot_session is session:
            self._bot_session = None
        for peer in self.peers.values():
            peer.known_users.discard(session.user_id)
        self.dave.disconnect(session.user_id)

    def bot_in_group(self) -> bool:
        """The bot holds a leaf in the MLS group and no transition is pending."""
        return self.identity.user_id in self.dave.members() and self.dave.transition is None

    def dave_settled(self) -> bool:
        """Every connected member is in the group, all peers are ready, nothing pending."""
        connected = set(self.dave.links)
        return (
            self.dave.established
            and self.dave.transition is None
            and connected == set(self.dave.members())
            and all(p.ready for p in self.peers.values())
        )

    async def close_bot(self, code: int) -> None:
        """Close the bot's socket with `code` (4006/4014/4021/4022 also end its session)."""
        await self.gateway.close_socket(code)

    def drop_bot(self) -> None:
        """Sever the bot's socket without a close frame; the session stays resumable."""
        self.gateway.drop_socket()

    def recreate_dave_group(self) -> None:
        """Op 24 `{epoch: 1}` to every member: all reset and re-create the group."""
        self.dave.recreate_group()

    # ---- peers ------------------------------------------------------------------
    async def add_peer(
        self, user_id: int, *, conditions: NetworkConditions | None = None
    ) -> FakePeer:
        """A user joins the call: op 11 to the bot, key package, Add proposal, new epoch."""
        peer = FakePeer(
            user_id=user_id,
            channel_id=self.identity.channel_id,
            ssrc=self.next_ssrc(),
            protocol_version=self.dave.protocol_version,
            delivery=self.dave,
            conditions=conditions or NetworkConditions(),
            transmit=self.udp.send_to_bot,
            on_speaking=self._peer_speaking,
            commit_delay=self.peer_commit_delay,
        )
        peer.known_users |= set(self.peers) | (
            {self._bot_session.user_id} if self._bot_session else set()
        )
        for other in self.peers.values():
            other.known_users.add(user_id)
        self.peers[user_id] = peer
        if self._bot_session is not None:
            self._bot_session.send_json(11, {"user_ids": [str(user_id)]})
        self.dave.connect(peer)
        peer.send_key_package()
        await asyncio.sleep(0)
        return peer

    async def remove_peer(self, peer: FakePeer) -> None:
        """The user leaves: op 13 to the bot and a Remove proposal (or sole-member reset)."""
        self.peers.pop(peer.user_id, None)
        for other in self.peers.values():
            other.known_users.discard(peer.user_id)
        if self._bot_session is not None:
            self._bot_session.send_json(13, {"user_id": str(peer.user_id)})
        self.dave.disconnect(peer.user_id)
        await asyncio.sleep(0)

    def inject_raw(self, frame: str | bytes) -> None:
        """Send the bot an arbitrary (possibly malformed) unnumbered gateway message."""
        session = self._bot_session
        if session is not None and session.outbox is not None:
            session.outbox.put_nowait(frame)

    def inject_json(self, op: int, data: Any) -> None:
        """Send the bot a numbered JSON message with any ``d`` (replayed on resume)."""
        if self._bot_session is not None:
            self._bot_session.send_json(op, data)

    def _peer_speaking(self, peer: FakePeer) -> None:
        if self.speaking_delay:
            asyncio.get_running_loop().call_later(self.speaking_delay, self._announce, peer)
        else:
            self._announce(peer)

    def _announce(self, peer: FakePeer) -> None:
        if self._bot_session is not None:
            self._bot_session.send_json(
                5, {"user_id": str(peer.user_id), "ssrc": peer.ssrc, "speaking": 1}
            )

    def _bot_frame(self, sequence: int, timestamp: int, frame: bytes) -> None:
        for peer in self.peers.values():
            peer.receive(self.identity.user_id, sequence, timestamp, frame)

    # ---- waiting ----------------------------------------------------------------
    async def wait_for(
        self, predicate: Callable[[], bool], *, timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Poll `predicate` every 10 ms; on timeout fail with a summary of the call state."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}: {self.describe()}"
                )
            await asyncio.sleep(0.01)

    def describe(self) -> str:
        """One line of call state for failure messages."""
        d = self.dave
        peers = ", ".join(f"{u}: ready={p.ready} {p.log}" for u, p in self.peers.items())
        return (
            f"established={d.established} epoch={d.epoch} leaves={d.leaves} "
            f"transition={d.transition} links={sorted(d.links)} dave={d.record} "
            f"gateway={self.gateway.record} udp(packets={len(self.udp.record.packets)}, "
            f"refused={self.udp.record.refused_before_speaking}, "
            f"decrypt_failures={self.udp.record.decrypt_failures}) "
            f"peers={{{peers}}}"
        )
