"""``libra migrate``, ``libra migrate status``, ``libra migrate rollback [--count N]``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import TypeVar

from libra.commands import load
from libra.config import Settings
from libra.storage import migrate
from libra.storage.db import Database

T = TypeVar("T")


def _with_database(settings: Settings, action: Callable[[str], T]) -> T:
    """Open the configured database (embedded or not), run ``action(yoyo_dsn)``, close."""

    async def run() -> T:
        db_settings = settings.database.model_copy(update={"pool_min": 1, "pool_max": 1})
        db = await Database.open(db_settings, data_dir=settings.app.data_dir)
        try:
            return await asyncio.to_thread(action, db.dsn_for_yoyo())
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


def _rollback(args: argparse.Namespace) -> int:
    settings = load(args)
    folder, timeout = settings.database.migrations_dir, settings.database.connect_timeout
    count: int = args.count
    undone = _with_database(
        settings, lambda dsn: migrate.rollback(dsn, count, folder, connect_timeout=timeout))
    if not undone:
        print("nothing to roll back")
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
    rollback = actions.add_parser("rollback", help="roll back the latest migrations")
    rollback.add_argument("--count", type=_positive, default=1, metavar="N",
                          help="how many migrations to roll back (default 1)")
    rollback.set_defaults(handler=_rollback)
