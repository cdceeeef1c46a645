"""Receive path: datagram → transport decrypt → un-extend/un-pad → reorder → DAVE → Opus.

Order matters and is the reason other libraries fail under DAVE: the extension body
and the RTP padding must be stripped *after* transport decryption and *before* DAVE
decryption, or every padded frame fails DAVE authentication.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from loguru import logger

from libra.discord.voice.audio import OpusDecoder
from libra.discord.voice.crypto import TransportCipher
from libra.discord.voice.dave import DaveDecryptFailed, DaveDriver
from libra.discord.voice.diagnostics import StreamStats, VoiceDiagnostics
from libra.discord.voice.reorder import ReorderBuffer
from libra.discord.voice.rtp import (
    OPUS_PAYLOAD_TYPE,
    is_rtcp,
    parse_header,
    strip_extension_and_padding,
)
from libra.errors import VoiceError
from libra.events import Event, VoiceSpeakingStarted, VoiceSpeakingStopped
from libra.voice.api import AudioChunk
from libra.voice.streams import AudioSink

MAX_CONCEALED_PER_GAP = 5
"""Longer gaps are silence, not loss: concealing them would only invent sound."""
HOLD_UNMAPPED_SECONDS = 5.0
"""How long packets of an SSRC nobody has named yet (op 5) are kept for it. Op 5 comes
when a member starts talking; a late one (a slow gateway, a member already talking
when the bot joined) should cost nothing of the utterance, not all but its last second."""
MAX_HELD_PER_SSRC = 300
"""Packets held per unnamed SSRC (6 s at 50 a second): memory stays bounded."""
MAX_UNMAPPED_SSRCS = 16
"""Unnamed SSRCs held at once; beyond that the one silent the longest is dropped."""


@dataclass(slots=True)
class _Speaker:
    ssrc: int
    user_id: int
    stats: StreamStats
    reorder: ReorderBuffer
    decoder: OpusDecoder = field(default_factory=OpusDecoder)
    speaking: bool = False
    last_arrival: float = 0.0
    frames: int = 0
    chunk: list[tuple[int, bytes | None, bytes | None]] = field(default_factory=list)
    """Frames of the next chunk, in order, not yet decoded: ``(sequence, opus, fec)``
    where ``opus`` is ``None`` for a loss to conceal, from ``fec`` (the next packet,
    whose FEC data describes this frame) or, without it, by plain concealment."""


@dataclass(slots=True)
class _Held:
    arrival: float
    sequence: int
    timestamp: int
    frame: bytes


class AudioReceiver:
    """Turns incoming datagrams into ordered per-speaker audio for one connection.

    Decoded audio goes to ``sink`` (see :class:`~libra.voice.streams.ReceivedAudio`)
    in chunks of ``chunk_frames`` 20 ms frames per speaker (and whatever is left when
    a talk spurt ends), in sequence order; speaking changes go to the bus. A chunk is
    decoded when it is complete, which adds no latency (nothing is delivered sooner)
    and decodes its frames back to back, with libopus's tables still in the CPU cache.
    """

    def __init__(
        self,
        guild_id: int,
        dave: DaveDriver,
        diagnostics: VoiceDiagnostics,
        publish: Callable[[Event], object],
        sink: AudioSink,
        *,
        reorder_depth: int = 3,
        hold_unmapped: float = HOLD_UNMAPPED_SECONDS,
        silence_timeout: float = 0.25,
        chunk_frames: int = 5,
    ) -> None:
        self.guild_id = guild_id
        self._chunk_frames = max(1, chunk_frames)
        self.cipher: TransportCipher | None = None
        self._dave = dave
        self._diag = diagnostics
        self._publish = publish
        self._sink = sink
        self._reorder_depth = reorder_depth
        self._hold_unmapped = hold_unmapped
        self._silence_timeout = silence_timeout
        self._users: dict[int, int] = {}
        self._speakers: dict[int, _Speaker] = {}
        self._unmapped: dict[int, deque[_Held]] = {}
        self._pending_work = asyncio.Event()
        """Set while a talk spurt may need ending or held packets expiring (see tick)."""

    def map_ssrc(self, ssrc: int, user_id: int) -> None:
        """Op 5: ``ssrc`` carries ``user_id``'s audio; release packets held for it."""
        if self._users.get(ssrc) == user_id:
            return
        self._users[ssrc] = user_id
        self._end_speech(ssrc)  # the SSRC's previous user, if any, has stopped
        self._speakers.pop(ssrc, None)
        # A new member's stream starts at its own sequence number: the previous
        # member's loss and jitter counters would turn that jump into "losses".
        self._diag.forget_stream(ssrc)
        for held in self._unmapped.pop(ssrc, ()):
            self._deliver(ssrc, user_id, held)

    def forget_user(self, user_id: int) -> None:
        """Op 13: drop a departed member's streams."""
        for ssrc in [s for s, u in self._users.items() if u == user_id]:
            self._end_speech(ssrc)
            del self._users[ssrc]
            self._speakers.pop(ssrc, None)
            self._diag.forget_stream(ssrc)  # else every join of a busy channel adds a row
        self._sink.end_speaker(user_id)

    def speaking_flag(self, ssrc: int, speaking: bool) -> None:
        """Op 5 ``speaking: 0`` ends a talk spurt at once."""
        if not speaking:
            self._end_speech(ssrc)

    def feed(self, packet: bytes) -> None:
        """Process one datagram (called from the UDP reader, must not raise)."""
        diag = self._diag
        diag.packets_in += 1
        diag.bytes_in += len(packet)
        if is_rtcp(packet):
            diag.rtcp_dropped += 1
            return
        cipher = self.cipher
        try:
            header = parse_header(packet)
        except VoiceError:
            diag.foreign_dropped += 1
            return
        if header.payload_type != OPUS_PAYLOAD_TYPE or cipher is None:
            diag.foreign_dropped += 1
            return
        try:
            plaintext = cipher.decrypt(packet, header.size)
            frame = strip_extension_and_padding(header, plaintext)
        except VoiceError:
            diag.decrypt_failed("transport")
            return
        held = _Held(time.monotonic(), header.sequence, header.timestamp, frame)
        if not self._pending_work.is_set():
            self._pending_work.set()
        user_id = self._users.get(header.ssrc)
        if user_id is None:
            self._hold(header.ssrc, held)
            return
        self._deliver(header.ssrc, user_id, held)

    def _hold(self, ssrc: int, held: _Held) -> None:
        """Keep a packet of an unnamed SSRC until op 5 names it (bounded; see above)."""
        diag, unmapped = self._diag, self._unmapped
        queue = unmapped.get(ssrc)
        if queue is None:
            if len(unmapped) >= MAX_UNMAPPED_SSRCS:
                stalest = min(unmapped, key=lambda s: unmapped[s][-1].arrival)
                diag.unmapped_dropped += len(unmapped.pop(stalest))
            queue = unmapped[ssrc] = deque()
        while queue and (
            held.arrival - queue[0].arrival > self._hold_unmapped
            or len(queue) >= MAX_HELD_PER_SSRC
        ):
            queue.popleft()
            diag.unmapped_dropped += 1
        queue.append(held)

    def _deliver(self, ssrc: int, user_id: int, held: _Held) -> None:
        speaker = self._speakers.get(ssrc)
        if speaker is None:
            stats = self._diag.stream(ssrc)
            stats.user_id = user_id
            speaker = _Speaker(ssrc, user_id, stats, ReorderBuffer(self._reorder_depth))
            self._speakers[ssrc] = speaker
        speaker.stats.on_packet(held.sequence, held.timestamp, held.arrival)
        speaker.last_arrival = held.arrival
        before = speaker.reorder.duplicates, speaker.reorder.late
        ready = speaker.reorder.push(held.sequence, held.frame)
        speaker.stats.duplicates += speaker.reorder.duplicates - before[0]
        speaker.stats.late += speaker.reorder.late - before[1]
        self._play(speaker, ready)

    def _dave_decrypt(
        self, speaker: _Speaker, ready: list[tuple[int, bytes | None]]
    ) -> list[tuple[int, bytes | None]]:
        # DAVE decryption runs after reordering, in sequence order: davey's decryptor
        # rejects a frame older than the first one it saw from a sender, so a talk
        # spurt whose first two packets swapped places would lose its first frame.
        out: list[tuple[int, bytes | None]] = []
        for sequence, frame in ready:
            if frame is None:
                out.append((sequence, None))
                continue
            try:
                out.append((sequence, self._dave.decrypt(speaker.user_id, frame)))
            except DaveDecryptFailed as err:
                self._diag.decrypt_failed(f"dave_{err.kind}")
                logger.debug(
                    "DAVE decrypt failed for user {} seq {}: {}",
                    speaker.user_id, sequence, err.__cause__,
                )
                out.append((sequence, None))
        return out

    def _play(self, speaker: _Speaker, ready: list[tuple[int, bytes | None]]) -> None:
        gap: list[int] = []
        for sequence, opus in self._dave_decrypt(speaker, ready):
            if opus is None:
                gap.append(sequence)
                continue
            if gap:
                self._conceal(speaker, gap, opus)
                gap = []
            self._queue(speaker, sequence, opus, None)
        if gap:  # only after a frame that failed DAVE: nothing follows it yet
            self._conceal(speaker, gap, None)

    def _conceal(self, speaker: _Speaker, gap: list[int], following: bytes | None) -> None:
        """Queue concealment for the lost frames ``gap``, which ``following`` ends.

        A packet's in-band FEC (LBRR) describes only the frame just before it: only
        the gap's last frame is rebuilt from it, the others get plain loss
        concealment. Placing it in every lost frame puts a later frame's sound where
        the earlier ones belong (1-4 dB worse over the gaps). Past ``MAX_CONCEALED_PER_GAP``
        the middle of the gap is left out, so the FEC frame still leads into the
        packet it came with.
        """
        if len(gap) > MAX_CONCEALED_PER_GAP:
            gap = gap[: MAX_CONCEALED_PER_GAP - 1] + gap[-1:]
        speaker.stats.concealed += len(gap)
        for sequence in gap[:-1]:
            self._queue(speaker, sequence, None, None)
        self._queue(speaker, gap[-1], None, following)

    def _queue(
        self, speaker: _Speaker, sequence: int, opus: bytes | None, fec: bytes | None
    ) -> None:
        if not speaker.speaking:
            speaker.speaking = True
            self._publish(VoiceSpeakingStarted(
                guild_id=self.guild_id, user_id=speaker.user_id, ssrc=speaker.ssrc
            ))
        speaker.frames += 1
        speaker.chunk.append((sequence, opus, fec))
        if len(speaker.chunk) >= self._chunk_frames:
            self._publish_chunk(speaker)

    def _publish_chunk(self, speaker: _Speaker) -> None:
        if not speaker.chunk:
            return
        decoder, pcm = speaker.decoder, []
        for _sequence, opus, following in speaker.chunk:
            if opus is None:
                pcm.append(decoder.conceal(following))
                continue
            try:
                pcm.append(decoder.decode(opus))
            except VoiceError:
                speaker.stats.decode_errors += 1
        sequence = speaker.chunk[0][0]
        speaker.chunk.clear()
        if pcm:
            self._sink.deliver(AudioChunk(
                guild_id=self.guild_id, user_id=speaker.user_id, pcm=b"".join(pcm),
                sequence=sequence,
            ))

    async def wait_for_work(self) -> None:
        """Return once audio arrived that :meth:`tick` will have to look after.

        Lets the connection's ticker sleep while nobody speaks instead of waking up
        ten times a second for nothing.
        """
        await self._pending_work.wait()

    def tick(self, now: float | None = None) -> None:
        """End talk spurts of speakers silent for longer than the silence timeout."""
        now = time.monotonic() if now is None else now
        for ssrc, speaker in list(self._speakers.items()):
            # A spurt's first packet waits for the next one (see ReorderBuffer): if
            # none comes, it is a spurt of its own, over by now.
            active = speaker.speaking or speaker.reorder.starting
            if active and now - speaker.last_arrival > self._silence_timeout:
                self._end_speech(ssrc)
        for ssrc, queue in list(self._unmapped.items()):
            if queue and now - queue[-1].arrival > self._hold_unmapped:
                self._diag.unmapped_dropped += len(queue)
                logger.debug("dropped {} packets of unmapped SSRC {}", len(queue), ssrc)
                del self._unmapped[ssrc]
        if not self._unmapped and not any(
            s.speaking or s.reorder.starting for s in self._speakers.values()
        ):
            self._pending_work.clear()

    def close(self) -> None:
        """End every talk spurt (the connection is closing): deliver what is held."""
        for ssrc in list(self._speakers):
            self._end_speech(ssrc)

    def _end_speech(self, ssrc: int) -> None:
        speaker = self._speakers.get(ssrc)
        if speaker is None:
            return
        self._play(speaker, speaker.reorder.flush())
        self._publish_chunk(speaker)
        speaker.stats.end_spurt()
        if speaker.speaking:
            speaker.speaking = False
            self._publish(VoiceSpeakingStopped(
                guild_id=self.guild_id, user_id=speaker.user_id, ssrc=ssrc
            ))
