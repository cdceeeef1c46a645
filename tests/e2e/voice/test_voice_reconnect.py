"""Close codes, resume, re-identify, endpoint changes, channel moves and refusals."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from libra.errors import VoiceDaveRequired, VoiceNotConnected
from libra.events import VoiceConnected, VoiceDisconnected, VoiceFailed
from tests.e2e.voice.conftest import (
    BOT_ID,
    IDENTITY,
    Harness,
    pcm_source,
    server_update,
    snr_db,
    state_update,
    tone,
    tone_until,
    wait_until,
)
from tests.fakes.fake_voice import FakeVoiceServer


async def speak_and_check(conn, peer, server: FakeVoiceServer, freq: float = 500) -> None:  # type: ignore[no-untyped-def]
    """The bot's audio still reaches ``peer`` intact and DAVE-encrypted."""
    before = peer.log.silence_frames
    speech = tone(0.4, freq)
    peer.heard.clear()
    handle = await conn.play(pcm_source(speech))
    await asyncio.wait_for(handle.wait(), 5)
    await wait_until(lambda: peer.log.silence_frames >= before + 5, what="peer heard silence")
    assert snr_db(speech, peer.heard_pcm(BOT_ID)) > 10
    assert server.udp.record.nonce_violations == []
    assert server.udp.record.unencrypted_frames == 0


