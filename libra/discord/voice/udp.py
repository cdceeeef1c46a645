"""The voice UDP socket: IP discovery, keepalives, and raw datagrams in and out."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Callable

from loguru import logger

from libra.errors import VoiceError
from libra.tasks import TaskGroup

DISCOVERY_SIZE = 74
_DISCOVERY = struct.Struct(">HHI64sH")
_REQUEST, _RESPONSE = 1, 2
KEEPALIVE_INTERVAL = 5.0
"""Seconds of send silence after which a keepalive keeps NAT mappings open."""


def build_discovery_request(ssrc: int) -> bytes:
    """The 74-byte IP discovery request for ``ssrc``."""
    return _DISCOVERY.pack(_REQUEST, 70, ssrc, b"", 0)


def parse_discovery_response(packet: bytes) -> tuple[str, int]:
    """Our external address and port from an IP discovery response.

    Raises:
        VoiceError: the packet is not a discovery response.
    """
    if len(packet) != DISCOVERY_SIZE:
        raise VoiceError(f"IP discovery response has {len(packet)} bytes, expected 74")
    kind, length, _ssrc, raw_address, port = _DISCOVERY.unpack(packet)
    if kind != _RESPONSE or length != 70:
        raise VoiceError(f"IP discovery answer has type {kind} and length {length}")
    address = raw_address.split(b"\x00", 1)[0].decode("ascii", "replace")
    return address, port


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: VoiceUdp) -> None:
        self._owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self._owner._on_datagram(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (e.g. port unreachable while a server moves) are routine here.
        logger.debug("voice UDP socket error: {}", exc)


class VoiceUdp:
    """One UDP flow to a voice server.

    Datagrams that are not IP discovery answers go to ``on_packet`` synchronously from
    the event loop's reader callback, so receiving never queues behind other tasks.
    """

    def __init__(
        self,
        on_packet: Callable[[bytes], None],
        tasks: TaskGroup,
        *,
        keepalive_interval: float = KEEPALIVE_INTERVAL,
    ) -> None:
        self._on_packet = on_packet
        self._tasks = tasks
        self._keepalive_interval = keepalive_interval
        self._transport: asyncio.DatagramTransport | None = None
        self._discovery: asyncio.Future[bytes] | None = None
        self._last_send = 0.0
        self._keepalive_count = 0
        self._keepalive_task: asyncio.Task[None] | None = None
        self.packets_sent = 0
        self.bytes_sent = 0

    @property
    def is_open(self) -> bool:
        """Whether the socket is open."""
        return self._transport is not None and not self._transport.is_closing()

    async def open(self, host: str, port: int) -> None:
        """Open (or re-open) the socket towards ``host:port``."""
        self.close()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), remote_addr=(host, port)
        )
        self._transport = transport
        self._keepalive_task = self._tasks.spawn(
            self._keepalive(), name=f"voice-udp-keepalive-{port}"
        )

    async def discover_ip(self, ssrc: int, timeout: float = 5.0) -> tuple[str, int]:
        """Ask the voice server for our external address; retry a lost request twice.

        Raises:
            VoiceError: no answer came.
        """
        for _attempt in range(3):
            self._discovery = asyncio.get_running_loop().create_future()
            self.send(build_discovery_request(ssrc))
            try:
                answer = await asyncio.wait_for(asyncio.shield(self._discovery), timeout / 3)
            except TimeoutError:
                continue
            finally:
                self._discovery = None
            return parse_discovery_response(answer)
        raise VoiceError("voice server did not answer IP discovery", hint="check UDP egress")

    def send(self, packet: bytes) -> None:
        """Send one datagram (dropped silently while the socket is closed)."""
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.sendto(packet)
        self._last_send = time.monotonic()
        self.packets_sent += 1
        self.bytes_sent += len(packet)

    def close(self) -> None:
        """Close the socket and stop keepalives (idempotent)."""
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            self._keepalive_task = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _on_datagram(self, data: bytes) -> None:
        future = self._discovery
        if future is not None and len(data) == DISCOVERY_SIZE and data[:2] == b"\x00\x02":
            if not future.done():
                future.set_result(data)
            return
        self._on_packet(data)

    async def _keepalive(self) -> None:
        # An 8-byte counter, as Discord clients send, keeps the NAT mapping alive
        # while we are not talking; it is too short to be mistaken for RTP.
        while True:
            await asyncio.sleep(self._keepalive_interval)
            if time.monotonic() - self._last_send >= self._keepalive_interval:
                with contextlib.suppress(OSError):
                    self.send(struct.pack("<Q", self._keepalive_count))
                self._keepalive_count += 1
