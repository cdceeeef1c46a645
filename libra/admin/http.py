"""Shared state, JSON errors and the guard middleware of the admin server.

Every request passes the guard in this order: canonical path → route exists and
allows the method → declared body size → the checks that need only the headers
(shared secret, bearer token, HMAC timestamp) → body read (once, kept for the handler)
→ HMAC signature and nonce → handler, all under a timeout. A valid credential always
passes; failures are counted per address and, past the limit, answered 429
(``throttle.py``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiohttp import web
from loguru import logger

from libra.cluster.api import InstanceDirectory
from libra.config import AdminSettings
from libra.errors import AdminError
from libra.health import HealthRegistry
from libra.llm.api import LLMService
from libra.storage.api import UsageStats
from libra.tasks import Deadlines

from .api import TranslationStatsSource, VoiceLatencySource
from .auth import AuthFailure, HmacVerifier, check_bearer, check_shared_secret
from .collector import MetricsCollector
from .nonces import NonceStoreUnavailable
from .passwords import PasswordChecker
from .sessions import SESSION_COOKIE, OperatorSessions
from .throttle import FailureLimiter, FailureLog

_CANONICAL_PATH = re.compile(r"(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*/?")
CSP_API = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
CSP_PAGE = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AuthPolicy(StrEnum):
    """Who may call a route."""

    PUBLIC = "public"
    API = "api"
    """A valid shared secret or signature, per ``admin.auth_mode``."""
    METRICS = "metrics"
    """Like ``api`` when ``admin.metrics_auth``; a scraper's bearer token also passes."""
    OPERATOR = "operator"
    """A logged-in operator session (the HTML pages); otherwise a redirect to login."""


class ApiError(AdminError):
    """A refusal with an HTTP status and a stable code, rendered as JSON."""

    code = "api_refused"

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or {}


def json_error(status: int, code: str, message: str,
               headers: dict[str, str] | None = None) -> web.Response:
    """``{"error": code, "message": message}`` with ``status``."""
    return web.json_response({"error": code, "message": message}, status=status,
                             headers=headers)


@dataclass(slots=True)
class AdminState:
    """Everything the handlers need, built once per server."""

    settings: AdminSettings
    secret: bytes
    verifier: HmacVerifier
    api_failures: FailureLimiter
    login_failures: FailureLimiter
    failure_log: FailureLog
    sessions: OperatorSessions
    passwords: PasswordChecker
    collector: MetricsCollector
    health: HealthRegistry | None
    llm: LLMService | None
    usage: UsageStats | None
    policies: dict[tuple[str, str], AuthPolicy]
    translations: TranslationStatsSource | None = None
    """Translation volume and glossaries (``None``: not shown)."""
    deadlines: Deadlines = field(default_factory=Deadlines)
    """Requests cut off at ``request_timeout`` that are still unwinding."""
    voice_turns: VoiceLatencySource | None = None
    """Recent voice turns' latency (``None``: no voice section)."""
    instances: InstanceDirectory | None = None
    """The bot's live instances (several processes sharing Redis), for the status page."""


STATE = web.AppKey("libra_admin_state", AdminState)
BODY = web.RequestKey("libra_admin_body", bytes)
"""Where the guard stores the body it read (and authenticated) for the handler."""


def request_body(request: web.Request) -> bytes:
    """The body the guard read and authenticated."""
    body: bytes = request.get(BODY, b"")
    return body


def client_address(request: web.Request) -> str:
    """The peer address (forwarding headers are not trusted: bind behind no proxy)."""
    return request.remote or "unknown"


def _header_view(request: web.Request) -> Mapping[str, str]:
    # The request's own (case-insensitive) headers: names may arrive in any case,
    # e.g. lower-cased by a proxy or an HTTP/2 hop.
    for name in request.headers:
        if len(request.headers.getall(name)) > 1:
            raise AuthFailure("header_duplicated", f"header {name} appears more than once")
    return request.headers


def count_failure(state: AdminState, limiter: FailureLimiter, client: str, code: str
                  ) -> int:
    """Count a failed authentication; seconds to send as ``Retry-After``, 0 = not throttled.

    Synchronous on purpose: parallel requests each see the failures counted before them.
    """
    wait = limiter.record(client)
    state.collector.admin_auth_failures.inc(code=code)
    state.failure_log.add(client, code, throttled=wait > 0)
    return int(wait) + 1 if wait else 0


def _check_declared_size(request: web.Request, limit: int) -> None:
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "body_too_large", f"the body is over {limit} bytes")


async def _read_body(request: web.Request, limit: int) -> bytes:
    _check_declared_size(request, limit)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "body_too_large", f"the body is over {limit} bytes") from None
    except web.RequestPayloadError:  # e.g. a body that is not the gzip it claims to be
        raise ApiError(400, "body_invalid",
                       "the body cannot be read as sent (bad encoding)") from None


