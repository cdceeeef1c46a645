"""``libra migrate [status | rollback [--count N] [--yes]]``, and ``libra db``.

``libra db backup / restore`` live in :mod:`libra.storage.backup_cli`, registered here.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from collections.abc import Callable
from typing import TypeVar

from libra.commands import load
from libra.config import Settings
from libra.storage import backup_cli, migrate
from libra.storage.backup import without_password
from libra.storage.db import EMBEDDED_DATABASE, Database

T = TypeVar("T")


def _with_database(settings: Settings, action: Callable[[str], T],
                   then: Callable[[Database], None] | None = None) -> T:
    """Open the configured database (embedded or not), run ``action(yoyo_dsn)``, close.

    ``then(database)`` runs after ``action`` while the database is still open.
    """

    async def run() -> T:
        db_settings = settings.database.model_copy(update={"pool_min": 1, "pool_max": 1})
        db = await Database.open(db_settings, data_dir=settings.app.data_dir)
        try:
            result = await asyncio.to_thread(action, db.dsn_for_yoyo())
            if then is not None:
                then(db)
            return result
        finally:
            await db.close()

    return asyncio.run(run())


def _apply(args: argparse.Namespace) -> int:
    settings = load(args)
    folder, timeout = settings.database.migrations_dir, settings.database.connect_timeout
    applied = _with_database(
        settings, lambda dsn: migrate.apply(dsn, folder, connect_timeout=timeout))
    if applied:
        for migration_id in applied:
            print(f"applied  {migration_id}")
    else:
        print("database schema is up to date")
    return 0


def _status(args: argparse.Namespace) -> int:
    settings = load(args)
    folder, timeout = settings.database.migrations_dir, settings.database.connect_timeout
    rows = _with_database(
        settings, lambda dsn: migrate.status(dsn, folder, connect_timeout=timeout))
    width = max([len("MIGRATION"), *(len(mid) for mid, _ in rows)])
    print(f"{'MIGRATION':<{width}}  STATE")
    for migration_id, applied in rows:
        print(f"{migration_id:<{width}}  {'applied' if applied else 'pending'}")
    pending = sum(1 for _, applied in rows if not applied)
    print(f"{len(rows) - pending} applied, {pending} pending")
    return 0


def backup_hint(db: Database) -> str:
    """How to back up ``db`` with ``pg_dump`` (no password in it)."""
    dump = ["pg_dump", "--format=custom", "--file=libra-backup.dump"]
    if db.embedded is None:
        # The database as Libra reaches it, whatever variable or file named it; "$DATABASE_URL"
        # was empty when it came from DATABASE_URL_FILE, and pg_dump refuses asyncpg's ssl=.
        return ("Back up first: libra db backup\n"
                "or by hand (pg_dump asks for the password, or reads PGPASSWORD):\n"
                f"  {shlex.join([*dump, without_password(db.dsn)])}")
    command = shlex.join(db.embedded.pg_dump_command("libra-backup.dump", EMBEDDED_DATABASE))
    return ("Back up first: libra db backup\n"
            f"or by hand, while Libra runs (it starts the embedded server):\n  {command}\n"
            f"or, with Libra stopped, copy the folder {db.embedded.pgdata}")


def _print_plan(plan: list[migrate.RollbackStep], backup: str) -> None:
    print("Rolling back deletes these tables and every row in them:")
    for step in plan:
        dropped = ", ".join(f"{table} ({rows} row{'' if rows == 1 else 's'})"
                            for table, rows in step.dropped)
        # Columns a rollback drops are data too: without tables, point at the file.
        dropped = dropped or f"no table (read {step.migration_id}.rollback.sql for what it undoes)"
        print(f"  {step.migration_id}: {dropped}")
    print(backup)


def _confirmed() -> bool:
    """Ask on the terminal; only ``yes`` proceeds."""
    sys.stderr.write("Type yes to roll back, anything else cancels: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() == "yes"


def _rollback(args: argparse.Namespace) -> int:
    settings = load(args)
    folder, timeout = settings.database.migrations_dir, settings.database.connect_timeout
    count: int = args.count
    backup: list[str] = []
    plan = _with_database(
        settings, lambda dsn: migrate.rollback_plan(dsn, count, folder, connect_timeout=timeout),
        then=lambda db: backup.append(backup_hint(db)))
    if not plan:
        print("nothing to roll back")
        return 0
    _print_plan(plan, backup[0])
    sys.stdout.flush()
    if not args.yes:
        if not sys.stdin.isatty():
            print("libra: refusing to roll back without --yes: stdin is not a terminal to "
                  "ask on (back up first, then run it again with --yes)", file=sys.stderr)
            return 2
        if not _confirmed():
            print("nothing rolled back", file=sys.stderr)
            return 1
    expected = [step.migration_id for step in plan]
    undone = _with_database(settings, lambda dsn: migrate.rollback(
        dsn, count, folder, expected=expected, connect_timeout=timeout))
    for migration_id in undone:
        print(f"rolled back  {migration_id}")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        # Without this argparse names the function: "invalid _positive value".
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``migrate`` with its ``status`` and ``rollback`` actions."""
    parser = sub.add_parser("migrate", help="apply database migrations (or show, roll back)",
                            description="Without an action: apply pending migrations.")
    parser.set_defaults(handler=_apply)
    actions = parser.add_subparsers(dest="migrate_action", metavar="ACTION")
    status = actions.add_parser("status", help="list migrations, applied or pending")
    status.set_defaults(handler=_status)
    rollback = actions.add_parser(
        "rollback", help="roll back the latest migrations (deletes their tables and data)",
        description="Lists the tables and row counts a rollback deletes, then asks on a "
        "terminal; elsewhere --yes is required. Back up first (see the README).")
    rollback.add_argument("--count", type=_positive, default=1, metavar="N",
                          help="how many migrations to roll back (default 1)")
    rollback.add_argument("--yes", action="store_true",
                          help="do not ask: roll back even without a terminal")
    rollback.set_defaults(handler=_rollback)
    backup_cli.register(sub)
