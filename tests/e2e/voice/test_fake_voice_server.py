"""The fake voice server is faithful: a by-the-docs client completes every step with it.

These tests use `reference_client.ReferenceClient` (not Libra's client) and real
davey sessions on both sides, so a failure here is a bug in the fake.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import davey
import numpy as np
import opuslib_next
import pytest

from tests.e2e.voice.reference_client import ReferenceClient
from tests.fakes import audio_fixtures
from tests.fakes.fake_voice import (
    XCHACHA,
    CallIdentity,
    FakePeer,
    FakeVoiceServer,
    NetworkConditions,
    mls_wire,
)
from tests.fakes.fake_voice.fixtures import BOT_USER_ID, PEER_USER_ID, MakeServer

FRAME = 3840  # 20 ms of 48 kHz stereo s16le


@pytest.fixture
async def client(
    fake_voice_server: FakeVoiceServer, voice_identity: CallIdentity
) -> AsyncIterator[ReferenceClient]:
    c = ReferenceClient(fake_voice_server.url, voice_identity)
    yield c
    await c.close()


def opus_frames(pcm: bytes) -> list[bytes]:
    encoder = opuslib_next.Encoder(48000, 2, opuslib_next.APPLICATION_AUDIO)
    return [bytes(encoder.encode(pcm[i : i + FRAME], 960)) for i in range(0, len(pcm), FRAME)]


async def test_bot_and_peer_exchange_dave_encrypted_opus_both_ways(
    fake_voice_server: FakeVoiceServer, fake_peer: FakePeer, client: ReferenceClient
) -> None:
    server = fake_voice_server
    await client.handshake()
    await server.wait_for(server.dave_settled, what="bot and peer in one MLS group")
    assert client.session is not None and client.session.ready and fake_peer.ready
    assert server.bot_in_group()
    assert client.session.epoch == fake_peer.session.epoch == 1
    assert client.session.get_epoch_authenticator() == fake_peer.session.get_epoch_authenticator()

    await client.send(5, {"speaking": 1, "delay": 0, "ssrc": client.ready_info["ssrc"]})
    await server.wait_for(lambda: server.udp.bot_speaking, what="op 5 from the bot")
    probe = audio_fixtures.probe_signal(0.2)
    for opus in opus_frames(probe):
        client.send_frame(opus)
    await server.wait_for(
        lambda: len(fake_peer.heard.get(BOT_USER_ID, [])) == 10, what="peer decoded 10 frames"
    )
    assert audio_fixtures.snr_db(probe, fake_peer.heard_pcm(BOT_USER_ID)) > 15
    record = server.udp.record
    assert record.unencrypted_frames == 0 and record.nonce_violations == []

    speak = asyncio.create_task(fake_peer.speak(audio_fixtures.tone(440, 0.1), realtime=False))
    user, pcm = await client.receive_frame()
    await speak
    assert user == PEER_USER_ID
    assert len(pcm) == FRAME and any(pcm)


async def test_identify_without_dave_version_is_closed_with_4017(
    fake_voice_server: FakeVoiceServer, client: ReferenceClient
) -> None:
    hello = await client.open()
    assert hello["heartbeat_interval"] > 0
    await client.identify(dave=False)
    assert await client.wait_closed() == 4017
    assert fake_voice_server.gateway.record.closes == [4017]


async def test_unoffered_mode_is_closed_with_4016(
    make_fake_voice_server: MakeServer, voice_identity: CallIdentity
) -> None:
    server = await make_fake_voice_server(modes=(XCHACHA,))
    client = ReferenceClient(server.url, voice_identity)  # asks for AES-GCM
    try:
        with pytest.raises(AssertionError, match="4016"):
            await client.handshake()
        assert server.gateway.record.closes == [4016]
    finally:
        await client.close()


async def test_xchacha_mode_carries_audio(
    make_fake_voice_server: MakeServer, voice_identity: CallIdentity
) -> None:
    server = await make_fake_voice_server(modes=(XCHACHA,))
    peer = await server.add_peer(PEER_USER_ID)
    client = ReferenceClient(server.url, voice_identity, mode=XCHACHA)
    try:
        await client.handshake()
        await server.wait_for(server.dave_settled, what="group with the bot")
        await client.send(5, {"speaking": 1, "delay": 0, "ssrc": client.ready_info["ssrc"]})
        await server.wait_for(lambda: server.udp.bot_speaking)
        client.send_frame(opus_frames(audio_fixtures.tone(300, 0.02))[0])
        await server.wait_for(lambda: bool(peer.heard.get(BOT_USER_ID)), what="frame decoded")
    finally:
        await client.close()


async def test_audio_before_speaking_is_refused_and_reused_nonces_are_flagged(
    fake_voice_server: FakeVoiceServer, fake_peer: FakePeer, client: ReferenceClient
) -> None:
    server = fake_voice_server
    await client.handshake()
    await server.wait_for(server.dave_settled)
    opus = opus_frames(audio_fixtures.tone(500, 0.06))
    client.send_frame(opus[0])
    await server.wait_for(lambda: server.udp.record.refused_before_speaking == 1)
    await client.send(5, {"speaking": 1, "delay": 0, "ssrc": client.ready_info["ssrc"]})
    await server.wait_for(lambda: server.udp.bot_speaking)
    client.send_frame(opus[1], counter=7)
    client.send_frame(opus[2], counter=7)  # the hikari-wave bug: a counter that never moves
    client.send_frame(opus[2], dave=False, counter=8)  # and a frame without DAVE
    await server.wait_for(lambda: len(server.udp.record.packets) == 3)
    assert server.udp.record.nonce_violations == [(7, 7)]
    assert server.udp.record.unencrypted_frames == 1


async def test_keepalives_are_not_malformed_and_speaking_0_closes_the_gate(
    fake_voice_server: FakeVoiceServer, fake_peer: FakePeer, client: ReferenceClient
) -> None:
    server = fake_voice_server
    await client.handshake()
    await server.wait_for(server.dave_settled)
    assert client._udp_transport is not None
    client._udp_transport.sendto(struct.pack("<Q", 0))
    await server.wait_for(lambda: server.udp.record.keepalives == 1, what="keepalive")
    assert server.udp.record.malformed == []
    opus = opus_frames(audio_fixtures.tone(500, 0.08))
    ssrc = client.ready_info["ssrc"]
    await client.send(5, {"speaking": 1, "delay": 0, "ssrc": ssrc})
    await server.wait_for(lambda: server.udp.bot_speaking)
    client.send_frame(opus[0])
    await server.wait_for(lambda: len(server.udp.record.packets) == 1)
    await client.send(5, {"speaking": 0, "delay": 0, "ssrc": ssrc})
    await server.wait_for(lambda: not server.udp.bot_speaking, what="speaking 0")
    client.send_frame(opus[1])
    await server.wait_for(lambda: server.udp.record.refused_before_speaking == 1)
    await client.send(5, {"speaking": 1, "delay": 0, "ssrc": ssrc})
    await server.wait_for(lambda: server.udp.bot_speaking)
    client.send_frame(opus[2])
    await server.wait_for(lambda: len(server.udp.record.packets) == 2, what="accepted again")


async def test_resume_on_new_socket_replays_missed_messages(
    fake_voice_server: FakeVoiceServer, client: ReferenceClient, voice_identity: CallIdentity
) -> None:
    server = fake_voice_server
    await client.handshake()
    await server.wait_for(lambda: server.dave.record.key_packages == [BOT_USER_ID])
    await asyncio.sleep(0.05)
    seen = client.last_seq
    server.drop_bot()
    await asyncio.sleep(0.05)
    await server.add_peer(PEER_USER_ID)  # op 11 and DAVE proposals go to the buffer
    second = ReferenceClient(server.url, voice_identity)
    try:
        await second.open()
        i = voice_identity
        await second.send(
            7,
            {
                "server_id": str(i.guild_id),
                "session_id": i.session_id,
                "token": i.token,
                "seq_ack": seen,
            },
        )
        assert await second.next_json(9) is None
        connect = await second.next_json(11)
        assert connect == {"user_ids": [str(PEER_USER_ID)]}
        assert second.last_seq == (seen + 1) & 0xFFFF
        assert server.gateway.record.resumes == 1 and server.gateway.record.identifies == 1
    finally:
        await second.close()


async def test_peer_joins_and_leaves_mid_call_with_the_bot_committing(
    make_fake_voice_server: MakeServer, voice_identity: CallIdentity
) -> None:
    # Slow peers let the bot's commits win, so the fake must follow a bot-made epoch.
    server = await make_fake_voice_server(peer_commit_delay=0.3)
    alice = await server.add_peer(PEER_USER_ID)
    client = ReferenceClient(server.url, voice_identity)
    try:
        await client.handshake()
        await server.wait_for(server.dave_settled, what="initial group")
        bob = await server.add_peer(PEER_USER_ID + 1)
        await server.wait_for(lambda: server.dave.epoch == 2 and server.dave_settled())
        assert server.dave.record.commits[-1][0] == BOT_USER_ID
        assert {alice.session.epoch, bob.session.epoch} == {2}
        await server.remove_peer(alice)
        await server.wait_for(lambda: server.dave.epoch == 3 and server.dave_settled())
        assert client.session is not None and client.session.epoch == 3
        assert client.session.get_epoch_authenticator() == bob.session.get_epoch_authenticator()
        await server.remove_peer(bob)  # the bot is alone: sole-member reset
        await server.wait_for(
            lambda: (
                not server.dave.established and server.dave.record.key_packages[-1] == BOT_USER_ID
            ),
            what="op 24 reset and a fresh key package from the bot",
        )
        ops = [m["op"] for m in client.received if isinstance(m, dict)]
        assert ops[-2:] == [24, 21]
        assert server.dave.record.violations == []
    finally:
        await client.close()


async def test_peer_packets_carry_extension_padding_and_survive_reordering(
    fake_voice_server: FakeVoiceServer, client: ReferenceClient
) -> None:
    server = fake_voice_server
    rough = NetworkConditions(reorder=0.3, padding_every=3, seed=5)  # no jitter: deterministic
    peer = await server.add_peer(PEER_USER_ID, conditions=rough)
    await client.handshake()
    await server.wait_for(server.dave_settled)
    probe = audio_fixtures.probe_signal(0.4)
    speak = asyncio.create_task(peer.speak(probe))
    packets = [await client.receive_packet() for _ in range(20 + 5)]
    await speak
    assert {p.user_id for p in packets} == {PEER_USER_ID}
    assert any(p.padding for p in packets) and {1, 2} <= {p.extension_words for p in packets}
    sequences = [p.sequence for p in packets]
    assert sequences != sorted(sequences), "reordering should have happened"
    # DAVE (like libdave) rejects frames older than the first one it decrypted.
    first = packets[0].sequence
    assert [p.sequence for p in packets if p.dave_error] == [
        p.sequence for p in packets if p.sequence < first and p.pcm is None and p.dave_error
    ]
    assert sum(p.opus is None and not p.dave_error for p in packets) == 5  # trailing silence
    decoder = opuslib_next.Decoder(48000, 2)
    in_order = sorted((p for p in packets if p.opus), key=lambda p: p.sequence)
    pcm = b"".join(bytes(decoder.decode(p.opus, 960)) for p in in_order if p.opus)
    assert audio_fixtures.snr_db(probe, pcm) > 15


async def test_invalid_commit_flag_removes_and_re_adds_the_member(
    fake_voice_server: FakeVoiceServer, fake_peer: FakePeer, client: ReferenceClient
) -> None:
    server = fake_voice_server
    await server.add_peer(PEER_USER_ID + 1)  # with two peers the group survives the removal
    await client.handshake()
    await server.wait_for(lambda: server.dave.epoch == 2 and server.dave_settled())
    assert client.session is not None
    await client.send(31, {"transition_id": server.dave.record.executed[-1]})
    client.session.reinit(1, BOT_USER_ID, server.identity.channel_id)
    client.session.set_external_sender(client.external_sender)
    await client.send_key_package()
    await server.wait_for(lambda: server.dave.epoch == 3 and server.dave_settled())
    assert server.dave.record.invalid and server.dave.record.welcomes[-1][0] == BOT_USER_ID
    assert client.session.ready and server.dave.leaves.count(BOT_USER_ID) == 1
    assert client.session.get_epoch_authenticator() == fake_peer.session.get_epoch_authenticator()


async def test_session_closed_with_4006_cannot_resume_but_can_identify_again(
    fake_voice_server: FakeVoiceServer, fake_peer: FakePeer, voice_identity: CallIdentity
) -> None:
    server = fake_voice_server
    first = ReferenceClient(server.url, voice_identity)
    await first.handshake()
    await server.wait_for(server.bot_in_group)
    await server.close_bot(4006)
    await server.wait_for(lambda: BOT_USER_ID not in server.dave.members(), what="bot removed")
    await first.close()
    retry = ReferenceClient(server.url, voice_identity)
    await retry.open()
    i = voice_identity
    resume = {"server_id": str(i.guild_id), "session_id": i.session_id, "token": i.token}
    await retry.send(7, {**resume, "seq_ack": first.last_seq})
    assert await retry.wait_closed() == 4006
    await retry.close()
    again = ReferenceClient(server.url, voice_identity)
    try:
        await again.handshake()
        await server.wait_for(server.dave_settled, what="bot back in the group")
        assert server.gateway.record.identifies == 2
        assert server.gateway.record.failed_resumes == 1
    finally:
        await again.close()


async def test_prepare_epoch_one_recreates_the_group_with_everyone(
    fake_voice_server: FakeVoiceServer, fake_peer: FakePeer, client: ReferenceClient
) -> None:
    server = fake_voice_server
    await client.handshake()
    await server.wait_for(server.dave_settled)
    before = fake_peer.session.get_epoch_authenticator()
    server.recreate_dave_group()
    await server.wait_for(lambda: len(server.dave.record.executed) == 2 and server.dave_settled())
    assert client.session is not None and client.session.epoch == 1
    assert client.session.get_epoch_authenticator() == fake_peer.session.get_epoch_authenticator()
    assert fake_peer.session.get_epoch_authenticator() != before


async def test_heartbeats_are_acknowledged_and_their_absence_closes_4009(
    make_fake_voice_server: MakeServer, voice_identity: CallIdentity
) -> None:
    server = await make_fake_voice_server(heartbeat_ms=150)
    client = ReferenceClient(server.url, voice_identity)
    try:
        assert (await client.open())["heartbeat_interval"] == 150
        await client.send(3, {"t": 1234, "seq_ack": -1})
        assert await client.next_json(6) == {"t": 1234}
        assert server.gateway.record.heartbeat_seq_acks == [-1]
        assert await client.wait_closed() == 4009
    finally:
        await client.close()


async def test_bot_follows_peer_commits_for_joins_and_leaves(
    fake_voice_server: FakeVoiceServer, fake_peer: FakePeer, client: ReferenceClient
) -> None:
    server = fake_voice_server
    await client.handshake()
    await server.wait_for(server.dave_settled)
    bob = await server.add_peer(PEER_USER_ID + 1)
    await server.wait_for(lambda: server.dave.epoch == 2 and server.dave_settled())
    await server.remove_peer(bob)
    await server.wait_for(lambda: server.dave.epoch == 3 and server.dave_settled())
    assert [c[0] for c in server.dave.record.commits[1:]] == [PEER_USER_ID, PEER_USER_ID]
    announced = [m for m in client.received if isinstance(m, bytes) and m[2] == 29]
    assert len(announced) == 2  # the bot applied both commits made by a peer
    ops = [m["op"] for m in client.received if isinstance(m, dict)]
    assert ops.count(11) == 2 and ops.count(13) == 1  # alice (at join), bob; bob left
    assert client.session is not None and client.session.epoch == 3
    await client.send(5, {"speaking": 1, "delay": 0, "ssrc": client.ready_info["ssrc"]})
    await server.wait_for(lambda: server.udp.bot_speaking)
    client.send_frame(opus_frames(audio_fixtures.tone(350, 0.02))[0])
    await server.wait_for(lambda: bool(fake_peer.heard.get(BOT_USER_ID)), what="epoch-3 frame")
    assert fake_peer.log.decrypt_failures == 0


def test_mls_varints_match_the_rfc_9420_examples() -> None:
    assert mls_wire.encode_varint(37) == b"\x25"
    assert mls_wire.encode_varint(15_293) == b"\x7b\xbd"
    assert mls_wire.encode_varint(494_878_333) == b"\x9d\x7f\x3e\x7d"
    assert mls_wire.Reader(b"\x9d\x7f\x3e\x7d").varint() == 494_878_333


async def test_key_package_for_another_user_is_refused(
    fake_voice_server: FakeVoiceServer, fake_peer: FakePeer, client: ReferenceClient
) -> None:
    server = fake_voice_server
    await client.handshake()
    await server.wait_for(server.dave_settled)
    impostor = davey.DaveSession(1, 12345, server.identity.channel_id)
    assert client.session is not None
    client.session = impostor
    await client.send_key_package()
    await server.wait_for(lambda: bool(server.dave.record.violations))
    assert "credential is user 12345" in server.dave.record.violations[0]
    assert server.dave.epoch == 1 and 12345 not in server.dave.leaves


def test_snr_ignores_delay_and_gain_but_measures_noise() -> None:
    probe = audio_fixtures.probe_signal(0.5)
    samples = np.frombuffer(probe, dtype="<i2").astype(np.float64)
    delayed_quieter = np.concatenate([np.zeros(2 * 300), samples * 0.5])
    assert audio_fixtures.snr_db(probe, delayed_quieter.astype("<i2").tobytes()) > 40
    noise = np.repeat(np.random.default_rng(1).normal(0, 1, len(samples) // 2), 2)  # both ears
    noise *= np.sqrt(np.mean(samples**2) / np.mean(noise**2)) / 10  # 20 dB below the signal
    noisy = np.clip(samples + noise, -32768, 32767).astype("<i2").tobytes()
    assert 19 < audio_fixtures.snr_db(probe, noisy) < 21
    assert audio_fixtures.snr_db(probe, bytes(len(probe))) == float("-inf")


def test_speech_fixture_is_48k_stereo_and_audible() -> None:
    pcm = audio_fixtures.speech("Hello from the fake voice peer.")
    assert len(pcm) % 4 == 0 and len(pcm) / (48_000 * 4) > 0.5
    left, right = np.frombuffer(pcm, dtype="<i2").reshape(-1, 2).T
    assert np.array_equal(left, right) and np.abs(left).max() > 3000
