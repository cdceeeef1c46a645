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
    # After a talk spurt, a jump in sequence is not waited on as a gap (the first
    # packet only waits for the next one, which might precede it).
    assert [s for s, _ in _feed(buffer, [20, 21])] == [20, 21]


def test_restarted_stream_does_not_conceal_a_thousand_frames() -> None:
    buffer = ReorderBuffer(depth=3)
    _feed(buffer, [1, 2])
    out = _feed(buffer, [30000])
    assert [s for s, _ in out] == [30000]


def test_a_first_packet_arriving_second_is_played_first() -> None:
    buffer = ReorderBuffer(depth=3)
    # The stream's first packet waits for the next one, which may precede it...
    assert _feed(buffer, [2]) == []
    assert [s for s, _ in _feed(buffer, [1])] == [1, 2]
    # ...and nothing after the start waits: in order means straight through.
    assert [s for s, _ in _feed(buffer, [3])] == [3]
    assert buffer.late == 0 and buffer.lost == 0


def test_the_start_of_each_talk_spurt_is_reordered_too() -> None:
    buffer = ReorderBuffer(depth=3)
    _feed(buffer, [10, 11])
    buffer.flush()  # silence; the sender's sequence carries on from 11
    assert _feed(buffer, [13]) == []
    assert [s for s, _ in _feed(buffer, [12])] == [12, 13]
    buffer.flush()
    # The packet right after the last one played needs no wait: nothing can precede it.
    assert [s for s, _ in _feed(buffer, [14])] == [14]
    assert buffer.late == 0 and buffer.lost == 0


def test_a_straggler_of_the_previous_spurt_does_not_start_the_next() -> None:
    buffer = ReorderBuffer(depth=3)
    _feed(buffer, [5, 6, 8])
    assert buffer.flush() == [(7, None), (8, (8).to_bytes(2, "big"))]
    assert _feed(buffer, [7]) == []  # too late: 7 was concealed already
    assert buffer.late == 1
    assert [s for s, _ in _feed(buffer, [9])] == [9]


def test_a_lone_first_packet_comes_out_at_the_end_of_the_spurt() -> None:
    buffer = ReorderBuffer(depth=3)
    assert _feed(buffer, [40]) == []
    assert buffer.starting
    assert [s for s, _ in buffer.flush()] == [40]
    assert not buffer.starting
