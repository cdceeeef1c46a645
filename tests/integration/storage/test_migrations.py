"""Schema migrations on an empty database, through the API and ``libra migrate``."""

from __future__ import annotations

import psycopg
import pytest

from libra import cli
from libra.errors import MigrationError
from libra.storage import migrate
from libra.storage.db import with_sslmode

TABLES = {"users", "guild_settings", "channel_settings", "sessions", "messages", "memories",
          "translations", "llm_calls", "voice_channels", "glossary_entries",
          "translate_opt_ins"}
ALL = migrate.migration_ids()
"""Every migration of the checkout, in apply order."""


def yoyo_dsn(url: str) -> str:
    return with_sslmode(url, None).replace("postgresql://", "postgresql+psycopg://", 1)


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables "
                            "WHERE table_schema = 'public'").fetchall()
    return {row[0] for row in rows} - {"_yoyo_log", "_yoyo_migration", "_yoyo_version",
                                       "yoyo_lock"}


def column_types(url: str, table: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = %s", (table,)).fetchall()
    return dict(rows)


def test_apply_status_rollback_reapply(pg_url: str) -> None:
    dsn = yoyo_dsn(pg_url)
    assert ALL[0] == "0001_schema"
    assert tables(pg_url) == set()
    assert migrate.status(dsn) == [(m, False) for m in ALL]

    assert migrate.apply(dsn) == ALL
    assert tables(pg_url) == TABLES
    assert migrate.status(dsn) == [(m, True) for m in ALL]
    assert migrate.apply(dsn) == []

    assert migrate.rollback(dsn, len(ALL)) == ALL[::-1]
    assert tables(pg_url) == set()
    assert migrate.status(dsn) == [(m, False) for m in ALL]
    assert migrate.rollback(dsn) == []

    assert migrate.apply(dsn) == ALL
    assert tables(pg_url) == TABLES


def test_discord_ids_are_bigint(pg_url: str) -> None:
    migrate.apply(yoyo_dsn(pg_url))
    assert column_types(pg_url, "users")["discord_id"] == "bigint"
    assert column_types(pg_url, "channel_settings")["guild_id"] == "bigint"
    assert column_types(pg_url, "sessions")["channel_id"] == "bigint"
    assert column_types(pg_url, "messages")["user_id"] == "integer"
    assert column_types(pg_url, "llm_calls")["guild_id"] == "bigint"


def test_missing_migrations_dir_is_a_clear_error(pg_url: str, tmp_path) -> None:
    with pytest.raises(MigrationError, match="no migrations found") as info:
        migrate.apply(yoyo_dsn(pg_url), tmp_path / "nowhere")
    assert "migrations_dir" in (info.value.hint or "")


def test_cli_migrate_status_and_rollback(pg_url: str, monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no config/libra.toml of the checkout
    monkeypatch.setenv("DATABASE_URL", pg_url)

    assert cli.main(["migrate", "status"]) == 0
    out = capsys.readouterr().out
    assert "0001_schema" in out and "pending" in out and f"0 applied, {len(ALL)} pending" in out

    assert cli.main(["migrate"]) == 0
    assert "applied  0001_schema" in capsys.readouterr().out
    assert cli.main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert cli.main(["migrate", "status"]) == 0
    assert f"{len(ALL)} applied, 0 pending" in capsys.readouterr().out
    assert tables(pg_url) == TABLES

    assert cli.main(["migrate", "rollback", "--count", str(len(ALL)), "--yes"]) == 0
    assert "rolled back  0001_schema" in capsys.readouterr().out
    assert tables(pg_url) == set()
