"""Per-SSRC reordering of received RTP packets (16-bit sequence wrap-around aware)."""

from __future__ import annotations

from collections import deque

from libra.discord.voice.rtp import sequence_distance

_RESTART_DISTANCE = 1000
"""A forward jump this large is a restarted stream, not a burst of losses."""
_PLAYED_KEPT = 64
"""Sequence numbers of released frames remembered to tell duplicates from late packets."""


class ReorderBuffer:
    """Puts one SSRC's packets back in sequence order (16-bit wrap-around aware).

    Packets wait at most ``depth`` newer arrivals for a missing predecessor; then the
    gap is declared lost and yielded as ``None`` so the decoder can conceal it.

    A talk spurt's first packet has no known predecessor, so it waits for the next
    packet (one packet interval, 20 ms from a paced sender): if that one is older,
    the spurt starts there instead of dropping it as late. A sender's sequence runs
    on through silence, so the packet right after the last one played starts the
    next spurt at once; a lone packet comes out with :meth:`flush`.
    """

    def __init__(self, depth: int = 3) -> None:
        self.depth = depth
        self._next: int | None = None
        """The sequence number to release next; ``None`` before a talk spurt starts."""
        self._last: int | None = None
        """The last sequence number released by the previous talk spurt."""
        self._held: dict[int, bytes] = {}
        self._played: deque[int] = deque(maxlen=_PLAYED_KEPT)
        """Recently released frames (not gaps): a copy of one is a duplicate, not late."""
        self.duplicates = 0
        self.late = 0
        self.lost = 0

    @property
    def starting(self) -> bool:
        """Whether a talk spurt's first packet is held, waiting to see what precedes it."""
        return self._next is None and bool(self._held)

    def push(self, sequence: int, frame: bytes) -> list[tuple[int, bytes | None]]:
        """Add one packet; return what can be played now, in order (``None`` = lost)."""
        if sequence in self._played or sequence in self._held:
            # Checked first: after a flush a copy of the spurt's last packet would
            # otherwise start a "new" stream and be played twice.
            self.duplicates += 1
            return []
        if self._next is None:
            return self._push_start(sequence, frame)
        distance = sequence_distance(sequence, self._next)
        if distance < 0:
            self.late += 1
            return []
        if distance > _RESTART_DISTANCE:
            # A huge jump is a restarted stream, not a loss of a thousand packets.
            out = self.flush()
            self._next = sequence
            self._held[sequence] = frame
            return out + self._drain()
        self._held[sequence] = frame
        return self._drain()

    def _push_start(self, sequence: int, frame: bytes) -> list[tuple[int, bytes | None]]:
        last = self._last
        if last is not None and -_PLAYED_KEPT < sequence_distance(sequence, last) <= 0:
            # A straggler of the previous spurt, whose place was concealed already;
            # further back it is a sender that started over.
            self.late += 1
            return []
        out: list[tuple[int, bytes | None]] = []
        if self._held and abs(sequence_distance(sequence, self._first_held())) > _RESTART_DISTANCE:
            out = self.flush()  # the lone packet held belongs to another stream
        self._held[sequence] = frame
        if len(self._held) > 1 or (last is not None and sequence == (last + 1) & 0xFFFF):
            self._next = self._earliest_held()
            out += self._drain()
        return out

    def _first_held(self) -> int:
        return next(iter(self._held))

    def _earliest_held(self) -> int:
        first = self._first_held()
        return min(self._held, key=lambda s: sequence_distance(s, first))

    def _drain(self) -> list[tuple[int, bytes | None]]:
        out: list[tuple[int, bytes | None]] = []
        assert self._next is not None
        while self._held:
            frame = self._held.pop(self._next, None)
            if frame is None:
                if len(self._held) <= self.depth:
                    break
                self.lost += 1
                out.append((self._next, None))
            else:
                out.append((self._next, frame))
                self._played.append(self._next)
            self._next = (self._next + 1) & 0xFFFF
        return out

    def flush(self) -> list[tuple[int, bytes | None]]:
        """Release everything held (end of a talk spurt), gaps as ``None``."""
        if self._next is None:
            if not self._held:
                return []
            self._next = self._earliest_held()
        out: list[tuple[int, bytes | None]] = []
        while self._held:
            frame = self._held.pop(self._next, None)
            if frame is None:
                self.lost += 1
            else:
                self._played.append(self._next)
            out.append((self._next, frame))
            self._next = (self._next + 1) & 0xFFFF
        # The next talk spurt starts wherever it starts; don't wait for a "gap".
        self._last = (self._next - 1) & 0xFFFF
        self._next = None
        return out
