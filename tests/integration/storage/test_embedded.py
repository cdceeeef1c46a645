"""The embedded server: started when no URL is set, and never left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from libra.config import DatabaseSettings
from libra.errors import ConfigError
from libra.storage import migrate
from libra.storage.db import Database
from libra.storage.embedded import EmbeddedPostgres
from libra.storage.repositories import PgStorage

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]

OPEN_AND_WAIT = """
import asyncio, sys
from pathlib import Path
from libra.config import DatabaseSettings
from libra.storage.db import Database

async def main() -> None:
    db = await Database.open(DatabaseSettings(), data_dir=Path(sys.argv[1]))
    await db.pool.fetchval("SELECT 1")
    print(db.embedded.postmaster_pid, db.embedded.socket_path, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not under pytest's tmp dir: each pytest run as root resets it to 0700, which
    # would lock out the server's own user while another run starts.
    root = Path(tempfile.mkdtemp(prefix="libra-test-embedded-"))
    yield root
    leftover = EmbeddedPostgres(root / "postgres").postmaster_pid
    if leftover and server_alive(leftover):
        psutil.Process(leftover).kill()
    shutil.rmtree(root, ignore_errors=True)


def server_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def start_libra(data_dir: Path) -> tuple[subprocess.Popen[str], int, Path]:
    child = subprocess.Popen([sys.executable, "-W", "error", "-c", OPEN_AND_WAIT,
                              str(data_dir)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert child.stdout is not None
    line = child.stdout.readline().split()
    assert len(line) == 2, f"the child did not open the database (exit {child.poll()})"
    return child, int(line[0]), Path(line[1])


def finish(child: subprocess.Popen[str], sig: signal.Signals) -> int:
    child.send_signal(sig)
    try:
        return child.wait(15)
    finally:
        if child.stdout is not None:
            child.stdout.close()


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while server_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_sigterm_stops_the_server(data_dir: Path) -> None:
    child, pid, socket = start_libra(data_dir)
    assert server_alive(pid) and socket.is_socket()
    assert str(data_dir) in " ".join(psutil.Process(pid).cmdline())

    assert finish(child, signal.SIGTERM) == -signal.SIGTERM
    assert wait_gone(pid), "postgres outlived Libra"
    assert not socket.exists()


def test_start_after_kill_9_reattaches_and_stops_on_exit(data_dir: Path) -> None:
    first, pid, socket = start_libra(data_dir)
    assert finish(first, signal.SIGKILL) == -signal.SIGKILL
    assert server_alive(pid), "the server should survive a kill -9 of its Libra"

    second, again_pid, again_socket = start_libra(data_dir)
    assert (again_pid, again_socket) == (pid, socket)  # reattached, not a second server
    assert finish(second, signal.SIGTERM) == -signal.SIGTERM
    assert wait_gone(pid), "the reattached Libra did not stop the server"
    assert not socket.exists()


async def test_open_use_close_in_process(data_dir: Path) -> None:
    db = await Database.open(DatabaseSettings(), data_dir=data_dir)
    assert db.is_embedded and db.embedded is not None
    pid = db.embedded.postmaster_pid
    assert "host=" in db.dsn_for_yoyo() and db.dsn_for_yoyo().startswith("postgresql+psycopg://")
    await migrate.apply_async(db.dsn_for_yoyo())
    storage = PgStorage(db.pool)
    user = await storage.ensure_user(5)
    await db.close()
    await db.close()
    db.stop_embedded()
    assert wait_gone(pid or -1)

    # The data survives a restart in the same process.
    db = await Database.open(DatabaseSettings(), data_dir=data_dir)
    try:
        assert db.embedded is not None and db.embedded.postmaster_pid != pid
        assert await PgStorage(db.pool).ensure_user(5) == user
    finally:
        await db.close()
    assert not server_alive(db.embedded.postmaster_pid)


@pytest.mark.skipif(os.geteuid() != 0, reason="the guard only applies when running as root")
async def test_data_dir_under_root_home_is_refused() -> None:
    with pytest.raises(ConfigError, match="root's home") as info:
        await Database.open(DatabaseSettings(), data_dir=Path("/root/libra-data"))
    assert "LIBRA_DATA_DIR" in (info.value.hint or "")
    assert not os.path.exists("/root/libra-data")  # noqa: ASYNC240
