"""``LIBRA_DATABASE__PASSWORD(_FILE)``: the Docker-secret password joins ``DATABASE_URL``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from libra.config_sources import load_settings
from libra.errors import ConfigError

PASSWORD = "p@ss:w/rd#ü 1"
"""Every character a URL would need encoded, as the postgres image reads it raw."""


def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "db_password"
    path.write_text(PASSWORD + "\n")  # as `echo ... > file` leaves it
    return path


def test_the_password_file_completes_a_url_without_password(tmp_path: Path) -> None:
    settings = load_settings(env={
        "DATABASE_URL": "postgresql://libra@postgres:5432/libra",
        "LIBRA_DATABASE__PASSWORD_FILE": str(secret_file(tmp_path))})
    assert settings.database.url is not None
    parts = urlsplit(settings.database.url.get_secret_value())
    assert (parts.username, parts.hostname, parts.port, parts.path) == (
        "libra", "postgres", 5432, "/libra")
    assert parts.password is not None and unquote(parts.password) == PASSWORD
    # Redacted verbatim wherever it could be printed, and masked in `libra config show`.
    assert PASSWORD in settings.secret_values()
    assert PASSWORD not in str(settings.masked())


@pytest.mark.parametrize(("env", "words"), [
    ({"DATABASE_URL": "postgresql://libra:other@postgres/libra"}, "keep it in one place"),
    ({"DATABASE_URL": "postgresql://postgres/libra"}, "needs a user name"),
    ({}, "database.url is not"),
])
def test_a_password_that_cannot_be_used_is_a_clear_error_that_never_shows_it(
    tmp_path: Path, env: dict[str, str], words: str
) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        load_settings(env={**env, "LIBRA_DATABASE__PASSWORD_FILE": str(secret_file(tmp_path))})
    assert "p@ss" not in str(caught.value) and "other" not in str(caught.value)


def test_without_a_password_setting_the_url_is_unchanged() -> None:
    settings = load_settings(env={"DATABASE_URL": "postgresql://libra:pw@db/libra"})
    assert settings.database.url is not None
    assert settings.database.url.get_secret_value() == "postgresql://libra:pw@db/libra"
    assert load_settings(env={}).database.url is None
