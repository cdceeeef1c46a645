"""DAVE group changes seen by the client: our commits, epoch resets, sole-member resets."""

from __future__ import annotations

import asyncio

from libra.voice.api import AudioChunk
from tests.e2e.voice.conftest import BOT_ID, IDENTITY, Harness, pcm_source, snr_db, tone, wait_until
from tests.fakes.fake_voice import FakeVoiceServer


async def both_ways(harness: Harness, conn, server: FakeVoiceServer, peer) -> None:  # type: ignore[no-untyped-def]
    """Audio flows bot → peer and peer → bot, end-to-end encrypted, after a group change."""
    speech = tone(0.4, 550)
    before = peer.log.silence_frames
    peer.heard.clear()
    handle = await conn.play(pcm_source(speech))
    await asyncio.wait_for(handle.wait(), 5)
    await wait_until(lambda: peer.log.silence_frames >= before + 5, what="peer heard the bot")
    assert snr_db(speech, peer.heard_pcm(BOT_ID)) > 10
    harness.recorder.events.clear()
    theirs = tone(0.4, 330)
    await peer.speak(theirs)
    await wait_until(
        lambda: harness.recorder.frames_heard() >= 20, what="bot heard the peer"
    )
    heard = b"".join(
        e.pcm for e in harness.recorder.of(AudioChunk) if e.user_id == peer.user_id
    )
    assert snr_db(theirs, heard) > 10
    assert server.udp.record.unencrypted_frames == 0


async def test_bot_commit_wins_and_members_follow(harness: Harness) -> None:
    # Peers commit late, so the bot's op 28 commit is the one that makes each epoch.
    async with FakeVoiceServer(IDENTITY, heartbeat_ms=1000, peer_commit_delay=0.5) as server:
        alice = await server.add_peer(1001)
        conn = await harness.connect(server)
        await server.wait_for(server.dave_settled, timeout=8, what="settled")
        bob = await server.add_peer(1002)
        await server.wait_for(server.dave_settled, timeout=8, what="bob added")
        assert any(committer == BOT_ID for committer, _e, _t in server.dave.record.commits)
        assert server.dave.record.violations == []
        await both_ways(harness, conn, server, bob)
        assert alice.log.decrypt_failures == 0


async def test_prepare_epoch_one_recreates_the_group(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="settled")
    server.dave.recreate_group()
    await wait_until(lambda: not conn.dave.can_encrypt, what="bot re-initialised")
    await server.wait_for(server.dave_settled, timeout=8, what="group recreated")
    await wait_until(lambda: conn.dave.can_encrypt, what="bot keyed again")
    await both_ways(harness, conn, server, alice)


async def test_sole_member_reset_then_a_new_member(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="settled")
    await server.remove_peer(alice)
    await wait_until(lambda: 1001 not in conn.dave.known_users, what="op 13 seen")
    dave = await server.add_peer(1004)
    await server.wait_for(server.dave_settled, timeout=8, what="new group with dave")
    await both_ways(harness, conn, server, dave)
