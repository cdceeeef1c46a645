"""Schema migrations with yoyo (psycopg 3), safe when several processes start at once.

Every operation first takes a PostgreSQL session advisory lock on its own
connection. The server releases that lock when the holder's connection dies, so a
killed migrator never blocks the next one; and because only the advisory-lock holder
ever takes yoyo's own table lock, any row left in ``yoyo_lock`` is stale and is
broken before use. Functions are blocking: call the ``*_async`` wrappers from async
code (they run in a thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from loguru import logger
from psycopg import sql
from yoyo import get_backend, read_migrations
from yoyo.exceptions import BadMigration, LockTimeout, MigrationConflict

from libra.config_urls import redact_url
from libra.errors import DatabaseUnavailable, MigrationError
from libra.storage.db import redact_error

ADVISORY_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"libra.migrations").digest()[:8], "big", signed=True
)
"""The ``pg_advisory_lock`` key every Libra migrator agrees on."""
DEFAULT_LOCK_TIMEOUT = 120.0
DEFAULT_CONNECT_TIMEOUT = 10.0


def default_migrations_dir() -> Path:
    """``migrations/`` at the repository (or image) root next to the ``libra`` package."""
    return Path(__file__).resolve().parents[2] / "migrations"


def find_migrations_dir(explicit: Path | None = None) -> Path:
    """The folder of migration files: ``explicit``, else the default, else ``./migrations``.

    Raises:
        MigrationError: the folder does not exist or holds no migrations.
    """
    # Next to the package in a checkout or image; the working directory when the
    # package was installed elsewhere (site-packages).
    candidates = [explicit] if explicit else [default_migrations_dir(), Path("migrations")]
    for candidate in candidates:
        folder = candidate.expanduser().resolve()
        if folder.is_dir() and any(folder.glob("*.sql")):
            return folder
    raise MigrationError(
        f"no migrations found in {' or '.join(str(c) for c in candidates)}",
        hint="set database.migrations_dir (LIBRA_DATABASE__MIGRATIONS_DIR) to the "
        "folder holding 0001_schema.sql",
    )


def migration_ids(migrations_dir: Path | None = None) -> list[str]:
    """Ids of the migration files, in apply order (no database needed)."""
    folder = find_migrations_dir(migrations_dir)
    return [m.id for m in read_migrations(str(folder))]


def _libpq_uri(dsn: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(scheme="postgresql"))


def _yoyo_uri(dsn: str, connect_timeout: float) -> str:
    # yoyo passes query parameters to psycopg.connect(): without connect_timeout its
    # connection to a host that went dark after the lock connection waits forever.
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k != "connect_timeout"]
    query.append(("connect_timeout", str(_libpq_seconds(connect_timeout))))
    return urlunsplit(parts._replace(scheme="postgresql+psycopg",
                                     query=urlencode(query, quote_via=quote)))


def _libpq_seconds(timeout: float) -> int:
    """Whole seconds for libpq's ``connect_timeout`` (it treats anything under 2 as 2)."""
    return max(2, math.ceil(timeout))


def _unreachable(dsn: str, err: Exception) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"cannot reach PostgreSQL at {redact_url(dsn)} to migrate: "
        f"{redact_error(err, dsn)}".strip(),
        hint="check DATABASE_URL, or unset it to use the embedded server",
    )


@contextlib.contextmanager
def _exclusive(dsn: str, lock_timeout: float, connect_timeout: float) -> Iterator[Any]:
    """Hold the advisory lock and yoyo's lock; yield a yoyo backend."""
    try:
        lock_conn = psycopg.connect(_libpq_uri(dsn), autocommit=True,
                                    connect_timeout=_libpq_seconds(connect_timeout))
    except psycopg.OperationalError as err:
        raise _unreachable(dsn, err) from err
    with lock_conn:
        try:
            lock_conn.execute("SELECT set_config('lock_timeout', %s, false)",
                              (f"{int(lock_timeout * 1000)}ms",))
            lock_conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        except psycopg.errors.LockNotAvailable as err:
            raise MigrationError(
                f"another process kept the migration lock for over {lock_timeout:g}s",
                hint="wait for the other Libra process to finish migrating, then retry",
            ) from err
        try:
            backend = get_backend(_yoyo_uri(dsn, connect_timeout))
        except psycopg.OperationalError as err:
            raise _unreachable(dsn, err) from err
        try:
            # Only the advisory-lock holder takes yoyo's lock, so a row there is stale.
            backend.break_lock()
            with backend.lock():
                yield backend
        finally:
            backend.connection.close()


def _run(dsn: str, lock_timeout: float, connect_timeout: float, action: str,
         body: Any) -> Any:
    try:
        with _exclusive(dsn, lock_timeout, connect_timeout) as backend:
            return body(backend)
    except (DatabaseUnavailable, MigrationError):
        raise
    except (BadMigration, LockTimeout, MigrationConflict, psycopg.Error) as err:
        # libpq's errors may quote the password (a URL it cannot parse).
        raise MigrationError(f"{action} failed: {redact_error(err, dsn)}",
                             hint="fix the database or the migration, then run "
                             "`libra migrate` again") from err


