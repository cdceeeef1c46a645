"""What the embedded PostgreSQL needs from the host: a user, reachable paths, a private socket.

PostgreSQL refuses to run as root, so under root the server runs as a system user of
its own. Every change made to the host for it is logged as a WARNING that names what
changed: creating that user, and giving it search permission (``x``, never listing)
on a folder it could not otherwise pass through. The server's Unix socket, which
accepts every local connection without a password (``trust``), lives only in a folder
that the server user alone may enter.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from libra.errors import DatabaseUnavailable

SERVER_USER = "embedded_postgres"
"""The system user the server runs as under root (the name data directories already use)."""
SUN_PATH_MAX = 107
"""Longest Unix socket path Linux accepts: ``sun_path`` is 108 bytes with its NUL."""


@dataclass(frozen=True, slots=True)
class ServerUser:
    """The user the server processes run as."""

    name: str
    uid: int
    gid: int

    @property
    def is_current(self) -> bool:
        """Whether this is the user Libra runs as (so no switching is needed)."""
        return self.uid == os.geteuid()

    def run_as(self) -> dict[str, Any]:
        """``subprocess.run`` arguments that drop to this user (none when it is us)."""
        if self.is_current:
            return {}
        # Without group and extra_groups the child would keep root's groups.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def server_user() -> ServerUser:
    """Libra's own user; under root the dedicated system user, created when missing.

    Raises:
        DatabaseUnavailable: running as root and the user cannot be created.
    """
    if os.geteuid() != 0:
        try:
            name = pwd.getpwuid(os.geteuid()).pw_name
        except KeyError:  # an arbitrary uid (docker run --user 12345) has no passwd entry
            name = str(os.geteuid())
        return ServerUser(name, os.geteuid(), os.getegid())
    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:
        entry = _create_system_user(SERVER_USER)
    return ServerUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _create_system_user(name: str) -> pwd.struct_passwd:
    useradd = shutil.which("useradd")
    hint = (f"create a system user named {name}, run Libra as an ordinary user, or set "
            "DATABASE_URL to a server of your own")
    if useradd is None:
        raise DatabaseUnavailable(
            f"running as root, the embedded PostgreSQL needs a user of its own ({name}) "
            "and useradd is not installed to create it", hint=hint)
    result = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", name],
        capture_output=True, text=True, check=False)
    try:
        entry = pwd.getpwnam(name)  # another process may have created it meanwhile
    except KeyError:
        raise DatabaseUnavailable(
            f"could not create the system user {name} for the embedded PostgreSQL: "
            f"{result.stderr.strip() or f'useradd exited {result.returncode}'}",
            hint=hint) from None
    if result.returncode == 0:
        logger.warning("running as root: created the system user {} (uid {}) to run the "
                       "embedded PostgreSQL, which refuses to run as root", name, entry.pw_uid)
    return entry


def _search_bit(info: os.stat_result, user: ServerUser) -> int:
    """The permission bit that lets ``user`` pass through a folder with ``info``."""
    if info.st_uid == user.uid:
        return stat.S_IXUSR
    if info.st_gid == user.gid:
        return stat.S_IXGRP
    return stat.S_IXOTH


def make_traversable(path: Path, user: ServerUser, why: str) -> None:
    """Let ``user`` pass through ``path`` and every folder above it.

    Only the missing search bit is added (a 0700 folder becomes 0701: others may pass
    through to a name they know, not list it), and each change is logged as a WARNING.
    """
    if user.is_current:
        return
    for folder in (path, *path.parents):
        info = folder.stat()
        bit = _search_bit(info, user)
        if info.st_mode & bit:
            continue
        old = stat.S_IMODE(info.st_mode)
        folder.chmod(old | bit)
        logger.warning("gave the user {} search permission on {} ({} -> {}: it may pass "
                       "through to a name it knows, not list the folder) so that {}",
                       user.name, folder, oct(old), oct(old | bit), why)


def make_readable(tree: Path, user: ServerUser) -> None:
    """Let ``user`` read (and run) the files under ``tree``: the wheel's PostgreSQL install.

    An ordinary ``pip install`` leaves them readable by all; a restrictive umask may not.
    """
    if user.is_current:
        return
    make_traversable(tree, user, "the embedded PostgreSQL can run its programs")
    changed_files = 0
    for root, dirs, files in os.walk(tree):
        for name in dirs:
            folder = Path(root, name)
            old = stat.S_IMODE(folder.stat().st_mode)
            if old & 0o005 != 0o005:
                folder.chmod(old | 0o005)
                logger.warning("made {} readable by all users ({} -> {}) so that the embedded "
                               "PostgreSQL can run its programs", folder, oct(old),
                               oct(old | 0o005))
        for name in files:
            file = Path(root, name)
            info = file.lstat()
            if not stat.S_ISREG(info.st_mode):
                continue
            old = stat.S_IMODE(info.st_mode)
            wanted = old | 0o004 | (0o001 if old & stat.S_IXUSR else 0)
            if wanted != old:
                file.chmod(wanted)
                changed_files += 1
    if changed_files:
        logger.warning("made {} file(s) under {} readable by all users so that the embedded "
                       "PostgreSQL can run its programs", changed_files, tree)


def socket_dir_for(pgdata: Path, user: ServerUser, port: int = 5432) -> Path:
    """A folder only ``user`` may enter, short enough to hold the server's socket.

    The data directory itself (mode 0700, owned by the server user) when the socket
    path fits in :data:`SUN_PATH_MAX`; otherwise ``libra-pg-<hash>`` in the temporary
    folder, created 0700 for the server user.

    Raises:
        DatabaseUnavailable: even the temporary folder's path is too long.
    """
    name = f".s.PGSQL.{port}"
    if len(os.fsencode(pgdata / name)) <= SUN_PATH_MAX:
        return pgdata
    digest = hashlib.sha256(os.fsencode(pgdata)).hexdigest()[:12]
    for base in dict.fromkeys((Path(tempfile.gettempdir()), Path("/tmp"))):
        folder = base / f"libra-pg-{digest}"
        if len(os.fsencode(folder / name)) <= SUN_PATH_MAX:
            return _claim_private_folder(folder, user)
    raise DatabaseUnavailable(
        f"the data directory {pgdata} is too long a path for the embedded PostgreSQL's "
        f"socket, and so is the temporary folder {tempfile.gettempdir()}",
        hint="set app.data_dir (LIBRA_DATA_DIR) to a shorter path, or TMPDIR to a short folder")


def _claim_private_folder(folder: Path, user: ServerUser) -> Path:
    """``folder`` as a 0700 directory owned by ``user``; a fresh one if someone else has it."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (user.uid, os.geteuid()):
        # Another local user (or a symlink) got there first: its owner could read or
        # replace the socket. A random name cannot be taken in advance.
        logger.warning("{} belongs to uid {}, not to Libra: the embedded PostgreSQL's socket "
                       "goes to a new private folder instead", folder, info.st_uid)
        folder = Path(tempfile.mkdtemp(prefix="libra-pg-", dir=folder.parent))
        info = folder.lstat()
    if not user.is_current and (info.st_uid, info.st_gid) != (user.uid, user.gid):
        os.chown(folder, user.uid, user.gid, follow_symlinks=False)
    if stat.S_IMODE(info.st_mode) != 0o700:
        folder.chmod(0o700)
    make_traversable(folder.parent, user, "the embedded PostgreSQL can create its socket")
    return folder
