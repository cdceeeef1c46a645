"""The connection pool, and the embedded server behind it when no URL is configured.

TLS is decided in one place, :func:`with_sslmode`, for both the asyncpg pool and the
psycopg DSN yoyo uses. DSNs are only ever logged through :func:`~libra.config_urls.redact_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import asyncpg
from loguru import logger

from libra.config import DatabaseSettings
from libra.config_urls import redact_url, url_passwords
from libra.errors import ConfigError, DatabaseUnavailable
from libra.logging import Redactor
from libra.storage.breaker import CircuitBreaker
from libra.storage.embedded import EmbeddedPostgres
from libra.storage.guarded import GuardedPool

EMBEDDED_DATABASE = "libra"
"""Database created on the embedded server (the ``postgres`` one stays untouched)."""
DEFAULT_SSLMODE = "prefer"
"""asyncpg's (and libpq's) default when neither the settings nor the URL say."""
_CLOSE_TIMEOUT = 5.0


SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
"""libpq's TLS modes, weakest first."""
_SSL_FLAGS = {"true": "require", "on": "require", "1": "require",
              "false": "disable", "off": "disable", "0": "disable"}


def _ssl_parameter(values: list[str]) -> str | None:
    """The sslmode an ``ssl=`` query parameter (asyncpg's and SQLAlchemy's spelling) means.

    Raises:
        ConfigError: a value that is neither a TLS mode nor true/false.
    """
    if not values:
        return None
    value = values[-1].strip().lower()
    mode = value if value in SSLMODES else _SSL_FLAGS.get(value)
    if mode is None:
        raise ConfigError(
            f"database.url has ssl={values[-1][:40]}, which is not a TLS mode",
            hint=f"use sslmode= one of {', '.join(SSLMODES)} (or ssl=true / ssl=false)")
    return mode


def with_sslmode(url: str, override: str | None) -> str:
    """Return ``url`` with exactly one ``sslmode``: ``override``, else the URL's, else prefer.

    An ``ssl=`` parameter counts as the URL's ``sslmode`` when that is absent, and is
    removed: libpq refuses it, and asyncpg would send it to the server as a setting.

    Raises:
        ConfigError: ``ssl=`` holds a value that is no TLS mode.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    from_url = [value for key, value in query if key == "sslmode"]
    from_ssl = _ssl_parameter([value for key, value in query if key == "ssl"])
    mode = override or (from_url[-1] if from_url else from_ssl or DEFAULT_SSLMODE)
    query = [(key, value) for key, value in query if key not in ("sslmode", "ssl")]
    query.append(("sslmode", mode))
    # %20, not "+", for spaces: libpq (psycopg) does not read "+" as a space.
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def redact_error(err: BaseException, dsn: str) -> str:
    """A driver's error text without the password of ``dsn`` (libpq quotes it)."""
    return Redactor(url_passwords(dsn))(str(err) or type(err).__name__)


def _yoyo_scheme(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg"))


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads,
                                  schema="pg_catalog")


def _unavailable(dsn: str, err: BaseException) -> DatabaseUnavailable:
    detail = redact_error(err, dsn)
    if isinstance(err, asyncpg.PostgresError):
        # The server answered: "cannot reach" would send the operator to the network.
        return DatabaseUnavailable(
            f"PostgreSQL at {redact_url(dsn)} refused the connection: {detail}",
            hint="check the user, password and database name in DATABASE_URL, and its "
            "query parameters (unknown ones are sent to the server as settings)",
        )
    return DatabaseUnavailable(
        f"cannot reach PostgreSQL at {redact_url(dsn)}: {detail}",
        hint="check that the server runs and DATABASE_URL (host, port, user, password, "
        "database, sslmode) is right; unset DATABASE_URL to use the embedded server",
    )


