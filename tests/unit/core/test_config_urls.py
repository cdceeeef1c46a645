"""Database and Redis URLs are checked once, at config load, and their passwords redacted."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from psycopg.conninfo import conninfo_to_dict

from libra.config_sources import load_settings
from libra.errors import ConfigError
from libra.logging import Redactor
from libra.storage.db import with_sslmode


@pytest.mark.parametrize("password", ["my secret pass", "pct%word-99", "100%", "tab\there"])
def test_both_drivers_read_the_password_as_written(password: str) -> None:
    # asyncpg unquotes the URL leniently; libpq (psycopg, yoyo) refused a space or a
    # bare "%" with an error quoting the password. One normalised URL serves both.
    settings = load_settings(env={
        "DATABASE_URL": f"postgresql://libra:{password}@db.example:5432/libra"})
    assert settings.database.url is not None
    url = settings.database.url.get_secret_value()
    assert conninfo_to_dict(url)["password"] == password  # libpq's own parser
    assert unquote(urlsplit(url).password or "") == password  # what asyncpg does


def test_an_encoded_password_is_left_alone() -> None:
    url = "postgresql://libra:a%2Fb%20c%25d@db.example/libra?sslmode=require"
    settings = load_settings(env={"DATABASE_URL": url})
    assert settings.database.url is not None
    assert settings.database.url.get_secret_value() == url


@pytest.mark.parametrize(
    ("name", "url", "secret"),
    [
        ("DATABASE_URL", "postgresql://libra:pw0rd1/s3cret2@db.example/libra", "s3cret2"),
        ("DATABASE_URL", "postgresql://libra:pw0rd1#s3cret2@db.example/libra", "s3cret2"),
        ("DATABASE_URL", "postgresql://libra:pw0rd1@s3cret2@db.example/libra", "s3cret2"),
        ("REDIS_URL", "redis://:pw0rd1/s3cret2@127.0.0.1:6379/0", "s3cret2"),
        ("REDIS_URL", "redis://:pw0rd1?s3cret2@127.0.0.1:6379/0", "s3cret2"),
        ("REDIS_URL", "redis://:pw0rd1#s3cret2@127.0.0.1:6379/0", "s3cret2"),
        ("REDIS_URL", "redis://u:pw0rd1@s3cret2@127.0.0.1:6379/0", "s3cret2"),
    ],
)
def test_a_url_whose_password_breaks_it_is_refused_at_load(name: str, url: str,
                                                            secret: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={name: url})
    message = str(info.value)
    key = "database.url" if name == "DATABASE_URL" else "redis.url"
    assert key in message and f"environment variable {name}" in message
    assert "percent-encode" in message
    assert secret not in message and "pw0rd1" not in message


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("redis://127.0.0.1:63x9/0", "port"),
        ("redis://127.0.0.1:6379/cache", "database number"),
    ],
)
def test_a_redis_url_that_cannot_work_is_refused_at_load(url: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={"REDIS_URL": url})
    assert "redis.url" in str(info.value) and words in str(info.value)


def test_valid_redis_urls_load() -> None:
    for url in ("redis://127.0.0.1:6379/0", "rediss://user:p%2Fw@cache.example",
                "redis://cache.example:6380"):
        settings = load_settings(env={"REDIS_URL": url})
        assert settings.redis.url is not None
        assert settings.redis.url.get_secret_value() == url


def test_the_decoded_password_of_every_configured_url_is_redacted() -> None:
    settings = load_settings(env={
        "DATABASE_URL": "postgresql://libra:db pass%2Fword@db.example/libra",
        "REDIS_URL": "redis://:redis%40pass@127.0.0.1:6379/0",
        "LIBRA_LLM__SERVERS": "https://proxy:llm%3Apass@ollama.example",
        "LANGFUSE_HOST": "https://u:langfuse%21pw@langfuse.example",
    })
    redact = Redactor(settings.secret_values())
    # The way a driver or library quotes a password in its error: decoded.
    for password in ("db pass/word", "redis@pass", "llm:pass", "langfuse!pw"):
        shown = redact(f"authentication failed for 'libra' with {password!r} (retrying)")
        assert password not in shown, password
    # The URL-encoded forms too, as they appear in a URL.
    assert "db%20pass%2Fword" not in redact("tried db%20pass%2Fword")


def test_the_host_of_a_database_url_without_a_password_stays_readable() -> None:
    # The whole URL was a configured secret, so "connecting to PostgreSQL at …" showed ***.
    url = "postgresql://libra@db.example:5432/libra"
    redact = Redactor(load_settings(env={"DATABASE_URL": url}).secret_values())
    assert redact(f"connecting to PostgreSQL at {url}…") == (
        f"connecting to PostgreSQL at {url}…")


@pytest.mark.parametrize("escape", ["%ff", "%C3%28", "%00"])
def test_a_password_escape_the_drivers_decode_differently_is_refused_at_load(
    escape: str
) -> None:
    # libpq refuses %00 and psycopg raised a bare UnicodeDecodeError (a traceback from
    # `libra migrate` and `libra doctor`) for bytes that are no UTF-8, while asyncpg
    # read such a password as something else again.
    url = f"postgresql://libra:pw0rd1{escape}x@db.example:5432/libra"
    with pytest.raises(ConfigError) as info:
        load_settings(env={"DATABASE_URL": url})
    message = str(info.value)
    assert "database.url" in message and "UTF-8" in message
    assert "pw0rd1" not in message


@pytest.mark.parametrize("bracket", ["[", "]"])
def test_a_bracket_in_the_password_is_refused_with_a_hint(bracket: str) -> None:
    # It was "Value error, Invalid IPv6 URL", which points nowhere near the password.
    for name, url in (("DATABASE_URL", f"postgresql://libra:pw0rd1{bracket}x@db/libra"),
                      ("REDIS_URL", f"redis://:pw0rd1{bracket}x@127.0.0.1:6379/0")):
        with pytest.raises(ConfigError) as info:
            load_settings(env={name: url})
        message = str(info.value)
        assert "%5B" in message and "pw0rd1" not in message
        assert "Invalid IPv6 URL" not in message


@pytest.mark.parametrize("port", ["99999", "54x"])
def test_a_database_port_that_cannot_work_is_refused_at_load(port: str) -> None:
    # 99999 reached asyncpg and ended `libra migrate` in an OverflowError traceback.
    with pytest.raises(ConfigError) as info:
        load_settings(env={"DATABASE_URL": f"postgresql://libra:pw0rd1@db:{port}/libra"})
    assert "database.url" in str(info.value) and "port" in str(info.value)
    assert "pw0rd1" not in str(info.value)


def test_several_database_hosts_with_ports_still_load() -> None:
    url = "postgresql://libra@db1:5432,db2:5433/libra?target_session_attrs=read-write"
    settings = load_settings(env={"DATABASE_URL": url})
    assert settings.database.url is not None
    assert settings.database.url.get_secret_value() == url


@pytest.mark.parametrize("tail", ["\r", "\n", " ", "\r\n"])
def test_whitespace_around_a_database_url_is_dropped(tail: str) -> None:
    # An env file with CRLF line ends leaves "\r" on the value: both drivers ignored it
    # until the URL was normalised, then it became %0D in the database name.
    url = "postgresql://libra:pw@db.example:5432/libra"
    settings = load_settings(env={"DATABASE_URL": f" {url}{tail}"})
    assert settings.database.url is not None
    assert settings.database.url.get_secret_value() == url


@pytest.mark.parametrize("password", ["a+b+c", "plus+and space", "p%2Bq"])
def test_both_drivers_read_a_query_password_with_a_plus_alike(password: str) -> None:
    # libpq (psql, pg_dump, the migrations) keeps a "+" in the query; asyncpg's parse_qs
    # and the sslmode rewrite read it as a space: with ?password=a+b+c a scram-sha-256
    # server that psql logged in to refused Libra.
    settings = load_settings(env={
        "DATABASE_URL": f"postgresql://libra@db.example/libra?password={password}"})
    assert settings.database.url is not None
    for url in (settings.database.url.get_secret_value(),
                with_sslmode(settings.database.url.get_secret_value(), None)):
        libpq = conninfo_to_dict(url)["password"]
        asyncpg = parse_qs(urlsplit(url).query, strict_parsing=True)["password"][0]
        assert asyncpg == libpq == unquote(password)


@pytest.mark.parametrize("name", ["libra", "postgres"])
def test_a_password_equal_to_the_user_name_does_not_blank_the_output(name: str) -> None:
    # postgresql://libra:libra@… (a common compose setup) masked every "libra" in
    # every message: 'role "***" does not exist', "run `*** migrate`", "***ql://".
    # The user name is shown by design, and so was this password all along.
    settings = load_settings(env={"DATABASE_URL": f"postgresql://{name}:{name}@db/{name}"})
    redact = Redactor(settings.secret_values())
    for text in (f'role "{name}" does not exist', "run `libra migrate`",
                 f"connecting to postgresql://{name}:***@db/{name}"):
        assert redact(text) == text
    assert redact(f"postgresql://{name}:{name}@db/x") == f"postgresql://{name}:***@db/x"


@pytest.mark.parametrize("url", [
    "host=db user=libra password=pw0rd1 dbname=libra",  # libpq's key=value form
    "postgresql+asyncpg://libra:pw0rd1@db/libra",  # SQLAlchemy's spelling
    "mysql://libra:pw0rd1@db/libra",
])
def test_a_database_url_of_another_kind_is_refused_at_load(url: str) -> None:
    # It reached asyncpg and came back as "cannot reach PostgreSQL at ***" with a hint
    # to check that the server runs (exit 1), though nothing was contacted.
    with pytest.raises(ConfigError) as info:
        load_settings(env={"DATABASE_URL": url})
    assert "postgresql://" in str(info.value) and "pw0rd1" not in str(info.value)


def test_the_postgres_scheme_is_accepted_too() -> None:
    settings = load_settings(env={"DATABASE_URL": "postgres://libra@db/libra"})
    assert settings.database.url is not None


def test_a_scheme_error_never_quotes_a_password() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={"DATABASE_URL": "libra:pw0rd1://x@db/libra"})
    assert "pw0rd1" not in str(info.value)


def test_one_redaction_serves_logs_settings_and_llm_servers() -> None:
    # Database logs, ``libra config show``, LLM server names and traces all go through
    # one helper: every one of them hides a query-parameter or a broken password too.
    from libra.config_urls import redact_url

    assert redact_url("http://proxy:s3cret@llm:11434") == "http://proxy:***@llm:11434"
    assert redact_url("http://llm:11434/?password=s3cret") == "http://llm:11434/?password=***"
    assert redact_url("redis://:pw@cache:6379/0", mask="********") == (
        "redis://:********@cache:6379/0")
    assert redact_url("http://proxy:s3cret@llm:11434", keep_user=False) == "http://llm:11434"
    broken = redact_url("postgresql://libra:pw0rd1/s3cret2@db/libra", mask="********")
    assert "pw0rd1" not in broken and "s3cret2" not in broken
    assert redact_url("http://llm:11434") == "http://llm:11434"
