"""``libra db backup [FILE]`` and ``libra db restore FILE [--yes]``.

Both open the configured database the way ``libra migrate`` does (starting or joining
the embedded server when no URL is set), pick matching PostgreSQL programs
(:func:`libra.storage.backup.find_tools`) and print through the redacting streams, so
no password reaches the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from libra.commands import load
from libra.config import Settings
from libra.config_urls import redact_url
from libra.errors import BackupFailed
from libra.storage import backup, migrate
from libra.storage.db import Database

REFUSED = 2
"""Exit code when a restore is refused (like ``libra migrate rollback`` without --yes)."""


def default_backup_file(settings: Settings, now: datetime | None = None) -> Path:
    """``<data_dir>/backups/libra-YYYYMMDD-HHMMSS.dump`` (local time)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return settings.app.data_dir / "backups" / f"libra-{stamp}.dump"


async def _open(settings: Settings) -> Database:
    db_settings = settings.database.model_copy(update={"pool_min": 1, "pool_max": 1})
    return await Database.open(db_settings, data_dir=settings.app.data_dir)


async def _server_major(db: Database) -> int:
    number: Any = await db.pool.fetchval("SHOW server_version_num")
    return int(number) // 10000


async def _backup(settings: Settings, file: Path) -> int:
    db = await _open(settings)
    try:
        tools = await asyncio.to_thread(backup.find_tools, await _server_major(db), restore=False)
        print(f"backing up {redact_url(db.dsn)} to {file} with {tools}…", flush=True)
        done = await asyncio.to_thread(backup.dump, tools, db.dsn, file,
                                       connect_timeout=settings.database.connect_timeout)
    finally:
        await db.close()
    print(f"backup written: {done.file} ({backup.human_size(done.size)} in "
          f"{done.seconds:.1f} s)")
    return 0


async def _tables_with_rows(db: Database) -> list[str]:
    """User tables that hold at least one row (exact: statistics may lag behind)."""
    rows: Any = await db.pool.fetch(
        "SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' AND c.relname NOT LIKE '\\_yoyo%' "
        "AND c.relname <> 'yoyo_lock' ORDER BY 2")
    found = []
    for row in rows:
        if await db.pool.fetchval(f"SELECT EXISTS (SELECT 1 FROM {row['name']})"):
            found.append(str(row["relname"]))
    return found


async def _other_libra_connections(db: Database) -> int:
    count: Any = await db.pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND application_name = 'libra'")
    return int(count)


def _confirmed() -> bool:
    """Ask on the terminal; only ``yes`` proceeds."""
    sys.stderr.write("Type yes to replace it with the backup, anything else cancels: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() == "yes"


async def _restore(settings: Settings, file: Path, yes: bool) -> int:
    db = await _open(settings)
    try:
        major = await _server_major(db)
        tools = await asyncio.to_thread(backup.find_tools, major, restore=True)
        archive = await asyncio.to_thread(backup.read_archive, tools, file)
        others = await _other_libra_connections(db)
        if others:
            raise BackupFailed(
                f"Libra is connected to this database ({others} connection"
                f"{'' if others == 1 else 's'}): a restore under a running bot loses its writes",
                hint="stop Libra first (docker compose stop libra; systemctl stop libra), "
                "then restore")
        print(f"restoring {file} (made {archive.created} from PostgreSQL "
              f"{archive.dumped_from}; {len(archive.tables)} tables) into "
              f"{redact_url(db.dsn)} with {tools}", flush=True)
        holding = await _tables_with_rows(db)
        if holding and not yes:
            print(f"The database already holds data in {', '.join(holding)}; restoring "
                  "replaces it.", flush=True)
            if not sys.stdin.isatty():
                print("libra: refusing to overwrite the database without --yes: stdin is not "
                      "a terminal to ask on (back it up first: libra db backup)",
                      file=sys.stderr)
                return REFUSED
            if not await asyncio.to_thread(_confirmed):
                print("nothing restored", file=sys.stderr)
                return 1
        done = await asyncio.to_thread(backup.restore, tools, db.dsn, file,
                                       server_major=major,
                                       connect_timeout=settings.database.connect_timeout)
        print(f"restored {file} in {done.seconds:.1f} s")
        return await _check_migrations(settings, db)
    finally:
        await db.close()


async def _check_migrations(settings: Settings, db: Database) -> int:
    """Say whether the restored schema matches this Libra (it may be older or newer)."""
    folder = settings.database.migrations_dir
    rows = await migrate.status_async(db.dsn_for_yoyo(), folder,
                                      connect_timeout=settings.database.connect_timeout)
    known = {migration_id for migration_id, _ in rows}
    applied: Any = await db.pool.fetch(
        "SELECT migration_id FROM _yoyo_migration ORDER BY applied_at_utc")
    unknown = [str(r["migration_id"]) for r in applied if r["migration_id"] not in known]
    pending = [migration_id for migration_id, done in rows if not done]
    if unknown:
        print(f"libra: the backup has migrations this Libra does not know ({', '.join(unknown)}):"
              " it was made by a newer version; upgrade Libra before running it",
              file=sys.stderr)
        return 1
    if pending:
        print(f"migrations: {len(pending)} pending ({', '.join(pending)}): the backup is from "
              "an older Libra; `libra migrate` (or `libra run`) applies them")
    else:
        print(f"migrations: all {len(rows)} applied; the schema matches this Libra")
    return 0


def _backup_handler(args: argparse.Namespace) -> int:
    settings = load(args)
    file: Path = args.file or default_backup_file(settings)
    return asyncio.run(_backup(settings, file.expanduser()))


def _restore_handler(args: argparse.Namespace) -> int:
    settings = load(args)
    return asyncio.run(_restore(settings, args.file.expanduser(), args.yes))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``db`` with its ``backup`` and ``restore`` actions."""
    parser = sub.add_parser("db", help="back up or restore the database",
                            description="Backups use pg_dump's custom format.")
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    save = actions.add_parser(
        "backup", help="write the database to a file (pg_dump, custom format)",
        description="Works while Libra runs. The file is readable by its owner alone.")
    save.add_argument("file", nargs="?", type=Path, metavar="FILE",
                      help="where to write (default: <data_dir>/backups/"
                      "libra-YYYYMMDD-HHMMSS.dump)")
    save.set_defaults(handler=_backup_handler)
    load_back = actions.add_parser(
        "restore", help="replace the database's contents with a backup",
        description="Stop Libra first. Asks on a terminal before replacing a database that "
        "holds data; elsewhere --yes is required. Checks migrations afterwards.")
    load_back.add_argument("file", type=Path, metavar="FILE", help="a `libra db backup` file")
    load_back.add_argument("--yes", action="store_true",
                           help="do not ask: replace a database that holds data")
    load_back.set_defaults(handler=_restore_handler)
