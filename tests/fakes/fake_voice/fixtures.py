"""pytest fixtures for the fake voice server (re-exported by `tests/e2e/voice/conftest.py`).

`fake_voice_server` is a started `FakeVoiceServer` for `voice_identity` (the values
the bot must present in IDENTIFY); `fake_peer` is a user already in that call.
`make_fake_voice_server(identity=None, **options)` starts more, e.g. a second server
to move the bot to, `modes=(XCHACHA,)`, or `peer_commit_delay=0.5` so that the
bot's commits win; all are stopped at teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.fakes.fake_voice.peer import FakePeer
from tests.fakes.fake_voice.server import CallIdentity, FakeVoiceServer

BOT_USER_ID = 900_000_000_000_000_001
PEER_USER_ID = 900_000_000_000_000_101

MakeServer = Callable[..., Awaitable[FakeVoiceServer]]


@pytest.fixture
def voice_identity() -> CallIdentity:
    return CallIdentity(
        guild_id=800_000_000_000_000_001,
        channel_id=800_000_000_000_000_002,
        user_id=BOT_USER_ID,
        session_id="voice-session-1",
        token="voice-token-1",
    )


@pytest.fixture
async def make_fake_voice_server(voice_identity: CallIdentity) -> AsyncIterator[MakeServer]:
    started: list[FakeVoiceServer] = []

    async def make(identity: CallIdentity | None = None, **options: Any) -> FakeVoiceServer:
        server = await FakeVoiceServer(identity or voice_identity, **options).start()
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        await server.stop()


@pytest.fixture
async def fake_voice_server(make_fake_voice_server: MakeServer) -> FakeVoiceServer:
    return await make_fake_voice_server()


@pytest.fixture
async def fake_peer(fake_voice_server: FakeVoiceServer) -> FakePeer:
    return await fake_voice_server.add_peer(PEER_USER_ID)
