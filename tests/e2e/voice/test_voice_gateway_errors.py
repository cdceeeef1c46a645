"""Bad messages and failing handshakes from the voice server: reconnect, never crash.

A single malformed or unexpected message, a handler that trips over it, or an IP
discovery that fails during a re-identify must cost at most one reconnect (a resume
when the session allows it); only a failure that persists ends the connection, and
then with a ``VoiceFailed`` event, never with "voice gateway crashed".
"""

from __future__ import annotations

import asyncio

from libra.events import VoiceDisconnected, VoiceFailed
from libra.voice.api import AudioChunk
from tests.e2e.voice.conftest import (
    BOT_ID,
    Harness,
    pcm_source,
    tone,
    tone_until,
    wait_until,
)
from tests.e2e.voice.test_voice_reconnect import speak_and_check
from tests.fakes.fake_voice import FakeVoiceServer, NetworkConditions


async def _still_working(harness: Harness, conn, server: FakeVoiceServer, peer) -> None:  # type: ignore[no-untyped-def]
    await server.wait_for(server.dave_settled, timeout=8, what="DAVE settled again")
    await speak_and_check(conn, peer, server)
    assert conn.is_alive
    assert harness.recorder.of(VoiceDisconnected) == []
    assert harness.closes == []


async def test_malformed_json_is_survived(harness: Harness, server: FakeVoiceServer) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    server.inject_raw("{this is not json")
    server.inject_raw("[1, 2, 3]")  # JSON, but not a gateway payload
    await asyncio.sleep(0.3)
    await _still_working(harness, conn, server, alice)
    assert server.gateway.record.identifies == 1, "a bad message must not cost the session"


async def test_an_unexpected_d_shape_is_survived(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    server.inject_json(11, ["1001"])  # op 11 with a list where an object belongs
    server.inject_json(21, {})  # DAVE prepare-transition without its fields
    # Each costs one resumed socket at most (the session and its keys survive).
    await server.wait_for(lambda: server.gateway.record.resumes == 2, what="resumes")
    await _still_working(harness, conn, server, alice)
    assert server.gateway.record.identifies == 1, "a bad message must not cost the session"


async def test_failed_ip_discovery_during_a_reidentify_retries(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    server.udp.malformed_discovery_answers = 1
    await server.close_bot(4006)  # session invalid: the client must identify afresh
    await server.wait_for(lambda: server.gateway.record.identifies == 3, what="second identify")
    await _still_working(harness, conn, server, alice)


async def test_a_persistent_failure_ends_with_a_voice_error(
    harness: Harness, server: FakeVoiceServer
) -> None:
    await server.add_peer(1001)
    conn = await harness.connect(server, max_reconnects=2)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    server.udp.malformed_discovery_answers = 1000
    await server.close_bot(4006)
    await asyncio.wait_for(conn.join(), 10)
    errors = harness.recorder.of(VoiceFailed)
    assert errors, "the connection ended without a VoiceFailed event"
    assert "crashed" not in harness.recorder.of(VoiceDisconnected)[0].reason
    assert "IP discovery" in errors[-1].message
    assert harness.closes == [conn]


async def test_a_server_that_drops_every_session_is_not_hammered(
    harness: Harness, server: FakeVoiceServer
) -> None:
    await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    server.close_after_handshake = 4006
    await server.close_bot(4006)
    await asyncio.sleep(2.0)
    # READY (and even op 4) arrive every time, but the session never lasts: that is
    # no progress, so the reconnects must back off rather than run at handshake speed.
    assert server.gateway.record.identifies <= 5, server.gateway.record.identifies
    server.close_after_handshake = None
    await wait_until(lambda: conn.is_alive and server.dave_settled(), timeout=10)


async def test_duplicates_of_played_packets_are_counted_as_duplicates(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice = await server.add_peer(1001, conditions=NetworkConditions(duplicate_every=10))
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    await alice.speak(tone(1.0, 440))
    await wait_until(lambda: not any(s["late"] == s["duplicates"] == 0 for s in
                                     conn.snapshot()["streams"]), what="stream stats")
    await asyncio.sleep(0.3)
    (stream,) = conn.snapshot()["streams"]
    assert stream["duplicates"] >= 4, stream
    assert stream["late"] == 0, stream
    assert stream["lost"] == 0, stream


async def test_audio_before_a_late_op5_is_heard(harness: Harness, server: FakeVoiceServer) -> None:
    # A member already talking when the bot joins, or whose op 5 is slow: the packets
    # arrive before anyone says whose SSRC it is, and must be heard once op 5 comes.
    alice = await server.add_peer(1001)
    await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    server.speaking_delay = 1.8
    await alice.speak(tone(2.0, 440), trailing_silence=0)
    await wait_until(lambda: harness.recorder.frames_heard() >= 95, timeout=3,
                     what=f"the whole utterance (heard {harness.recorder.frames_heard()})")
    assert {e.user_id for e in harness.recorder.of(AudioChunk)} == {1001}
    assert BOT_ID not in {e.user_id for e in harness.recorder.of(AudioChunk)}


async def test_a_reidentify_while_speaking_raises_no_send_blocked_alarm(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    # A slow client stretches the re-key to a couple of seconds (the server executes
    # a transition once every member is ready, or after its timeout).
    alice.ready_delay = 2.0
    handle = await conn.play(pcm_source(tone(4.0, 400)))
    await asyncio.sleep(0.5)
    await server.close_bot(4006)  # a normal re-identify: DAVE re-keys mid-sentence
    await server.wait_for(lambda: server.gateway.record.identifies == 2, what="re-identify")
    await asyncio.wait_for(handle.wait(), 8)
    await wait_until(lambda: alice.log.silence_frames >= 5, what="closing silence")
    await asyncio.sleep(1.2)  # the monitor checks once a second
    dropped = conn.diagnostics.frames_unsent_not_keyed
    assert dropped > 0, dropped  # dropped while re-keying, never sent in the clear
    assert "voice_send_blocked" not in conn.snapshot()["alarms"], f"{dropped} frames dropped"


async def test_playback_started_while_resuming_is_announced_after_the_resume(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice = await server.add_peer(1001)
    conn = await harness.connect(server)
    await server.wait_for(server.dave_settled, what="DAVE settled")
    server.inject_json(11, ["1001"])  # costs one resumed socket, after a short back-off
    await server.wait_for(lambda: server.gateway.socket is None, what="socket given up")
    finished = asyncio.Event()
    handle = await conn.play(tone_until(finished, 400))  # op 5 finds no socket
    await server.wait_for(lambda: server.gateway.record.resumes == 1, what="op 7 resume")
    # The reply lasts until heard, however long the back-off and resume take.
    await wait_until(lambda: len(alice.heard.get(BOT_ID, [])) > 20, timeout=15,
                     what="audio after the resume")
    finished.set()
    await asyncio.wait_for(handle.wait(), 5)
    await wait_until(lambda: alice.log.silence_frames >= 5, what="closing silence")