async def test_resume_after_4015_replays_missed_messages(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    await server.close_bot(4015)
    await server.wait_for(lambda: server.gateway.record.resumes == 1, what="op 7 resume")
    assert server.gateway.record.identifies == 1
    assert server.gateway.record.failed_resumes == 0
    # A member joining right after the resume is learned through the same session.
    carol = await server.add_peer(1003)
    await server.wait_for(server.dave_settled, what="DAVE settled after resume")
    await speak_and_check(conn, carol, server)
    await speak_and_check(conn, alice, server, freq=700)
    assert conn.snapshot()["reconnects"] == {"resume": 1}


async def test_network_drop_resumes(harness: Harness, server: FakeVoiceServer) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    server.drop_bot()
    await server.wait_for(lambda: server.gateway.record.resumes == 1, what="op 7 resume")
    await speak_and_check(conn, alice, server)


async def test_missing_heartbeat_acks_resume_the_session(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    server.ack_heartbeats = False  # the server stalls; the client must give up the socket
    await server.wait_for(
        lambda: server.gateway.record.client_close_codes != [], timeout=4, what="client close"
    )
    server.ack_heartbeats = True
    await server.wait_for(lambda: server.gateway.record.resumes == 1, what="op 7 resume")
    # Closing with 1000 would have ended the session: resume refused, a full re-identify.
    assert server.gateway.record.client_close_codes[0] not in (1000, 1001)
    assert server.gateway.record.failed_resumes == 0
    assert server.gateway.record.identifies == 1
    await speak_and_check(conn, alice, server)


async def test_reidentify_after_4006(harness: Harness, server: FakeVoiceServer) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    await server.close_bot(4006)
    await server.wait_for(lambda: server.gateway.record.identifies == 2, what="new identify")
    await server.wait_for(server.dave_settled, timeout=8, what="DAVE settled again")
    await speak_and_check(conn, alice, server)
    assert len(harness.recorder.of(VoiceConnected)) == 2
    assert conn.is_alive


async def test_endpoint_change_moves_to_the_new_server(harness: Harness) -> None:
    async with (
        FakeVoiceServer(IDENTITY, heartbeat_ms=1000) as first,
        FakeVoiceServer(replace(IDENTITY, token="token-2"), heartbeat_ms=1000) as second,
    ):
        await first.add_peer(1001)
        conn = await harness.connect(first)
        await first.wait_for(first.dave_settled, what="first settled")
        alice_again = await second.add_peer(1001)
        await conn.notify(server_update(second.endpoint, "token-2"))
        await first.close_bot(4014)
        await second.wait_for(second.dave_settled, timeout=8, what="second settled")
        assert second.gateway.record.identify_payloads[0]["token"] == "token-2"
        await speak_and_check(conn, alice_again, second)
        assert conn.is_alive and not harness.closes


async def test_channel_move(harness: Harness) -> None:
    moved = replace(IDENTITY, channel_id=IDENTITY.channel_id + 1, session_id="session-2")
    async with (
        FakeVoiceServer(IDENTITY, heartbeat_ms=1000) as first,
        FakeVoiceServer(moved, heartbeat_ms=1000) as second,
    ):
        await first.add_peer(1001)
        conn = await harness.connect(first, move_grace=2.0)
        await first.wait_for(first.dave_settled, what="first settled")
        bob = await second.add_peer(1002)
        await conn.notify(state_update(moved.channel_id, "session-2"))
        await first.close_bot(4014)
        await conn.notify(server_update(second.endpoint, moved.token))
        await second.wait_for(second.dave_settled, timeout=8, what="second settled")
        assert conn.channel_id == moved.channel_id
        await speak_and_check(conn, bob, second)


async def test_4014_without_a_move_disconnects_once(
    harness: Harness, server: FakeVoiceServer
) -> None:
    conn = await harness.connect(server, move_grace=0.3)
    await server.close_bot(4014)
    await asyncio.wait_for(conn.join(), 5)
    assert not conn.is_alive
    assert harness.closes == [conn]
    await conn.disconnect()  # idempotent: on_close is not called twice
    await harness.bus.drain()
    assert harness.closes == [conn]
    gone = harness.recorder.of(VoiceDisconnected)
    assert len(gone) == 1 and gone[0].close_code == 4014


async def test_leaving_the_channel_disconnects(harness: Harness, server: FakeVoiceServer) -> None:
    conn = await harness.connect(server)
    await conn.notify(state_update(None, IDENTITY.session_id))
    await asyncio.wait_for(conn.join(), 5)
    assert harness.closes == [conn]


async def test_playing_on_a_closed_connection_is_an_error(
    harness: Harness, server: FakeVoiceServer
) -> None:
    await server.add_peer(1001)
    conn = await harness.connect(server, move_grace=0.3)
    await conn.wait_media_ready()
    await server.close_bot(4014)  # kicked: the connection closes for good
    await asyncio.wait_for(conn.join(), 5)
    # A reply still on its way must fail loudly, not "play" into a closed socket.
    with pytest.raises(VoiceNotConnected):
        await conn.play(pcm_source(tone(0.2, 300)), timeout=0.5)


async def test_dave_refused_is_a_clear_error(harness: Harness, server: FakeVoiceServer) -> None:
    with pytest.raises(VoiceDaveRequired, match="4017") as caught:
        await harness.connect(server, dave_max_version=0)
    assert "dave_max_version" in str(caught.value)
    await harness.bus.drain()
    errors = harness.recorder.of(VoiceFailed)
    assert [e.code for e in errors] == ["voice_dave_required"]
    assert server.gateway.record.closes == [4017]
    assert harness.closes == []  # hikari never registered the connection


async def test_rate_limited_4021_is_fatal_with_an_error_event(
    harness: Harness, server: FakeVoiceServer
) -> None:
    conn = await harness.connect(server)
    await server.close_bot(4021)
    await asyncio.wait_for(conn.join(), 5)
    await harness.bus.drain()
    assert [e.code for e in harness.recorder.of(VoiceFailed)] == ["voice_gateway_closed"]
    assert "rate limited" in harness.recorder.of(VoiceFailed)[0].message
    assert server.gateway.record.identifies == 1 and server.gateway.record.resumes == 0
    assert harness.closes == [conn]


async def test_playback_survives_a_reidentify(harness: Harness, server: FakeVoiceServer) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    finished = asyncio.Event()
    handle = await conn.play(tone_until(finished, 400))
    await wait_until(lambda: len(alice.heard.get(BOT_ID, [])) >= 10, what="playback under way")
    # Alice acknowledges the re-key late, so frames surely come due while the new
    # transport is keyed and DAVE is not (a fast re-key could otherwise beat a frame).
    alice.ready_delay = 0.2
    await server.close_bot(4006)
    await server.wait_for(lambda: server.gateway.record.identifies == 2, what="re-identify")
    heard_before = len(alice.heard.get(BOT_ID, []))
    # Audio resumes on the new SSRC (announced again with op 5) once DAVE re-keyed.
    await wait_until(
        lambda: len(alice.heard.get(BOT_ID, [])) > heard_before + 20,
        timeout=15, what="audio after the re-identify",
    )
    finished.set()
    await asyncio.wait_for(handle.wait(), 8)
    await wait_until(lambda: alice.log.silence_frames >= 5, what="closing silence")
    assert server.udp.record.refused_before_speaking == 0
    assert server.udp.record.unencrypted_frames == 0
    assert conn.diagnostics.frames_unsent_not_keyed > 0  # dropped, never sent in clear