def apply(dsn: str, migrations_dir: Path | None = None, *,
          lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
          connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> list[str]:
    """Apply pending migrations; return the ids applied (empty when up to date).

    Raises:
        MigrationError: a migration failed or the lock could not be taken.
        DatabaseUnavailable: the server cannot be reached.
    """
    migrations = read_migrations(str(find_migrations_dir(migrations_dir)))

    def body(backend: Any) -> list[str]:
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
        return [m.id for m in pending]

    applied: list[str] = _run(dsn, lock_timeout, connect_timeout, "applying migrations", body)
    if applied:
        logger.info("applied migrations {} to {}", ", ".join(applied), redact_url(dsn))
    return applied


def status(dsn: str, migrations_dir: Path | None = None, *,
           lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
           connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> list[tuple[str, bool]]:
    """Every migration id with whether it is applied, in apply order."""
    migrations = read_migrations(str(find_migrations_dir(migrations_dir)))

    def body(backend: Any) -> list[tuple[str, bool]]:
        pending = {m.id for m in backend.to_apply(migrations)}
        return [(m.id, m.id not in pending) for m in migrations]

    result: list[tuple[str, bool]] = _run(dsn, lock_timeout, connect_timeout,
                                          "reading migration status", body)
    return result


@dataclass(frozen=True, slots=True, kw_only=True)
class RollbackStep:
    """One migration a rollback would undo, with the data it would destroy."""

    migration_id: str
    dropped: tuple[tuple[str, int], ...]
    """Tables its rollback drops that exist now, with their row counts."""


_DROP_TABLE = re.compile(
    r"\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?([^;]+?)\s*(?:CASCADE|RESTRICT)?\s*;", re.IGNORECASE)


def _dropped_tables(migration: Any) -> list[str]:
    """Tables named by ``DROP TABLE`` in a SQL migration's ``.rollback.sql`` file."""
    path = Path(migration.path).with_name(f"{migration.id}.rollback.sql")
    try:
        text = path.read_text()
    except OSError:
        return []
    return [name.strip().strip('"') for match in _DROP_TABLE.finditer(text)
            for name in match.group(1).split(",")]


def _row_counts(backend: Any, tables: list[str]) -> tuple[tuple[str, int], ...]:
    counts = []
    with backend.connection.cursor() as cursor:
        for table in tables:
            cursor.execute("SELECT to_regclass(%s)", (table,))
            found = cursor.fetchone()
            if found is None or found[0] is None:
                continue
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(*table.split("."))))
            row = cursor.fetchone()
            counts.append((table, int(row[0]) if row else 0))
    return tuple(counts)


def rollback_plan(dsn: str, count: int = 1, migrations_dir: Path | None = None, *,
                  lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
                  connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> list[RollbackStep]:
    """What ``rollback(dsn, count)`` would undo and the rows it would drop; changes nothing."""
    if count < 1:
        raise MigrationError(f"rollback count must be at least 1, not {count}")
    migrations = read_migrations(str(find_migrations_dir(migrations_dir)))

    def body(backend: Any) -> list[RollbackStep]:
        chosen = list(backend.to_rollback(migrations))[:count]
        return [RollbackStep(migration_id=m.id, dropped=_row_counts(backend, _dropped_tables(m)))
                for m in chosen]

    plan: list[RollbackStep] = _run(dsn, lock_timeout, connect_timeout,
                                    "reading what a rollback would undo", body)
    return plan


def rollback(dsn: str, count: int = 1, migrations_dir: Path | None = None, *,
             expected: Sequence[str] | None = None,
             lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
             connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> list[str]:
    """Roll back the last ``count`` applied migrations; return their ids.

    ``expected`` holds the ids the caller agreed to undo (from :func:`rollback_plan`);
    when the database moved on since, nothing is undone.

    Raises:
        MigrationError: the rollback failed, or the migrations to undo are not ``expected``.
    """
    if count < 1:
        raise MigrationError(f"rollback count must be at least 1, not {count}")
    migrations = read_migrations(str(find_migrations_dir(migrations_dir)))

    def body(backend: Any) -> list[str]:
        chosen = list(backend.to_rollback(migrations))[:count]
        if expected is not None and [m.id for m in chosen] != list(expected):
            raise MigrationError(
                f"the migrations to roll back changed to {[m.id for m in chosen]} while "
                f"you confirmed {list(expected)}; nothing was rolled back",
                hint="run `libra migrate status`, then roll back again")
        backend.rollback_migrations(chosen)
        return [m.id for m in chosen]

    undone: list[str] = _run(dsn, lock_timeout, connect_timeout, "rolling back migrations", body)
    if undone:
        logger.warning("rolled back migrations {} on {}", ", ".join(undone), redact_url(dsn))
    return undone


async def apply_async(dsn: str, migrations_dir: Path | None = None, *,
                      connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> list[str]:
    """:func:`apply` in a worker thread."""
    return await asyncio.to_thread(apply, dsn, migrations_dir,
                                   connect_timeout=connect_timeout)


async def status_async(dsn: str, migrations_dir: Path | None = None, *,
                       connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                       ) -> list[tuple[str, bool]]:
    """:func:`status` in a worker thread."""
    return await asyncio.to_thread(functools.partial(
        status, dsn, migrations_dir, connect_timeout=connect_timeout))


async def rollback_async(dsn: str, count: int = 1,
                         migrations_dir: Path | None = None) -> list[str]:
    """:func:`rollback` in a worker thread."""
    return await asyncio.to_thread(rollback, dsn, count, migrations_dir)
