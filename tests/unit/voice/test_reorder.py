"""Per-SSRC reorder buffer: wrap at 65535, loss, duplicates, late packets."""

from __future__ import annotations

from libra.discord.voice.reorder import ReorderBuffer


def _feed(buffer: ReorderBuffer, sequences: list[int]) -> list[tuple[int, bytes | None]]:
    out: list[tuple[int, bytes | None]] = []
    for seq in sequences:
        out += buffer.push(seq, seq.to_bytes(2, "big"))
    return out


def test_in_order_packets_pass_straight_through() -> None:
    buffer = ReorderBuffer(depth=3)
    assert [s for s, _ in _feed(buffer, [10, 11, 12])] == [10, 11, 12]


def test_reordered_packets_come_out_sorted_across_the_wrap() -> None:
    buffer = ReorderBuffer(depth=3)
    out = _feed(buffer, [65533, 65535, 65534, 1, 0, 2])
    assert [s for s, _ in out] == [65533, 65534, 65535, 0, 1, 2]
    assert all(frame == s.to_bytes(2, "big") for s, frame in out)
    assert buffer.lost == 0


def test_a_lost_packet_is_declared_after_depth_newer_arrivals() -> None:
    buffer = ReorderBuffer(depth=2)
    out = _feed(buffer, [65534, 65535, 1, 2])  # 0 never arrives
    assert [s for s, _ in out] == [65534, 65535]
    out = _feed(buffer, [3])
    assert out[0] == (0, None)
    assert [s for s, _ in out] == [0, 1, 2, 3]
    assert buffer.lost == 1


def test_duplicates_and_late_packets_are_dropped() -> None:
    buffer = ReorderBuffer(depth=3)
    out = _feed(buffer, [100, 102, 102, 101, 101, 99])
    assert [s for s, _ in out] == [100, 101, 102]
    # A copy of a packet already played is a duplicate, not late: counting it as
    # late also hid a loss (the stats subtract duplicates from what was received).
    assert buffer.duplicates == 2  # the second 102 (held) and the second 101 (played)
    assert buffer.late == 1  # 99, older than the stream's start


def test_a_copy_of_the_last_packet_after_a_flush_is_a_duplicate() -> None:
    buffer = ReorderBuffer(depth=3)
    _feed(buffer, [10, 11])
    buffer.flush()
    assert _feed(buffer, [11]) == []  # not replayed as the start of a new spurt
    assert buffer.duplicates == 1


def test_flush_releases_held_packets_and_next_spurt_starts_fresh() -> None:
    buffer = ReorderBuffer(depth=3)
    _feed(buffer, [5, 7])
    assert buffer.flush() == [(5 + 1, None), (7, (7).to_bytes(2, "big"))]
    # After a talk spurt, a jump in sequence is not waited on as a gap.
    assert [s for s, _ in _feed(buffer, [20])] == [20]


def test_restarted_stream_does_not_conceal_a_thousand_frames() -> None:
    buffer = ReorderBuffer(depth=3)
    _feed(buffer, [1, 2])
    out = _feed(buffer, [30000])
    assert [s for s, _ in out] == [30000]
