"""Per-connection voice counters for ``/voice status``, metrics and logs."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from libra.discord.voice.rtp import sequence_distance

_JITTER_SMOOTHING = 16
"""RFC 3550's interarrival jitter filter constant."""
_RTP_RATE = 48_000
_BASE_REACH = 16
"""How far before the first packet to arrive a packet still moves a stream's start back;
an older one is a straggler (late), which must not turn into a burst of "losses"."""


@dataclass(slots=True)
class StreamStats:
    """Receive statistics for one SSRC (RFC 3550 style loss and jitter)."""

    ssrc: int
    user_id: int | None = None
    received: int = 0
    duplicates: int = 0
    late: int = 0
    concealed: int = 0
    decode_errors: int = 0
    jitter_rtp: float = 0.0
    base_seq: int | None = None
    highest_ext_seq: int = 0
    _transit: float | None = None

    def on_packet(self, sequence: int, timestamp: int, arrival: float) -> None:
        """Account one packet's arrival for the loss and jitter estimates."""
        self.received += 1
        if self.base_seq is None:
            self.base_seq = sequence
            self.highest_ext_seq = sequence
        else:
            delta = sequence_distance(sequence, self.highest_ext_seq & 0xFFFF)
            if delta > 0:
                self.highest_ext_seq += delta
            elif -_BASE_REACH <= (extended := self.highest_ext_seq + delta) - self.base_seq < 0:
                # The stream's first packets swapped places (the receiver plays them
                # in order): it starts at this one, not at the first to arrive.
                self.base_seq = extended
        transit = arrival * _RTP_RATE - timestamp
        if self._transit is not None:
            d = abs(transit - self._transit)
            # Timestamps wrap at 2**32: a jump that large is a wrap, not jitter.
            if d < 2**31:
                self.jitter_rtp += (d - self.jitter_rtp) / _JITTER_SMOOTHING
        self._transit = transit

    def end_spurt(self) -> None:
        """The talk spurt ended: the next packet's transit time is a fresh reference.

        Senders need not advance RTP timestamps through silence (ours and the fake
        peers' don't), so the pause itself would otherwise count as jitter.
        """
        self._transit = None

    @property
    def expected(self) -> int:
        """Packets expected from the sequence range seen."""
        if self.base_seq is None:
            return 0
        return self.highest_ext_seq - self.base_seq + 1

    @property
    def lost(self) -> int:
        """Packets never received (duplicates do not offset losses)."""
        return max(0, self.expected - (self.received - self.duplicates))

    @property
    def jitter_ms(self) -> float:
        """Interarrival jitter in milliseconds."""
        return self.jitter_rtp * 1000 / _RTP_RATE

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "ssrc": self.ssrc,
            "user_id": self.user_id,
            "received": self.received,
            "expected": self.expected,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "late": self.late,
            "concealed": self.concealed,
            "decode_errors": self.decode_errors,
            "jitter_ms": round(self.jitter_ms, 2),
        }


@dataclass(slots=True)
class VoiceDiagnostics:
    """Counters for one voice connection, shared by its parts."""

    guild_id: int
    started: float = field(default_factory=time.monotonic)
    packets_in: int = 0
    packets_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    rtcp_dropped: int = 0
    foreign_dropped: int = 0
    unmapped_dropped: int = 0
    frames_unsent_not_keyed: int = 0
    decrypt_failures: Counter[str] = field(default_factory=Counter)
    streams: dict[int, StreamStats] = field(default_factory=dict)
    mode: str | None = None
    dave_protocol_version: int = 0
    dave_epoch: int | None = None
    dave_privacy_code: str | None = None
    reconnects: Counter[str] = field(default_factory=Counter)
    pacing_late_ms_max: float = 0.0

    def stream(self, ssrc: int) -> StreamStats:
        """The stats of ``ssrc`` (created on first use)."""
        stats = self.streams.get(ssrc)
        if stats is None:
            stats = self.streams[ssrc] = StreamStats(ssrc)
        return stats

    def forget_stream(self, ssrc: int) -> None:
        """Drop the stats of ``ssrc`` (its member left, or the SSRC now carries another)."""
        self.streams.pop(ssrc, None)

    def decrypt_failed(self, kind: str) -> None:
        """Count one packet that failed to decrypt, by kind (``transport``, ``dave_*``)."""
        self.decrypt_failures[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready view for ``/voice status``, metrics and logs."""
        streams = [s.snapshot() for s in self.streams.values()]
        lost = sum(s["lost"] for s in streams)
        expected = sum(s["expected"] for s in streams)
        return {
            "guild_id": self.guild_id,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "mode": self.mode,
            "packets_in": self.packets_in,
            "packets_out": self.packets_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "rtcp_dropped": self.rtcp_dropped,
            "foreign_dropped": self.foreign_dropped,
            "unmapped_dropped": self.unmapped_dropped,
            "frames_unsent_not_keyed": self.frames_unsent_not_keyed,
            "decrypt_failures": dict(self.decrypt_failures),
            "dave": {
                "protocol_version": self.dave_protocol_version,
                "epoch": self.dave_epoch,
                "privacy_code": self.dave_privacy_code,
            },
            "loss_ratio": round(lost / expected, 4) if expected else 0.0,
            "jitter_ms_max": max((s["jitter_ms"] for s in streams), default=0.0),
            "reconnects": dict(self.reconnects),
            "pacing_late_ms_max": round(self.pacing_late_ms_max, 2),
            "streams": streams,
        }
