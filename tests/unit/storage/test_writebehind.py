"""The write-behind queue's spill file: order, torn lines, one owner per data directory."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from libra.storage.writebehind import (
    REJECTED_FILE,
    SPILL_FILE,
    PendingWrite,
    WriteBehindQueue,
    WriteKind,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _write(seconds: float, text: str) -> PendingWrite:
    return PendingWrite(kind=WriteKind.MESSAGE, at=T0 + timedelta(seconds=seconds),
                        data={"content": text})


async def test_queued_writes_are_on_disk_in_the_order_they_happened(tmp_path: Path) -> None:
    queue = WriteBehindQueue(tmp_path, max_writes=10)
    await queue.open()
    for seconds, text in ((1, "first"), (3, "third"), (2, "second (timed out late)")):
        assert await queue.put(_write(seconds, text))
    await queue.close()
    spill = tmp_path / SPILL_FILE
    assert stat.S_IMODE(spill.stat().st_mode) == 0o600  # conversations: Libra's user only
    again = WriteBehindQueue(tmp_path, max_writes=10)
    assert await again.open() == 3
    order = []
    while (head := again.peek()) is not None:
        order.append(head.data["content"])
        await again.done(head)
    assert order == ["first", "second (timed out late)", "third"]
    assert spill.read_text() == ""  # emptied once everything is stored
    await again.close()


async def test_a_torn_line_is_set_aside_and_the_others_are_kept(tmp_path: Path) -> None:
    good = _write(1, "kept").line()
    (tmp_path / SPILL_FILE).write_text(good + '{"kind": "message", "at": "2026-01-')
    queue = WriteBehindQueue(tmp_path, max_writes=10)
    assert await queue.open() == 1
    await queue.close()
    assert (tmp_path / SPILL_FILE).read_text() == good
    rejected = (tmp_path / REJECTED_FILE).read_text()
    assert '2026-01-' in rejected and "unreadable line" in rejected


async def test_a_second_queue_on_the_same_folder_keeps_its_writes_in_memory(
    tmp_path: Path,
) -> None:
    first = WriteBehindQueue(tmp_path, max_writes=10)
    await first.open()
    assert await first.put(_write(1, "on disk"))
    second = WriteBehindQueue(tmp_path, max_writes=10)
    await second.open()
    try:
        assert first.spill_path == tmp_path / SPILL_FILE
        assert second.spill_path is None  # it would replay and empty the first one's file
        assert len(second) == 0
        assert await second.put(_write(2, "memory only"))
        assert (tmp_path / SPILL_FILE).read_text() == _write(1, "on disk").line()
    finally:
        await second.close()
        await first.close()


async def test_no_file_is_made_until_a_write_has_to_wait(tmp_path: Path) -> None:
    queue = WriteBehindQueue(tmp_path / "data", max_writes=10)
    await queue.open()
    await queue.close()
    assert not (tmp_path / "data").exists()
