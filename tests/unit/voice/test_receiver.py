"""The receive path on raw datagrams: filtering, un-padding, unmapped SSRCs, talk spurts."""

from __future__ import annotations

from typing import Any

import pytest

from libra.discord.voice import rtp
from libra.discord.voice.audio import OpusEncoder
from libra.discord.voice.crypto import TransportCipher, TransportMode
from libra.discord.voice.dave import DaveDriver
from libra.discord.voice.diagnostics import VoiceDiagnostics
from libra.discord.voice.receiver import MAX_HELD_PER_SSRC, MAX_UNMAPPED_SSRCS, AudioReceiver
from libra.events import VoiceSpeakingStarted, VoiceSpeakingStopped
from libra.voice.api import AudioChunk
from libra.voice.audio import FRAME_BYTES

KEY = bytes(range(32))
SSRC = 1234


async def _unused(*_args: Any) -> None:
    return None


class Timeline:
    """An ``AudioSink`` writing chunks into the same list as the bus events, in order."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.ended: list[int] = []

    def deliver(self, chunk: AudioChunk) -> None:
        self.events.append(chunk)

    def end_speaker(self, user_id: int) -> None:
        self.ended.append(user_id)


@pytest.fixture
def parts() -> tuple[AudioReceiver, list[Any], VoiceDiagnostics]:
    events: list[Any] = []
    diag = VoiceDiagnostics(1)
    dave = DaveDriver(1, 2, _unused, _unused)  # protocol version 0: clear Opus
    receiver = AudioReceiver(
        1, dave, diag, events.append, Timeline(events), hold_unmapped=0.5, chunk_frames=1
    )
    receiver.cipher = TransportCipher(TransportMode.AES256_GCM, KEY)
    return receiver, events, diag


def packet(
    seq: int, opus: bytes, *, pad: int = 0, ext: bool = False, pt: int = 0x78, ssrc: int = SSRC
) -> bytes:
    sender = TransportCipher(TransportMode.AES256_GCM, KEY)
    words, body = rtp.build_one_byte_extension([(1, b"\x7f")]) if ext else (0, b"")
    header = rtp.build_header(
        sequence=seq, timestamp=seq * 960, ssrc=ssrc, payload_type=pt, padding=pad > 0,
        extension_profile=0xBEDE if ext else None, extension_words=words,
    )
    payload = body + opus
    if pad:
        payload = rtp.pad_payload(payload, pad)
    return sender.encrypt(header, payload)


def opus_frames(count: int) -> list[bytes]:
    encoder = OpusEncoder()
    return [encoder.encode(bytes([i % 7]) * FRAME_BYTES) for i in range(count)]


def test_padded_and_extended_packets_decode(
    parts: tuple[AudioReceiver, list[Any], VoiceDiagnostics],
) -> None:
    receiver, events, diag = parts
    receiver.map_ssrc(SSRC, 42)
    frames = opus_frames(4)
    receiver.feed(packet(1, frames[0], pad=5, ext=True))
    receiver.feed(packet(2, frames[1], ext=True))
    receiver.feed(packet(3, frames[2], pad=200))
    receiver.feed(packet(4, frames[3]))
    audio = [e for e in events if isinstance(e, AudioChunk)]
    assert [e.sequence for e in audio] == [1, 2, 3, 4]
    assert all(e.user_id == 42 and len(e.pcm) == FRAME_BYTES for e in audio)
    assert isinstance(events[0], VoiceSpeakingStarted)
    assert diag.decrypt_failures == {}


def test_rtcp_foreign_and_forged_packets_are_dropped(
    parts: tuple[AudioReceiver, list[Any], VoiceDiagnostics],
) -> None:
    receiver, events, diag = parts
    receiver.map_ssrc(SSRC, 42)
    receiver.feed(bytes([0x81, 200]) + bytes(30))
    receiver.feed(packet(1, b"x", pt=96))
    forged = bytearray(packet(2, opus_frames(1)[0]))
    forged[20] ^= 0xFF
    receiver.feed(bytes(forged))
    receiver.feed(b"\x00")
    assert events == []
    assert diag.rtcp_dropped == 1 and diag.foreign_dropped == 2
    assert diag.decrypt_failures == {"transport": 1}


def test_packets_before_the_ssrc_is_mapped_are_held_then_played(
    parts: tuple[AudioReceiver, list[Any], VoiceDiagnostics],
) -> None:
    receiver, events, _ = parts
    frames = opus_frames(3)
    for i, frame in enumerate(frames):
        receiver.feed(packet(10 + i, frame))
    assert events == []
    receiver.map_ssrc(SSRC, 42)
    assert [e.sequence for e in events if isinstance(e, AudioChunk)] == [10, 11, 12]


def test_packets_held_for_unnamed_ssrcs_are_bounded(
    parts: tuple[AudioReceiver, list[Any], VoiceDiagnostics],
) -> None:
    receiver, events, diag = parts
    frame = opus_frames(1)[0]
    for seq in range(MAX_HELD_PER_SSRC + 10):  # one SSRC, all within the hold time
        receiver.feed(packet(seq, frame))
    assert diag.unmapped_dropped == 10
    for extra in range(1, MAX_UNMAPPED_SSRCS + 3):  # many SSRCs: the stalest goes first
        receiver.feed(packet(1, frame, ssrc=SSRC + extra))
    assert diag.unmapped_dropped == 10 + MAX_HELD_PER_SSRC + 2
    receiver.map_ssrc(SSRC + MAX_UNMAPPED_SSRCS + 2, 42)
    # A spurt's first packet waits for the next, which might precede it.
    receiver.feed(packet(2, frame, ssrc=SSRC + MAX_UNMAPPED_SSRCS + 2))
    assert [e.sequence for e in events if isinstance(e, AudioChunk)] == [1, 2]


def test_unmapped_packets_expire(parts: tuple[AudioReceiver, list[Any], VoiceDiagnostics]) -> None:
    receiver, events, diag = parts
    receiver.feed(packet(1, opus_frames(1)[0]))
    receiver.tick(now=10**9)
    receiver.map_ssrc(SSRC, 42)
    assert events == [] and diag.unmapped_dropped == 1


def test_silence_ends_a_talk_spurt_and_loss_is_concealed(
    parts: tuple[AudioReceiver, list[Any], VoiceDiagnostics],
) -> None:
    receiver, events, diag = parts
    receiver.map_ssrc(SSRC, 42)
    frames = opus_frames(8)
    for seq in (1, 2, 4, 5, 6, 7, 8):  # 3 is lost
        receiver.feed(packet(seq, frames[seq - 1]))
    receiver.tick(now=10**9)
    audio = [e for e in events if isinstance(e, AudioChunk)]
    assert [e.sequence for e in audio] == list(range(1, 9))  # 3 concealed in place
    assert isinstance(events[-1], VoiceSpeakingStopped)
    stats = diag.snapshot()["streams"][0]
    assert stats["lost"] == 1 and stats["concealed"] == 1 and stats["user_id"] == 42


def test_departed_members_leave_no_stream_stats_behind(
    parts: tuple[AudioReceiver, list[Any], VoiceDiagnostics],
) -> None:
    receiver, _events, diag = parts
    frames = opus_frames(6)
    receiver.map_ssrc(SSRC, 42)
    for seq in (100, 101, 102):
        receiver.feed(packet(seq, frames[seq - 100]))
    receiver.forget_user(42)  # op 13: in a busy channel every join would add a row
    assert diag.snapshot()["streams"] == []
    # The server hands the SSRC to a newcomer whose stream starts elsewhere: the
    # previous member's sequence numbers must not count as thousands of losses.
    receiver.map_ssrc(SSRC, 43)
    for seq in (20_000, 20_001, 20_002):
        receiver.feed(packet(seq, frames[seq - 19_997]))
    receiver.map_ssrc(SSRC, 44)  # reused again, this time without an op 13 first
    for seq in (5_000, 5_001):
        receiver.feed(packet(seq, frames[seq - 5_000]))
    [stream] = diag.snapshot()["streams"]
    assert (stream["user_id"], stream["received"], stream["lost"]) == (44, 2, 0)
    assert diag.snapshot()["loss_ratio"] == 0.0


def _receiver(events: list[Any], chunk_frames: int) -> AudioReceiver:
    dave = DaveDriver(1, 2, _unused, _unused)
    receiver = AudioReceiver(
        1, dave, VoiceDiagnostics(1), events.append, Timeline(events), chunk_frames=chunk_frames
    )
    receiver.cipher = TransportCipher(TransportMode.AES256_GCM, KEY)
    receiver.map_ssrc(SSRC, 42)
    return receiver


def test_audio_is_published_in_chunks_and_the_tail_at_the_end_of_speech() -> None:
    chunked: list[Any] = []
    per_frame: list[Any] = []
    receivers = _receiver(chunked, 5), _receiver(per_frame, 1)
    for seq, frame in enumerate(opus_frames(12), start=100):
        for receiver in receivers:
            receiver.feed(packet(seq, frame))
    audio = [e for e in chunked if isinstance(e, AudioChunk)]
    # The reorder buffer holds the last 3 frames back: two full 100 ms chunks so far.
    assert [(e.sequence, len(e.pcm)) for e in audio] == [
        (100, 5 * FRAME_BYTES), (105, 5 * FRAME_BYTES)
    ]
    for receiver in receivers:
        receiver.tick(now=10**9)
    audio = [e for e in chunked if isinstance(e, AudioChunk)]
    assert [(e.sequence, len(e.pcm)) for e in audio][2:] == [(110, 2 * FRAME_BYTES)]
    assert isinstance(chunked[-1], VoiceSpeakingStopped)
    frames = [e.pcm for e in per_frame if isinstance(e, AudioChunk)]
    assert b"".join(e.pcm for e in audio) == b"".join(frames) and len(frames) == 12


def test_a_talk_spurt_whose_first_packet_arrives_second_is_heard_whole(
    parts: tuple[AudioReceiver, list[Any], VoiceDiagnostics],
) -> None:
    receiver, events, diag = parts  # one frame per event: publication is visible per packet

    def heard() -> list[int]:
        return [e.sequence for e in events if isinstance(e, AudioChunk)]

    receiver.map_ssrc(SSRC, 42)
    frames = opus_frames(8)
    receiver.feed(packet(2, frames[1]))
    assert events == []  # held until the next packet shows whether one precedes it
    receiver.feed(packet(1, frames[0]))
    assert heard() == [1, 2]
    receiver.feed(packet(3, frames[2]))
    assert heard() == [1, 2, 3]  # past the start, nothing waits
    receiver.tick(now=10**9)  # silence ends the spurt; the next one continues at 4
    receiver.feed(packet(5, frames[4]))
    receiver.feed(packet(4, frames[3]))
    assert heard() == [1, 2, 3, 4, 5]
    receiver.tick(now=10**9)
    receiver.feed(packet(6, frames[5]))  # in order: the spurt starts at once
    assert heard() == [1, 2, 3, 4, 5, 6]
    [stream] = diag.snapshot()["streams"]
    assert (stream["late"], stream["lost"], stream["concealed"]) == (0, 0, 0)
    assert stream["expected"] == stream["received"] == 6  # the stream starts at 1, not 2


def test_a_lone_packet_is_played_when_the_silence_timeout_passes(
    parts: tuple[AudioReceiver, list[Any], VoiceDiagnostics],
) -> None:
    receiver, events, _ = parts
    receiver.map_ssrc(SSRC, 42)
    receiver.feed(packet(7, opus_frames(1)[0]))
    receiver.tick()  # within the silence timeout: still waiting for a second packet
    assert events == []
    receiver.tick(now=10**9)
    assert [type(e) for e in events] == [
        VoiceSpeakingStarted, AudioChunk, VoiceSpeakingStopped
    ]
