"""Received audio reaches its consumer in order, per speaker, without the bus.

On the bus every 100 ms chunk started one handler task per subscriber, so a
subscriber that awaited between chunks saw them out of order (22 of 49 adjacent
chunks swapped, issue 10). ``VoiceLink.audio`` is one ordered stream per speaker
with a bounded buffer: a slow consumer still sees every chunk in sequence, and a
stalled one loses its own oldest audio without holding up anyone else.
"""

from __future__ import annotations

import asyncio
import math

from libra.events import VoiceSpeakingStopped
from libra.voice.api import AudioChunk, VoiceLink
from libra.voice.audio import FRAME_BYTES
from tests.e2e.voice.conftest import Harness, tone, wait_until
from tests.fakes.fake_voice import FakeVoiceServer

CHUNK_FRAMES = 5
"""Frames per chunk at the default ``voice.receive_chunk_ms`` (100 ms)."""


def in_sequence(chunks: list[AudioChunk]) -> bool:
    """Whether ``chunks`` follow each other with no gap, swap or repeat."""
    return [c.sequence for c in chunks] == [
        (chunks[0].sequence + CHUNK_FRAMES * i) & 0xFFFF for i in range(len(chunks))
    ]


def frames(chunks: list[AudioChunk]) -> int:
    return sum(len(c.pcm) for c in chunks) // FRAME_BYTES


async def test_each_speaker_is_heard_in_order_by_a_slow_and_a_fast_consumer(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice, bob = await server.add_peer(1001), await server.add_peer(1002)
    conn = await harness.connect(server, listen=False)
    heard: dict[int, list[AudioChunk]] = {}

    async def consume(link: VoiceLink, user_id: int) -> None:
        chunks = heard.setdefault(user_id, [])
        async for chunk in link.audio(user_id):
            chunks.append(chunk)
            if user_id == alice.user_id:  # slow: awaits between chunks, as STT would
                await asyncio.sleep(0.03)

    async def discover() -> None:
        async with asyncio.TaskGroup() as readers:
            async for user_id in conn.speakers():
                readers.create_task(consume(conn, user_id), name=f"consume-{user_id}")

    discovering = asyncio.create_task(discover(), name="discover-speakers")
    await server.wait_for(server.dave_settled, what="DAVE settled")
    await asyncio.gather(alice.speak(tone(1.0, 440)), bob.speak(tone(1.0, 660)))
    await wait_until(
        lambda: frames(heard.get(1001, [])) == alice.log.frames_sent
        and frames(heard.get(1002, [])) == bob.log.frames_sent,
        what="every frame heard",
    )
    assert set(heard) == {1001, 1002}
    for user_id, chunks in heard.items():
        assert {c.user_id for c in chunks} == {user_id}
        assert in_sequence(chunks), [c.sequence for c in chunks]
    assert conn.snapshot()["audio_dropped"] == 0
    await conn.disconnect()
    await asyncio.wait_for(discovering, 5)  # streams and speakers() end with the link


async def test_a_stalled_consumer_loses_its_oldest_audio_and_nobody_else_waits(
    harness: Harness, server: FakeVoiceServer
) -> None:
    alice, bob = await server.add_peer(1001), await server.add_peer(1002)
    conn = await harness.connect(server, listen=False, receive_buffer_chunks=4)
    stall = asyncio.Event()
    alice_heard: list[AudioChunk] = []
    bob_heard: list[AudioChunk] = []

    async def stalled() -> None:
        async for chunk in conn.audio(1001):
            alice_heard.append(chunk)
            await stall.wait()  # stuck after the first chunk until released

    async def fast() -> None:
        async for chunk in conn.audio(1002):
            bob_heard.append(chunk)

    readers = [asyncio.create_task(stalled(), name="stalled"),
               asyncio.create_task(fast(), name="fast")]
    await server.wait_for(server.dave_settled, what="DAVE settled")
    await asyncio.gather(alice.speak(tone(1.0, 440)), bob.speak(tone(1.0, 660)))
    await wait_until(lambda: len(harness.recorder.of(VoiceSpeakingStopped)) == 2, what="stops")
    await wait_until(lambda: frames(bob_heard) == bob.log.frames_sent, what="bob heard")
    # The other speaker is unaffected: everything, in order.
    assert in_sequence(bob_heard)
    # The stalled one's buffer stayed bounded; what it lost is counted.
    snapshot = conn.snapshot()
    assert snapshot["audio_buffered"][1001] == 4
    chunks_sent = math.ceil(alice.log.frames_sent / CHUNK_FRAMES)
    assert snapshot["audio_dropped"] == chunks_sent - 1 - 4  # one read, four buffered
    # Released, it gets the newest audio, in order, ending with the talk spurt's tail.
    stall.set()
    await wait_until(lambda: len(alice_heard) == 5, what="buffered chunks read")
    assert in_sequence(alice_heard[1:])
    last_sequence = alice_heard[-1].sequence + frames(alice_heard[-1:]) - 1
    assert frames(alice_heard[-1:]) <= CHUNK_FRAMES
    assert last_sequence & 0xFFFF == (
        alice_heard[0].sequence + alice.log.frames_sent - 1
    ) & 0xFFFF
    await conn.disconnect()
    await asyncio.wait_for(asyncio.gather(*readers), 5)
