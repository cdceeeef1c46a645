"""The failed-authentication log: at once for the first, then a count a minute."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from loguru import logger

from libra.admin.throttle import OTHER_ADDRESSES, FailureLog


@contextmanager
def captured_logs(level: str) -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(f"{m.record['level'].name}|{m.record['message']}"),
                      level=level)
    try:
        yield lines
    finally:
        logger.remove(sink)


async def test_one_line_at_once_then_one_count_per_interval() -> None:
    reported = asyncio.Event()
    sink = logger.add(lambda m: reported.set() if "in the last" in m else None,
                      level="WARNING")
    log = FailureLog(interval=0.05)
    try:
        with captured_logs("WARNING") as lines:
            for i in range(10):
                log.add("10.0.0.1", "auth_invalid" if i % 2 else "signature_invalid",
                        throttled=i >= 6)
            log.add("10.0.0.2", "login_failed", throttled=False)
            assert len(lines) == 2  # one per address, now
            await asyncio.wait_for(reported.wait(), 5)
            log.close()
    finally:
        logger.remove(sink)
    summary = [line for line in lines if "in the last" in line]
    assert summary == ["WARNING|9 failed admin authentications from 10.0.0.1 in the last "
                       "0.05 s (auth_invalid 5, signature_invalid 4); 4 answered 429"]
    assert len(lines) == 3  # the quiet second address adds nothing


async def test_a_spray_of_addresses_gives_bounded_lines() -> None:
    log = FailureLog(interval=60, max_clients=3)
    with captured_logs("WARNING") as lines:
        for i in range(100):
            log.add(f"10.0.1.{i}", "auth_missing", throttled=False)
        log.close()
    assert len(lines) == 5  # three addresses, then "other addresses" once and its count
    assert OTHER_ADDRESSES in lines[3] and "96 failed" in lines[4]
