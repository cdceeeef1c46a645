"""A voice gateway that misbehaves: handshakes that stall, sockets refused over and over.

The fake voice server is faithful on purpose, so these cases use a minimal websocket
stand-in that speaks just enough of gateway v8 (HELLO, heartbeat ACKs) to misbehave.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.e2e.voice.conftest import Harness, wait_until


class StubGateway:
    """HELLO, ACKs for heartbeats, and ``refuse_with`` as the answer to IDENTIFY/RESUME.

    With ``refuse_with=None`` the handshake simply never finishes (no READY).
    """

    def __init__(self, refuse_with: int | None = None) -> None:
        self.refuse_with = refuse_with
        self.connections = 0
        self.open_sockets = 0
        self.ops: list[int] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        self.open_sockets += 1
        try:
            await ws.send_str(json.dumps({"op": 8, "d": {"heartbeat_interval": 250}}))
            async for message in ws:
                payload = json.loads(message.data)
                self.ops.append(payload["op"])
                if payload["op"] in (0, 7) and self.refuse_with is not None:
                    await ws.close(code=self.refuse_with)
                elif payload["op"] == 3:
                    await ws.send_str(json.dumps({"op": 6, "d": {"t": payload["d"]["t"]}}))
        finally:
            self.open_sockets -= 1
        return ws

    async def __aenter__(self) -> StubGateway:
        app = web.Application()
        app.router.add_get("/", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def endpoint(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@pytest.fixture
async def stalling() -> AsyncIterator[StubGateway]:
    async with StubGateway() as stub:
        yield stub


async def test_cancelled_connect_closes_the_half_open_connection(
    harness: Harness, stalling: StubGateway
) -> None:
    # hikari's connect_to (or a command timing out around it) may cancel initialize;
    # nobody holds the connection then, so it must not live on heartbeating forever.
    connecting = asyncio.ensure_future(
        harness.connect(_Endpoint(stalling.endpoint), connect_timeout=30)  # type: ignore[arg-type]
    )
    await wait_until(lambda: stalling.ops.count(3) >= 1, what="identify and a heartbeat")
    connecting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await connecting
    await wait_until(lambda: stalling.open_sockets == 0, timeout=3, what="socket closed")
    beats = stalling.ops.count(3)
    await asyncio.sleep(0.6)
    assert stalling.ops.count(3) == beats, "an abandoned connection kept heartbeating"
    assert stalling.connections == 1


async def test_a_gateway_refusing_every_identify_is_not_hammered(harness: Harness) -> None:
    async with StubGateway(refuse_with=4006) as stub:
        with pytest.raises(Exception, match="voice"):
            await harness.connect(_Endpoint(stub.endpoint), connect_timeout=1.5)  # type: ignore[arg-type]
    # Without a backoff this was thousands of identifies per second.
    assert 2 <= stub.connections <= 6, f"{stub.connections} connections in 1.5 s"


class _Endpoint:
    """Quacks like a FakeVoiceServer for ``Harness.connect`` (it only reads endpoint)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