async def _authenticated_body(state: AdminState, request: web.Request, policy: AuthPolicy
                              ) -> bytes:
    """Authenticate ``request`` for ``policy`` and return its body.

    Raises:
        AuthFailure: the credential is missing or wrong.
        NonceStoreUnavailable: the shared nonce store cannot tell.
    """
    limit = state.settings.body_limit
    if policy is AuthPolicy.METRICS:
        token = state.settings.metrics_token
        if not state.settings.metrics_auth or (
                token is not None
                and check_bearer(token.get_secret_value().encode(), request.headers)):
            return await _read_body(request, limit)
    headers = _header_view(request)
    if state.settings.auth_mode == "simple":
        check_shared_secret(state.secret, headers)
        return await _read_body(request, limit)
    signed = state.verifier.check_headers(headers)
    body = await _read_body(request, limit)
    state.verifier.check_signature(signed, request.method, request.raw_path, body)
    await state.verifier.use_nonce(signed)
    return body


def _route_policy(state: AdminState, request: web.Request) -> AuthPolicy:
    match = request.match_info
    if match.http_exception is not None:
        if isinstance(match.http_exception, web.HTTPMethodNotAllowed):
            allowed = ", ".join(sorted(match.http_exception.allowed_methods))
            raise ApiError(405, "method_not_allowed", f"use {allowed}", {"Allow": allowed})
        raise ApiError(404, "not_found", "no such endpoint")
    key = (request.method, match.route.resource.canonical if match.route.resource else "")
    return state.policies.get(key, AuthPolicy.API)


async def _guarded(state: AdminState, request: web.Request, handler: Handler
                   ) -> web.StreamResponse:
    if not _CANONICAL_PATH.fullmatch(request.raw_path.partition("?")[0]):
        raise ApiError(400, "path_invalid", "the path is not in canonical form")
    policy = _route_policy(state, request)
    limit = state.settings.body_limit
    _check_declared_size(request, limit)
    if policy in (AuthPolicy.API, AuthPolicy.METRICS):
        try:
            body = await _authenticated_body(state, request, policy)
        except AuthFailure as err:
            retry = count_failure(state, state.api_failures, client_address(request), err.code)
            if retry:
                raise ApiError(429, "too_many_failures",
                               "too many failed authentications from this address",
                               {"Retry-After": str(retry)}) from None
            raise ApiError(err.status, err.code, err.message) from None
        except NonceStoreUnavailable as err:
            raise ApiError(503, err.code, err.message) from err
    else:
        body = await _read_body(request, limit)
    request[BODY] = body
    if (policy is AuthPolicy.OPERATOR and request.method == "GET"
            and state.sessions.resolve(request.cookies.get(SESSION_COOKIE)) is None):
        raise web.HTTPSeeOther("/admin/login")
    return await handler(request)


async def _within(state: AdminState, request: web.Request, handler: Handler
                  ) -> web.StreamResponse:
    """``_guarded`` under the request timeout, without waiting for it to unwind.

    ``asyncio.timeout`` would wait for the cancelled handler, and asyncpg cancelling a
    query on a database host that went dark waits for minutes: the 504 is due now.

    Raises:
        TimeoutError: the request took longer than ``admin.request_timeout``.
    """
    return await state.deadlines.within(_guarded(state, request, handler),
                                        state.settings.request_timeout)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Check, authenticate and time-limit every request; map every error to JSON."""
    state = request.app[STATE]
    route = "unmatched"
    try:
        if request.match_info.http_exception is None and request.match_info.route.resource:
            route = request.match_info.route.resource.canonical
        response = await _within(state, request, handler)
    except ApiError as err:
        response = json_error(err.status, err.code, err.message, err.headers)
    except web.HTTPRedirection as redirect:
        response = web.Response(status=redirect.status, headers=redirect.headers)
    except web.HTTPException as err:
        response = json_error(err.status, err.reason.lower().replace(" ", "_"), err.reason)
    except TimeoutError:
        response = json_error(504, "request_timeout", "the request took too long")
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("admin request {} {} failed", request.method, request.path)
        response = json_error(500, "internal_error", "internal error (see the server log)")
    state.collector.admin_requests.inc(route=route, status=str(response.status))
    return response


def apply_security_headers(response: web.StreamResponse) -> None:
    """Hardening headers, and a ``Server`` header that names no software version."""
    headers: Any = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    page = response.content_type == "text/html"
    headers.setdefault("Content-Security-Policy", CSP_PAGE if page else CSP_API)
    headers["Cache-Control"] = "no-store"
    headers["Server"] = "libra-admin"  # not aiohttp's default, which names its version


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: :func:`apply_security_headers` on every routed response."""
    apply_security_headers(response)
