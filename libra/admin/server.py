"""The admin HTTP server: settings check, app assembly, and its start/stop lifecycle."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from loguru import logger

from libra.cluster.api import InstanceDirectory
from libra.config import AdminSettings
from libra.errors import AdminError, AdminSecretInvalid, ConfigError
from libra.health import HealthRegistry
from libra.llm.api import LLMService
from libra.storage.api import UsageStats

from .api import TranslationStatsSource, VoiceLatencySource
from .auth import MIN_SECRET_BYTES, Clock, HmacVerifier
from .collector import MetricsCollector
from .http import STATE, AdminState, apply_security_headers, guard, json_error, security_headers
from .nonces import NONCE_FILE, LocalNonces, NonceStore, RedisNonces
from .operator import OPERATOR_ROUTES
from .passwords import PasswordChecker
from .routes import API_ROUTES
from .sessions import OperatorSessions, derive_key
from .throttle import FailureLimiter, FailureLog

_BCRYPT_HASH = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
SHUTDOWN_TIMEOUT = 2.0
"""Seconds open requests get when the server stops."""
MAX_CONNECTIONS = 256
"""Connections served at once; further ones are closed as they come. Connections that
send nothing are kept up to 15 s: uncapped, one client could use up the process's
file descriptors, and with them Libra's connections to Discord and its databases."""
MALFORMED_LOG_INTERVAL = 60.0
"""Seconds between two warnings about malformed requests (the rest are counted)."""


class _ServerLog(logging.Logger):
    """aiohttp's server logger, quiet about requests that do not parse as HTTP.

    aiohttp logs each one at ERROR with a traceback quoting the client's bytes, before
    any authentication: anyone who reaches the port could flood the log. They become
    one short warning per ``MALFORMED_LOG_INTERVAL``; every other error is logged as is.
    """

    def __init__(self) -> None:
        super().__init__("aiohttp.server.admin")
        self.parent = logging.getLogger("aiohttp.server")
        self._next = 0.0
        self._quiet = 0

    def exception(self, msg: object, *args: object, exc_info: Any = True,
                  **kwargs: Any) -> None:
        """Log ``msg``, or for a malformed request a short, rate-limited warning."""
        # A body that cannot be decoded as sent (say, gzip that is not) surfaces only
        # when aiohttp drains it after the answer, as a payload error around the cause.
        in_body = isinstance(exc_info, RequestPayloadError)
        cause = exc_info.__cause__ if in_body else exc_info
        if not isinstance(cause, HttpProcessingError):
            super().exception(msg, *args, exc_info=exc_info, **kwargs)
            return
        now = time.monotonic()
        if now < self._next:
            self._quiet += 1
            return
        quiet, self._quiet, self._next = self._quiet, 0, now + MALFORMED_LOG_INTERVAL
        # Only the class and status: the exception's text quotes the client's bytes.
        self.warning("admin port: malformed HTTP request (%s%s, answered %s)%s",
                     type(cause).__name__, " in the body" if in_body else "",
                     "before the body was read" if in_body else cause.code,
                     f"; {quiet} more since the last warning" if quiet else "")


