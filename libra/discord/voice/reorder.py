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
    """

    def __init__(self, depth: int = 3) -> None:
        self.depth = depth
        self._next: int | None = None
        self._held: dict[int, bytes] = {}
        self._played: deque[int] = deque(maxlen=_PLAYED_KEPT)
        """Recently released frames (not gaps): a copy of one is a duplicate, not late."""
        self.duplicates = 0
        self.late = 0
        self.lost = 0

    def push(self, sequence: int, frame: bytes) -> list[tuple[int, bytes | None]]:
        """Add one packet; return what can be played now, in order (``None`` = lost)."""
        if sequence in self._played:
            # Checked first: after a flush a copy of the spurt's last packet would
            # otherwise start a "new" stream and be played twice.
            self.duplicates += 1
            return []
        if self._next is None:
            self._next = sequence
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
        if sequence in self._held:
            self.duplicates += 1
            return []
        self._held[sequence] = frame
        return self._drain()

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
        out: list[tuple[int, bytes | None]] = []
        while self._held and self._next is not None:
            frame = self._held.pop(self._next, None)
            if frame is None:
                self.lost += 1
            else:
                self._played.append(self._next)
            out.append((self._next, frame))
            self._next = (self._next + 1) & 0xFFFF
        # The next talk spurt starts wherever it starts; don't wait for a "gap".
        self._next = None
        return out