class _QuietFloorRetries(logging.Filter):
    """Drops asyncpg's "Failed to restore the pool connection floor" warnings.

    asyncpg logs one, with a traceback, at every retry while the server is down (1 s
    doubling to 60 s). The breaker already reports the outage once and says when it
    ends, so these would only bury it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to restore the pool connection floor")


def _quiet_floor_retries() -> None:
    pool_log = logging.getLogger("asyncpg.pool")
    if not any(isinstance(f, _QuietFloorRetries) for f in pool_log.filters):
        pool_log.addFilter(_QuietFloorRetries())


class Database:
    """An open asyncpg pool, plus the embedded server it runs on (if any).

    ``pool`` bounds every query by ``query_timeout`` and fails fast while ``breaker``
    knows the database is down; the breaker probes it back with a fresh connection.
    """

    def __init__(self, pool: asyncpg.Pool, dsn: str, embedded: EmbeddedPostgres | None, *,
                 query_timeout: float = 5.0, probe_interval: float = 2.0,
                 connect_timeout: float = 10.0) -> None:
        self._dsn = dsn
        self._embedded = embedded
        self._closed = False
        self._connect_timeout = connect_timeout
        # A probe is short: it runs every probe_interval while the database is down.
        self.breaker = CircuitBreaker(self.probe, interval=probe_interval,
                                      timeout=min(connect_timeout, max(probe_interval, 1.0)))
        self.pool = GuardedPool(pool, query_timeout, self.breaker)
        _quiet_floor_retries()

    @property
    def is_embedded(self) -> bool:
        """Whether Libra started (or attached to) its own server."""
        return self._embedded is not None

    @property
    def embedded(self) -> EmbeddedPostgres | None:
        """The embedded server handle, when there is one."""
        return self._embedded

    @property
    def dsn(self) -> str:
        """The asyncpg DSN (contains the password: never log it, use ``redacted_dsn``)."""
        return self._dsn

    @property
    def redacted_dsn(self) -> str:
        """The DSN without its password."""
        return redact_url(self._dsn)

    def dsn_for_yoyo(self) -> str:
        """The same database as a ``postgresql+psycopg://`` URL for yoyo."""
        return _yoyo_scheme(self._dsn)

    @classmethod
    async def open(cls, settings: DatabaseSettings, *, data_dir: Path) -> Database:
        """Connect (starting the embedded server when ``settings.url`` is unset).

        Raises:
            DatabaseUnavailable: the server cannot be reached or started.
            ConfigError: the embedded data directory is not allowed.
        """
        embedded: EmbeddedPostgres | None = None
        if settings.url is None:
            embedded = EmbeddedPostgres(data_dir / "postgres")
            await asyncio.to_thread(embedded.start)
            embedded.install_sigterm_handler()
            try:
                await _ensure_database(embedded.url(), EMBEDDED_DATABASE, settings)
            except BaseException:
                embedded.stop()
                raise
            url = embedded.url(EMBEDDED_DATABASE)
        else:
            # Checked and normalised at config load (libra.config_urls).
            url = settings.url.get_secret_value()
        dsn = with_sslmode(url, settings.sslmode)
        logger.info("connecting to PostgreSQL at {}…", redact_url(dsn))
        try:
            pool = await _create_pool(dsn, settings)
        except BaseException:
            if embedded is not None:
                embedded.stop()
            raise
        logger.info("database connected: {}", redact_url(dsn))
        return cls(pool, dsn, embedded, query_timeout=settings.query_timeout,
                   probe_interval=settings.probe_interval,
                   connect_timeout=settings.connect_timeout)

    async def ping(self) -> float:
        """Round-trip one query; return milliseconds.

        Raises:
            DatabaseUnavailable: the query failed.
        """
        t0 = time.perf_counter()
        try:
            await self.pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            raise _unavailable(self._dsn, err) from err
        return (time.perf_counter() - t0) * 1000

    async def probe(self) -> None:
        """Answer ``SELECT 1`` on a new connection (the pool's may be dead after an outage).

        Raises:
            DatabaseUnavailable: the server did not accept a connection or answer.
        """
        try:
            conn: Any = await asyncpg.connect(self._dsn, timeout=self._connect_timeout)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            raise _unavailable(self._dsn, err) from err
        try:
            await conn.fetchval("SELECT 1")
        finally:
            conn.terminate()
        # The pool's connections from before the outage may be dead: replace them
        # as they are next used, so the first queries after it do not fail.
        await self.pool.raw.expire_connections()

    async def close(self) -> None:
        """Close the pool and stop the embedded server. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self.breaker.close()
        try:
            await asyncio.wait_for(self.pool.raw.close(), _CLOSE_TIMEOUT)
        except TimeoutError:
            logger.warning("database pool did not close in {}s; terminating", _CLOSE_TIMEOUT)
            self.pool.raw.terminate()
        finally:
            if self._embedded is not None:
                await asyncio.to_thread(self._embedded.stop)

    def stop_embedded(self) -> None:
        """Synchronously stop the embedded server (for signal handlers). Idempotent."""
        if self._embedded is not None:
            self._embedded.stop()


async def _create_pool(dsn: str, settings: DatabaseSettings) -> asyncpg.Pool:
    server_settings = {"application_name": "libra"}
    if settings.synchronous_commit is not None:
        # Per session, so migrations (psycopg, yoyo) keep the server's durable default.
        server_settings["synchronous_commit"] = settings.synchronous_commit
    try:
        pool: asyncpg.Pool = await asyncpg.create_pool(
            dsn, min_size=min(settings.pool_min, settings.pool_max), max_size=settings.pool_max,
            timeout=settings.connect_timeout, init=_init_connection,
            server_settings=server_settings,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
            ValueError) as err:
        raise _unavailable(dsn, err) from err
    try:
        async with asyncio.timeout(settings.connect_timeout):
            await pool.fetchval("SELECT 1")
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        pool.terminate()
        raise _unavailable(dsn, err) from err
    return pool


async def _ensure_database(server_url: str, name: str, settings: DatabaseSettings) -> None:
    """Create database ``name`` on the embedded server unless it exists."""
    try:
        conn: Any = await asyncpg.connect(server_url, timeout=settings.connect_timeout)
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        raise _unavailable(server_url, err) from err
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # Another process may create it between our check and our create.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError,
                                     asyncpg.UniqueViolationError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
