"""A whole call against the fake voice server: join, hear, speak, DAVE epochs."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from libra.events import (
    VoiceConnected,
    VoiceSpeakingStarted,
    VoiceSpeakingStopped,
)
from libra.voice.api import AudioChunk
from tests.e2e.voice.conftest import (
    BOT_ID,
    Harness,
    pcm_source,
    snr_db,
    tone,
    wait_until,
)
from tests.fakes.fake_voice import AES_GCM, XCHACHA, FakeVoiceServer, NetworkConditions


def heard_by_bot(harness: Harness, user_id: int) -> bytes:
    return b"".join(
        e.pcm for e in harness.recorder.of(AudioChunk) if e.user_id == user_id
    )


async def test_join_completes_handshake_and_dave(harness: Harness, server: FakeVoiceServer) -> None:
    await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.bot_in_group, what="bot in MLS group")
    await server.wait_for(server.dave_settled, what="DAVE settled")
    await wait_until(lambda: conn.dave.can_encrypt, what="bot keyed")
    connected = harness.recorder.of(VoiceConnected)
    assert connected and connected[0].mode == AES_GCM and connected[0].dave_protocol_version == 1
    identify = server.gateway.record.identify_payloads[0]
    assert identify["max_dave_protocol_version"] == 1
    assert server.gateway.record.select_payloads[0]["data"]["mode"] == AES_GCM
    status = conn.snapshot()
    assert status["dave"]["epoch"] is not None and status["dave"]["privacy_code"]
    await wait_until(lambda: server.gateway.record.heartbeats >= 1, what="a heartbeat")
    assert all(isinstance(a, int) for a in server.gateway.record.heartbeat_seq_acks)


@pytest.mark.parametrize("mode", [AES_GCM, XCHACHA])
async def test_two_simultaneous_speakers_are_recovered(
    harness: Harness, mode: str
) -> None:
    from tests.e2e.voice.conftest import IDENTITY

    async with FakeVoiceServer(IDENTITY, heartbeat_ms=1000, modes=(mode,)) as server:
        bumpy = NetworkConditions(loss=0.0, reorder=0.1, jitter_ms=8, padding_every=3, seed=3)
        alice = await server.add_peer(1001, conditions=bumpy)
        bob = await server.add_peer(1002, conditions=NetworkConditions(padding_every=2, seed=4))
        conn = await harness.connect(server)
        await server.wait_for(server.dave_settled, what="DAVE settled")
        speech_a, speech_b = tone(1.0, 440), tone(1.0, 660)
        await asyncio.gather(alice.speak(speech_a), bob.speak(speech_b))
        await wait_until(
            lambda: len(harness.recorder.of(VoiceSpeakingStopped)) >= 2, what="both stop"
        )
        snr_a = snr_db(speech_a, heard_by_bot(harness, 1001))
        snr_b = snr_db(speech_b, heard_by_bot(harness, 1002))
        print(f"SNR mode={mode} alice={snr_a:.1f} dB bob={snr_b:.1f} dB")
        assert snr_a > 10 and snr_b > 10
        started = {e.user_id for e in harness.recorder.of(VoiceSpeakingStarted)}
        assert started == {1001, 1002}
        status = conn.snapshot()
        assert status["mode"] == mode
        assert status["decrypt_failures"] == {}, status
        await conn.disconnect()


@pytest.mark.parametrize("mode", [AES_GCM, XCHACHA])
async def test_bot_speech_is_decoded_by_a_peer(harness: Harness, mode: str) -> None:
    from tests.e2e.voice.conftest import IDENTITY

    async with FakeVoiceServer(IDENTITY, heartbeat_ms=1000, modes=(mode,)) as server:
        alice = await server.add_peer(1001)
        conn = await harness.connect(server)
        await server.wait_for(server.dave_settled, what="DAVE settled")
        speech = tone(1.0, 523)
        handle = await conn.play(pcm_source(speech))
        await asyncio.wait_for(handle.wait(), 5)
        await wait_until(lambda: alice.log.silence_frames >= 5, what="silence frames")
        heard = alice.heard_pcm(BOT_ID)
        snr = snr_db(speech, heard)
        print(f"peer heard bot mode={mode}: {snr:.1f} dB")
        assert snr > 10
        record = server.udp.record
        assert record.nonce_violations == [] and record.unencrypted_frames == 0
        assert record.refused_before_speaking == 0 and record.malformed == []
        speaking = [p["speaking"] for p in server.gateway.record.speaking]
        assert speaking[0] == 1 and speaking[-1] == 0
        assert alice.log.decrypt_failures == 0


async def test_barge_in_stops_playback_at_once(harness: Harness, server: FakeVoiceServer) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    handle = await conn.play(pcm_source(tone(5.0, 300)))
    await asyncio.sleep(0.3)
    handle.stop()
    await asyncio.wait_for(handle.wait(), 1.0)
    # 5 s of audio cut after ~0.3 s: ~15 speech frames plus the 5 closing silences.
    assert handle.frames_sent < 40
    await wait_until(lambda: alice.log.silence_frames >= 5, what="closing silence")
    assert server.gateway.record.speaking[-1]["speaking"] == 0


async def test_barge_in_during_the_speaking_lead_is_not_ignored(
    harness: Harness, server: FakeVoiceServer
) -> None:
    await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    handle = await conn.play(pcm_source(tone(3.0, 300)))
    await asyncio.sleep(0.005)  # op 5 sent, the 20 ms speaking lead under way
    handle.stop()
    await asyncio.wait_for(handle.wait(), 5)
    # Only the closing silence goes out, not the whole 3 s (150 frames).
    assert handle.frames_sent <= 10, f"{handle.frames_sent} frames after a barge-in"
    assert server.gateway.record.speaking[-1]["speaking"] == 0


async def test_member_joining_mid_call_keeps_audio_flowing(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    epoch_before = conn.dave.epoch
    carol = await server.add_peer(1003)
    await server.wait_for(server.dave_settled, what="new epoch settled")
    assert conn.dave.epoch is not None and epoch_before is not None
    assert conn.dave.epoch > epoch_before
    await asyncio.gather(alice.speak(tone(0.5, 440)), carol.speak(tone(0.5, 880)))
    await wait_until(lambda: len(heard_by_bot(harness, 1003)) > 0, what="carol heard")
    assert snr_db(tone(0.5, 880), heard_by_bot(harness, 1003)) > 10
    handle = await conn.play(pcm_source(tone(0.5, 600)))
    await handle.wait()
    await wait_until(lambda: carol.log.silence_frames >= 5, what="carol got our stream")
    assert snr_db(tone(0.5, 600), carol.heard_pcm(BOT_ID)) > 10
    assert carol.log.decrypt_failures == 0 and alice.log.decrypt_failures == 0


async def test_lost_packets_are_concealed(harness: Harness) -> None:
    from tests.e2e.voice.conftest import IDENTITY

    async with FakeVoiceServer(IDENTITY, heartbeat_ms=1000) as server:
        lossy = NetworkConditions(loss=0.05, reorder=0.05, jitter_ms=5, seed=11)
        alice = await server.add_peer(1001, conditions=lossy)
        conn = await harness.connect(server)
        await server.wait_for(server.dave_settled, what="DAVE settled")
        speech = tone(1.0, 440)
        await alice.speak(speech)
        await wait_until(lambda: harness.recorder.of(VoiceSpeakingStopped), what="stop")
        stream = conn.snapshot()["streams"][0]
        print(f"5% loss: {stream} SNR={snr_db(speech, heard_by_bot(harness, 1001)):.1f} dB")
        assert stream["lost"] > 0 and stream["concealed"] == stream["lost"]
        # Concealed frames keep the timeline: one 20 ms frame out per frame sent.
        assert len(heard_by_bot(harness, 1001)) >= (alice.log.frames_sent - 5) * 3840
        assert snr_db(speech, heard_by_bot(harness, 1001)) > 5


async def test_speaking_events_and_pcm_shape(harness: Harness, server: FakeVoiceServer) -> None:
    alice = await server.add_peer(1001)
    await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    await alice.speak(tone(0.3, 440))
    await wait_until(lambda: harness.recorder.of(VoiceSpeakingStopped), what="stop event")
    audio = [e for e in harness.recorder.of(AudioChunk) if e.user_id == 1001]
    # 100 ms chunks (voice.receive_chunk_ms), the talk spurt's tail in whole 20 ms frames.
    assert all(len(e.pcm) == 5 * 3840 for e in audio[:-1])
    assert len(audio[-1].pcm) % 3840 == 0 and 0 < len(audio[-1].pcm) <= 5 * 3840
    assert sum(len(e.pcm) for e in audio) >= 15 * 3840
    assert [e.sequence for e in audio[1:]] == [(audio[0].sequence + 5 * i) & 0xFFFF
                                              for i in range(1, len(audio))]
    pcm = np.frombuffer(b"".join(e.pcm for e in audio), "<i2")
    assert np.abs(pcm).max() > 1000


async def test_a_talk_spurt_whose_first_packet_arrives_second_is_heard_whole(
    harness: Harness,
) -> None:
    from tests.e2e.voice.conftest import IDENTITY

    async with FakeVoiceServer(IDENTITY, heartbeat_ms=1000) as server:
        swapped = NetworkConditions(first_packet_after=1)  # 2, 1, 3, 4…
        alice = await server.add_peer(1001, conditions=swapped)
        conn = await harness.connect(server)
        await server.wait_for(server.dave_settled, what="DAVE settled")
        spurts: list[list[AudioChunk]] = []
        for spurt in (1, 2):  # the second starts after silence, where the sequence goes on
            await alice.speak(tone(0.3, 440))
            ended = lambda n=spurt: len(harness.recorder.of(VoiceSpeakingStopped)) == n  # noqa: E731
            await wait_until(ended, what=f"end of spurt {spurt}")
            heard = harness.recorder.of(AudioChunk)
            spurts.append(heard[sum(map(len, spurts)) :])
        [stream] = conn.snapshot()["streams"]
    assert (stream["late"], stream["lost"]) == (0, 0)
    # Every frame sent is heard, each spurt from its first packet on, in order.
    assert harness.recorder.frames_heard() == alice.log.frames_sent
    assert [audio[0].sequence for audio in spurts] == alice.log.spurt_starts
    for audio in spurts:
        assert [e.sequence for e in audio] == [
            (audio[0].sequence + 5 * i) & 0xFFFF for i in range(len(audio))
        ]
