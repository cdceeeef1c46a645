"""Unreachable servers, TLS mode selection and DSN redaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from libra import cli
from libra.config import DatabaseSettings
from libra.config_urls import redact_url
from libra.errors import DatabaseUnavailable, LibraError
from libra.storage import migrate
from libra.storage.db import Database, with_sslmode

UNREACHABLE = "postgresql://libra:s3cret-pw@127.0.0.1:1/libra"


async def test_unreachable_server_is_database_unavailable(tmp_path: Path) -> None:
    settings = DatabaseSettings(url=SecretStr(UNREACHABLE), connect_timeout=3)
    with pytest.raises(DatabaseUnavailable) as info:
        await Database.open(settings, data_dir=tmp_path)
    err = info.value
    assert err.code == "db_unavailable"
    assert "127.0.0.1:1" in err.message and "s3cret-pw" not in str(err)
    assert "DATABASE_URL" in (err.hint or "")


def test_migrating_an_unreachable_server_is_database_unavailable() -> None:
    with pytest.raises(DatabaseUnavailable) as info:
        migrate.apply(UNREACHABLE.replace("postgresql://", "postgresql+psycopg://"))
    assert "s3cret-pw" not in str(info.value)


def test_cli_reports_unreachable_database_without_traceback(monkeypatch, capsys,
                                                            tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("LIBRA_DATABASE__CONNECT_TIMEOUT", "3")
    assert cli.main(["migrate", "status"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach PostgreSQL" in err and "Traceback" not in err
    assert "s3cret-pw" not in err


@pytest.mark.parametrize(
    ("url", "override", "expected"),
    [
        ("postgresql://u@h/db", None, "sslmode=prefer"),
        ("postgresql://u@h/db?sslmode=require", None, "sslmode=require"),
        ("postgresql://u@h/db?sslmode=require", "disable", "sslmode=disable"),
        ("postgresql://u@h/db?application_name=x&sslmode=verify-full", "prefer",
         "application_name=x&sslmode=prefer"),
        # Spaces stay %20: libpq would read "+" literally.
        ("postgresql://u@h/db?options=-c%20search_path%3Dx", None,
         "options=-c%20search_path%3Dx&sslmode=prefer"),
    ],
)
def test_sslmode_setting_beats_url_beats_default(url: str, override: str | None,
                                                 expected: str) -> None:
    result = with_sslmode(url, override)
    assert result.endswith(expected) and result.count("sslmode=") == 1


async def test_pool_and_yoyo_use_the_same_sslmode(pg_url: str, tmp_path: Path) -> None:
    url = with_sslmode(pg_url, "require")
    settings = DatabaseSettings(url=SecretStr(url), sslmode="disable")
    db = await Database.open(settings, data_dir=tmp_path)
    try:
        assert db.dsn.endswith("sslmode=disable")
        assert db.dsn_for_yoyo().endswith("sslmode=disable")
        assert await db.pool.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = "
                                      "pg_backend_pid()") is not True
        assert await migrate.apply_async(db.dsn_for_yoyo()) == migrate.migration_ids()
    finally:
        await db.close()


def test_redacted_dsn_hides_only_the_password() -> None:
    assert redact_url("postgresql://libra:pa%40ss@db:5432/libra?sslmode=require") == (
        "postgresql://libra:***@db:5432/libra?sslmode=require")
    assert redact_url("postgresql://libra@db/libra") == "postgresql://libra@db/libra"


def test_redacted_dsn_hides_a_password_given_as_query_parameter() -> None:
    assert redact_url("postgresql://libra@db/libra?password=s3cret&sslmode=require") == (
        "postgresql://libra@db/libra?password=***&sslmode=require")


async def test_unreachable_error_hides_a_query_parameter_password(tmp_path: Path) -> None:
    url = "postgresql://libra@127.0.0.1:1/libra?password=s3cret-pw"
    settings = DatabaseSettings(url=SecretStr(url), connect_timeout=3)
    with pytest.raises(DatabaseUnavailable) as info:
        await Database.open(settings, data_dir=tmp_path)
    assert "127.0.0.1:1" in info.value.message
    assert "s3cret-pw" not in str(info.value)


async def test_pool_commit_mode_follows_the_setting(
    pg_url: str, tmp_path: Path
) -> None:
    db = await Database.open(DatabaseSettings(url=SecretStr(pg_url)), data_dir=tmp_path)
    try:
        assert await db.pool.fetchval("SHOW synchronous_commit") == "off"
        assert await db.pool.fetchval("SHOW application_name") == "libra"
    finally:
        await db.close()
    db = await Database.open(DatabaseSettings(url=SecretStr(pg_url), synchronous_commit=None),
                             data_dir=tmp_path)
    try:
        assert await db.pool.fetchval("SHOW synchronous_commit") == "on"
    finally:
        await db.close()


@pytest.mark.parametrize("password", ["pw0rd1/s3cret2", "pw0rd1#s3cret2", "pw0rd1?s3cret2"])
def test_redacted_dsn_hides_a_password_with_unencoded_reserved_characters(
    password: str,
) -> None:
    # Generated passwords often hold "/" (base64); pasted unencoded into the URL it
    # ends the authority early, and the password used to be printed as host or path.
    shown = redact_url(f"postgresql://libra:{password}@db:5432/libra?sslmode=require")
    assert "pw0rd1" not in shown and "s3cret2" not in shown
    assert shown.startswith("postgresql://libra:***@db:5432/libra")
    # An "@" in a query value is not a broken password.
    azure = "postgresql://db:5432/libra?user=libra@myserver"
    assert redact_url(azure) == azure


@pytest.mark.parametrize("password", ["pw0rd1/s3cret2", "pw0rd1#s3cret2", "pw0rd1?s3cret2"])
def test_cli_never_echoes_a_password_that_breaks_the_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    password: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://libra:{password}@127.0.0.1:1/libra")
    monkeypatch.setenv("LIBRA_DATABASE__CONNECT_TIMEOUT", "3")
    assert cli.main(["migrate", "status"]) == 2  # a configuration error
    err = capsys.readouterr().err
    assert "pw0rd1" not in err and "s3cret2" not in err
    assert "percent-encode" in err


@pytest.mark.parametrize("password", ["my secret pass-7c1f", "pct%word-9e2b"])
def test_a_driver_error_never_quotes_the_password(pg_url: str, password: str) -> None:
    # libpq refuses a space or a bare "%" with an error quoting the password. Config
    # load encodes them, but a DSN that reaches the migrator another way must not leak.
    rest = pg_url.partition("://")[2]
    user, _, host = rest.partition("@")
    dsn = f"postgresql+psycopg://{user}:{password}@{host}"
    with pytest.raises(LibraError) as info:
        migrate.apply(dsn)
    assert password not in str(info.value)
    assert "***" in str(info.value)
