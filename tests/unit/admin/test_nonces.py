"""Nonces kept in a file: read back by the next run, compacted, never fatal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from loguru import logger

from libra.admin.nonces import LocalNonces, RedisNonces
from libra.errors import ConfigError

NONCE = "n" * 16
OTHER = "o" * 16


@contextmanager
def captured_logs(level: str) -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(f"{m.record['level'].name}|{m.record['message']}"),
                      level=level)
    try:
        yield lines
    finally:
        logger.remove(sink)


async def test_a_nonce_used_before_a_restart_stays_used(tmp_path: Path) -> None:
    path = tmp_path / "admin-nonces"
    first = LocalNonces(300, path)
    await first.open(now=1000)
    assert await first.use(NONCE, now=1000)
    await first.close()

    again = LocalNonces(300, path)
    await again.open(now=1100)
    assert not await again.use(NONCE, now=1100)
    assert await again.use(OTHER, now=1100)
    await again.close()
    assert path.stat().st_mode & 0o777 == 0o600


async def test_expired_and_torn_lines_are_dropped_when_read_back(tmp_path: Path) -> None:
    path = tmp_path / "admin-nonces"
    path.write_text(f"1500 {NONCE}\n900 {OTHER}\nnot a line\n17")  # last write torn
    nonces = LocalNonces(300, path)
    await nonces.open(now=1000)
    assert not await nonces.use(NONCE, now=1000)
    assert await nonces.use(OTHER, now=1000)  # expired at 900: usable again
    await nonces.close()
    assert sorted(path.read_text().split()) == sorted(["1500", NONCE, "1600", OTHER])


async def test_a_corrupted_file_never_stops_the_start(tmp_path: Path) -> None:
    # A bad byte (disk, a crash mid-write, a hand edit) once made the file unreadable
    # as ASCII on rewrite: the admin plugin failed and with it the whole start.
    path = tmp_path / "admin-nonces"
    path.write_bytes(f"1500 {NONCE}\n1500 bad\xffbyte{'x' * 16}\ninf {'i' * 16}\n"
                     f"1e400 {'e' * 16}\n1500 short\n1500 {'s' * 16} extra\n".encode())
    nonces = LocalNonces(300, path)
    await nonces.open(now=1000)
    assert not await nonces.use(NONCE, now=1000)
    assert await nonces.use(OTHER, now=1000)
    await nonces.close()
    assert sorted(path.read_text().split()) == sorted(["1500", NONCE, "1600", OTHER])


async def test_a_nonce_read_back_expires_within_its_window(tmp_path: Path) -> None:
    # An expiry far ahead (a clock that was wrong when it was written) would hold the
    # nonce forever and, first in line, stop every later one from ever expiring.
    path = tmp_path / "admin-nonces"
    path.write_text(f"99999999999 {NONCE}\n")
    nonces = LocalNonces(5, path)
    await nonces.open(now=1000)
    assert not await nonces.use(NONCE, now=1000)
    for i in range(3000):
        assert await nonces.use(f"nonce-{i:010d}", now=1000.0 + i)
    assert await nonces.use(NONCE, now=5000)
    await nonces.close()
    assert len(path.read_text().splitlines()) < 1200


async def test_the_file_is_compacted_as_nonces_expire(tmp_path: Path) -> None:
    path = tmp_path / "admin-nonces"
    nonces = LocalNonces(5, path)
    await nonces.open(now=0)
    for i in range(3000):
        assert await nonces.use(f"nonce-{i:010d}", now=float(i))
    await nonces.close()
    assert len(path.read_text().splitlines()) < 1200


async def test_an_unusable_file_leaves_the_nonces_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "admin-nonces"
    path.mkdir()  # a folder where the file should be
    nonces = LocalNonces(300, path)
    with captured_logs("WARNING") as lines:
        await nonces.open(now=1000)
    assert len(lines) == 1 and "restart forgets them" in lines[0]
    assert await nonces.use(NONCE, now=1000)
    assert not await nonces.use(NONCE, now=1001)
    await nonces.close()


def test_an_unusable_redis_url_is_refused_without_quoting_it() -> None:
    # redis-py's own error quotes the part of a password it took for the port.
    with pytest.raises(ConfigError) as refused:
        RedisNonces("redis://:s3cr/et@127.0.0.1:6379/0", ttl=300, namespace="x")
    assert "s3cr" not in str(refused.value)
    assert "percent-encode" in str(refused.value)
