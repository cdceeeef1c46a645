"""Several Libra processes migrating one database at once, and a killed migrator."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from libra.storage import migrate
from libra.storage.db import with_sslmode

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
ALL = migrate.migration_ids()
"""Every migration of the checkout, in apply order."""

MIGRATE_AT = """
import sys, time
from libra.storage import migrate
start_at, dsn = float(sys.argv[1]), sys.argv[2]
time.sleep(max(0.0, start_at - time.time()))
print(",".join(migrate.apply(dsn)) or "-", flush=True)
"""

MIGRATE_FOREVER = """
import sys
from pathlib import Path
from libra.storage import migrate
migrate.apply(sys.argv[1], Path(sys.argv[2]))
"""


def yoyo_dsn(url: str) -> str:
    return with_sslmode(url, None).replace("postgresql://", "postgresql+psycopg://", 1)


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def test_six_processes_starting_at_once_migrate_exactly_once(pg_url: str) -> None:
    start_at = time.time() + 3.0  # every child is imported and waiting by then
    children = [
        subprocess.Popen([sys.executable, "-W", "error", "-c", MIGRATE_AT, str(start_at),
                          yoyo_dsn(pg_url)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=child_env(), cwd=REPO)
        for _ in range(6)
    ]
    results = [child.communicate(timeout=60) for child in children]
    assert [child.returncode for child in children] == [0] * 6, [err for _, err in results]
    outputs = sorted(out.strip() for out, _ in results)
    assert outputs == ["-"] * 5 + [",".join(ALL)]
    assert query(pg_url, "SELECT migration_id, operation FROM _yoyo_log") == [
        (migration, "apply") for migration in ALL]
    assert query(pg_url, "SELECT count(*) FROM _yoyo_migration") == [(len(ALL),)]
    assert query(pg_url, "SELECT count(*) FROM yoyo_lock") == [(0,)]


def test_libra_migrate_cli_in_six_processes(pg_url: str, tmp_path: Path) -> None:
    env = {**child_env(), "DATABASE_URL": pg_url}
    children = [
        subprocess.Popen([sys.executable, "-W", "error", "-m", "libra", "migrate"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         cwd=tmp_path)
        for _ in range(6)
    ]
    results = [child.communicate(timeout=60) for child in children]
    assert [child.returncode for child in children] == [0] * 6, [err for _, err in results]
    outputs = sorted(out.strip() for out, _ in results)
    assert outputs == (["\n".join(f"applied  {m}" for m in ALL)]
                       + ["database schema is up to date"] * 5)
    assert query(pg_url, "SELECT count(*) FROM _yoyo_log") == [(len(ALL),)]


async def test_killed_migrator_does_not_block_the_next_start(pg_url: str,
                                                             tmp_path: Path) -> None:
    # A migration set whose second step hangs, so the migrator can be killed mid-way.
    hanging = tmp_path / "migrations"
    shutil.copytree(migrate.default_migrations_dir(), hanging)
    for later in ALL[1:]:  # 0001 then the hang: what follows is applied after the kill
        for path in hanging.glob(f"{later}.*"):
            path.unlink()
    (hanging / "0002_hang.sql").write_text("SELECT pg_sleep(60);\n")
    dsn = yoyo_dsn(pg_url)
    child = subprocess.Popen(  # noqa: ASYNC220 (a process that must be killed mid-way)
        [sys.executable, "-c", MIGRATE_FOREVER, dsn, str(hanging)],
        env=child_env(), cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not query(pg_url, "SELECT 1 FROM pg_stat_activity WHERE query LIKE "
                                "'SELECT pg_sleep(60)%' AND datname = current_database()"):
            assert time.monotonic() < deadline, "the migrator never reached the hanging step"
            assert child.poll() is None
            await asyncio.sleep(0.1)
        assert query(pg_url, "SELECT count(*) FROM yoyo_lock") == [(1,)]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)

    t0 = time.monotonic()
    # 0001 went in before the kill; the rest goes in now, without waiting for a lock.
    assert await migrate.apply_async(dsn) == ALL[1:]
    assert await migrate.status_async(dsn) == [(m, True) for m in ALL]
    assert time.monotonic() - t0 < 5
    assert query(pg_url, "SELECT count(*) FROM yoyo_lock") == [(0,)]