class _HardenedRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering what it cannot parse like any other error.

    aiohttp answers a request that is not valid HTTP itself, in ``handle_error``, before
    any middleware or ``on_response_prepare`` signal could run (aio-libs/aiohttp#3287):
    that answer named aiohttp's version, lacked the security headers and quoted the
    client's bytes. This one is the usual JSON error with the usual headers.
    """

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """Log as aiohttp does (see ``_ServerLog``), then answer with a JSON error.

        Raises:
            ConnectionError: part of a response was already sent (from aiohttp).
        """
        super().handle_error(request, status, exc, message)
        if status == 504:
            response = json_error(504, "request_timeout", "the request took too long")
        elif status >= 500:
            response = json_error(status, "internal_error", "internal error (see the server log)")
        else:
            response = json_error(status, "request_malformed", "the request is not valid HTTP/1.1")
        apply_security_headers(response)
        response.force_close()
        return response


class _TurnedAway(asyncio.Protocol):
    """A connection over ``MAX_CONNECTIONS``: closed at once, nothing read or logged."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Close the connection."""
        transport.close()


def admin_secret(settings: AdminSettings) -> bytes:
    """The secret as bytes, checked; the admin port fails closed without a strong one.

    Raises:
        AdminSecretInvalid: the secret is missing or shorter than 32 bytes.
        ConfigError: an operator password entry is not a bcrypt hash.
    """
    hint = ("set LIBRA_ADMIN__SECRET (or LIBRA_ADMIN__SECRET_FILE) to 32+ random bytes, "
            "e.g. `openssl rand -hex 32`, or unset admin.port")
    if settings.secret is None or not settings.secret.get_secret_value():
        raise AdminSecretInvalid("admin.secret is not set (the admin port requires it)",
                                 hint=hint)
    secret = settings.secret.get_secret_value().encode("utf-8")
    if len(secret) < MIN_SECRET_BYTES:
        raise AdminSecretInvalid(
            f"admin.secret is {len(secret)} bytes; at least {MIN_SECRET_BYTES} are required",
            hint=hint)
    for name, hashed in settings.operator_password_hashes.items():
        if not _BCRYPT_HASH.fullmatch(hashed):
            raise ConfigError(f"admin.operator_password_hashes[{name!r}] is not a bcrypt hash",
                              hint="create one with `libra admin hash-password`")
    return secret


def build_app(state: AdminState) -> web.Application:
    """The aiohttp application with every route, the guard and the security headers."""
    app = web.Application(middlewares=[guard], client_max_size=state.settings.body_limit)
    app[STATE] = state
    app.on_response_prepare.append(security_headers)
    for spec in (*API_ROUTES, *OPERATOR_ROUTES):
        route = app.router.add_route(spec.method, spec.path, spec.handler)
        canonical = route.resource.canonical if route.resource else spec.path
        state.policies[(spec.method, canonical)] = spec.policy
    return app


class AdminServer:
    """Owns the listening socket; ``start`` binds, ``stop`` closes (idempotent)."""

    def __init__(
        self, settings: AdminSettings, *, health: HealthRegistry | None,
        collector: MetricsCollector, llm: LLMService | None = None,
        usage: UsageStats | None = None, clock: Clock = time.time,
        redis_url: str | None = None, data_dir: Path | None = None,
        voice_turns: VoiceLatencySource | None = None,
        translations: TranslationStatsSource | None = None,
        instances: InstanceDirectory | None = None,
    ) -> None:
        """Check the settings and build the state; nothing is bound yet.

        ``llm`` and ``usage`` are the ports the endpoints read (``None``: that part is
        off, and its endpoints answer 503); ``voice_turns`` the recent voice turns' latency
        (``None``: no voice section); ``translations`` adds translation volume and glossaries
        to the status page and ``/api/stats``. ``redis_url`` set: HMAC nonces are shared
        through Redis; otherwise they are kept in ``data_dir`` (or in memory only, without it).

        Raises:
            AdminError: ``admin.port`` is not set.
            AdminSecretInvalid: the secret is missing or too short.
            ConfigError: an operator password entry or ``redis_url`` is unusable.
        """
        if settings.port is None:
            raise AdminError("the admin server needs admin.port")
        secret = admin_secret(settings)
        self.settings = settings
        self._clock = clock
        window = settings.signature_window
        nonces: NonceStore = (
            RedisNonces(redis_url, ttl=window,
                        namespace=derive_key(secret, "nonce-store").hex()[:16])
            if redis_url else
            LocalNonces(window, data_dir / NONCE_FILE if data_dir is not None else None))
        self.state = AdminState(
            settings=settings, secret=secret,
            verifier=HmacVerifier(secret, window=window, clock=clock, nonces=nonces),
            api_failures=FailureLimiter(settings.failed_auth_limit, settings.failed_auth_window),
            login_failures=FailureLimiter(settings.failed_auth_limit,
                                          settings.failed_auth_window),
            failure_log=FailureLog(),
            sessions=OperatorSessions(secret, ttl=settings.session_ttl, clock=clock),
            passwords=PasswordChecker(dict(settings.operator_password_hashes)),
            collector=collector, health=health, llm=llm, usage=usage, policies={},
            voice_turns=voice_turns,
            translations=translations,
            instances=instances,
        )
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """Base URL of the server."""
        host = self.settings.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.settings.port}"

    async def start(self) -> None:
        """Bind and serve.

        Raises:
            AdminError: the address cannot be bound.
        """
        # Nothing signed before this moment can have been seen by this process.
        self.state.verifier.not_before = self._clock()
        await self.state.verifier.nonces.open(self._clock())
        runner = web.AppRunner(build_app(self.state), access_log=None,
                               shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        server = runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        server_log = _ServerLog()

        def connection() -> asyncio.Protocol:
            if len(server.connections) >= MAX_CONNECTIONS:
                return _TurnedAway()
            # lingering_time: how long an unread body is drained after the answer; kept
            # short so a client stalling its upload cannot hold the connection for long.
            # access_log=None turns access logging off, as in web.run_app (the stub
            # types it as a Logger only).
            return _HardenedRequestHandler(server, loop=loop,
                                           access_log=None,  # type: ignore[arg-type]
                                           keepalive_timeout=15, lingering_time=1.0,
                                           logger=server_log)

        try:
            # Served here rather than through web.TCPSite, whose handlers are aiohttp's.
            listener = await loop.create_server(connection, self.settings.host,
                                                self.settings.port, reuse_address=True)
        except OSError as err:
            await runner.cleanup()
            await self.state.verifier.nonces.close()
            raise AdminError(f"cannot listen on {self.url}: {err.strerror}",
                             hint="choose another admin.port or stop what uses it") from err
        self._runner, self._listener = runner, listener
        if not _is_loopback(self.settings.host):
            logger.warning("admin server listens on {} (not loopback): put TLS in front of it",
                           self.settings.host)
        logger.info("admin server on {} ({} auth)", self.url, self.settings.auth_mode)

    async def stop(self) -> None:
        """Stop listening, finish open requests, report pending counts, close the store."""
        runner, self._runner = self._runner, None
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if runner is not None:
            await runner.cleanup()
        if not self._closed:
            self._closed = True
            self.state.failure_log.close()
            self.state.passwords.close()
            await self.state.verifier.nonces.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
