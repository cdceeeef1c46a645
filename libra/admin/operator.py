"""The operator pages: login (bcrypt, CSRF, throttled), status, cache flush, logout."""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from loguru import logger

from libra.cluster.api import InstanceRecord
from libra.errors import LibraError

from . import page
from .http import (
    STATE,
    AdminState,
    ApiError,
    AuthPolicy,
    client_address,
    count_failure,
    request_body,
)
from .routes import RouteSpec, readiness, voice_latency
from .sessions import (
    DEVICE_COOKIE,
    DEVICE_TTL,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    OperatorSession,
)
from .translations import translation_figures

_FLUSHED = re.compile(r"flushed-([0-9]{1,15})", re.ASCII)
"""``?notice=`` after a flush; bounded so ``int()`` never meets thousands of digits."""
_HTML = "text/html"
_FORM = "application/x-www-form-urlencoded"
LOGIN_COOKIE_TTL = 3600


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type=_HTML, charset="utf-8")


def _see_other(location: str) -> web.Response:
    # A plain response (not a raised HTTPSeeOther) so the cookies set on it are sent.
    return web.Response(status=303, headers={"Location": location})


def _set_cookie(state: AdminState, response: web.StreamResponse, name: str, value: str,
                max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/admin", httponly=True,
                        samesite="Strict", secure=state.settings.cookie_secure)


def _form(request: web.Request) -> dict[str, str]:
    if request.content_type != _FORM:
        raise ApiError(415, "form_expected", f"send the form as {_FORM}")
    text = request_body(request).decode("utf-8", "replace")
    try:
        fields = parse_qs(text, max_num_fields=8, keep_blank_values=True)
    except ValueError:
        raise ApiError(400, "body_invalid", "too many form fields") from None
    return {k: v[0] for k, v in fields.items() if len(v) == 1}


def _session(state: AdminState, request: web.Request) -> OperatorSession:
    session = state.sessions.resolve(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise ApiError(401, "session_required", "sign in at /admin/login first")
    return session


async def stylesheet(request: web.Request) -> web.Response:
    """The pages' only stylesheet (served here: the CSP forbids inline styles)."""
    return web.Response(text=page.STYLESHEET, content_type="text/css")


async def login_form(request: web.Request) -> web.StreamResponse:
    """The sign-in form, with a CSRF token bound to a fresh login cookie."""
    state = request.app[STATE]
    if state.sessions.resolve(request.cookies.get(SESSION_COOKIE)) is not None:
        return _see_other("/admin")
    cookie = request.cookies.get(LOGIN_COOKIE)
    binding = state.sessions.login_binding(cookie)
    if binding is None:
        cookie = state.sessions.login_cookie()
        binding = state.sessions.login_binding(cookie)
    assert cookie is not None and binding is not None
    response = _html(page.login_page(state.sessions.csrf_token(f"login:{binding}")))
    _set_cookie(state, response, LOGIN_COOKIE, cookie, LOGIN_COOKIE_TTL)
    return response


def _too_many(state: AdminState, binding: str | None, retry: int) -> web.Response:
    csrf = state.sessions.csrf_token(f"login:{binding}") if binding else ""
    response = _html(page.login_page(csrf, f"Too many failed sign-ins. Try again in {retry} s."),
                     status=429)
    response.headers["Retry-After"] = str(retry)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    """Check CSRF and the password; on success start a session and go to the status page.

    The password is always checked, so the right one signs in even from an address whose
    failures are throttled (every local client shares 127.0.0.1); failures past the limit
    are answered 429. Checks wait in a short line (``passwords.py``); a sign-in that
    finds it full is answered 429 at once.
    """
    state = request.app[STATE]
    client = client_address(request)
    binding = state.sessions.login_binding(request.cookies.get(LOGIN_COOKIE))
    form = _form(request)
    if not state.sessions.csrf_ok(f"login:{binding}" if binding else None, form.get("csrf")):
        if retry := count_failure(state, state.login_failures, client, "csrf_invalid"):
            return _too_many(state, binding, retry)
        return _html(page.login_page("", "The form expired. Reload the page and try again."),
                     status=403)
    operator = form.get("operator", "")
    assert binding is not None
    trusted = state.sessions.device_operator(request.cookies.get(DEVICE_COOKIE)) == operator
    matched = await state.passwords.check(operator, form.get("password", ""), trusted=trusted)
    if matched is None:  # too many sign-ins waiting for a password check: not a failure
        response = _html(page.login_page(state.sessions.csrf_token(f"login:{binding}"),
                                         "Too many sign-ins at once. Try again in a moment."),
                         status=429)
        response.headers["Retry-After"] = "1"
        return response
    if not matched:
        # Counted once decided, with no await in between: parallel guesses see each other.
        if retry := count_failure(state, state.login_failures, client, "login_failed"):
            return _too_many(state, binding, retry)
        return _html(page.login_page(state.sessions.csrf_token(f"login:{binding}"),
                                     "Wrong operator name or password."), status=401)
    logger.info("operator {!r} signed in from {}", operator, client)
    response = _see_other("/admin")
    _set_cookie(state, response, SESSION_COOKIE, state.sessions.issue(operator),
                int(state.sessions.ttl))
    # This browser's next sign-ins as this operator go first (see passwords.py).
    _set_cookie(state, response, DEVICE_COOKIE, state.sessions.device_cookie(operator),
                DEVICE_TTL)
    response.del_cookie(LOGIN_COOKIE, path="/admin")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session (CSRF-checked)."""
    state = request.app[STATE]
    session = _session(state, request)
    if not state.sessions.csrf_ok(f"session:{session.sid}", _form(request).get("csrf")):
        raise ApiError(403, "csrf_invalid", "the form's CSRF token is wrong")
    state.sessions.revoke(session)
    response = _see_other("/admin/login")
    response.del_cookie(SESSION_COOKIE, path="/admin")
    return response


async def flush(request: web.Request) -> web.StreamResponse:
    """Flush the whole LLM cache from the status page (CSRF-checked)."""
    state = request.app[STATE]
    session = _session(state, request)
    if not state.sessions.csrf_ok(f"session:{session.sid}", _form(request).get("csrf")):
        raise ApiError(403, "csrf_invalid", "the form's CSRF token is wrong")
    llm = state.llm
    if llm is None:
        return _see_other("/admin?notice=llm-unavailable")
    try:
        removed = await llm.flush_cache(None)
    except LibraError as err:
        logger.warning("operator cache flush failed: {}", err)
        return _see_other("/admin?notice=flush-failed")
    return _see_other(f"/admin?notice=flushed-{int(removed)}")


async def _usage(state: AdminState) -> list[tuple[str, int, int, list[int]]] | None:
    usage = state.usage
    if usage is None or not usage.connected:
        return None
    since = datetime.now(UTC) - timedelta(days=7)
    try:
        totals = await usage.guild_usage(since, limit=20)
        daily = await usage.guild_daily_usage(since)
    except LibraError:
        return None
    days = [(since + timedelta(days=i + 1)).date() for i in range(7)]
    per_day: dict[int | None, dict[Any, int]] = defaultdict(dict)
    for d in daily:
        per_day[d.guild_id][d.day] = d.calls
    return [(str(g.guild_id) if g.guild_id is not None else "direct messages", g.calls,
             g.prompt_tokens + g.completion_tokens,
             [per_day[g.guild_id].get(day, 0) for day in days]) for g in totals]


async def _instances(state: AdminState) -> tuple[list[InstanceRecord] | None, str | None]:
    """(live instances, or why they cannot be listed); (None, None) for one process."""
    if state.instances is None:
        return None, None
    try:
        async with asyncio.timeout(2.0):
            return await state.instances.instances(), None
    except Exception as err:  # Redis down: the rest of the page still helps
        return None, f"Redis did not answer ({err or 'timeout'})"


def _notice(raw: str | None) -> str | None:
    """The message for a notice this server redirected to; anything else shows none."""
    if raw == "llm-unavailable":
        return "The LLM service is not running; nothing was flushed."
    if raw == "flush-failed":
        return "The LLM cache could not be flushed (its store failed; see the server log)."
    if raw and (match := _FLUSHED.fullmatch(raw)):
        return f"Cache flushed ({int(match.group(1))} entries)."
    return None


async def status(request: web.Request) -> web.Response:
    """The status page: health, models, latency, usage, translations and glossaries."""
    state = request.app[STATE]
    session = _session(state, request)
    ready, components = await readiness(state)
    llm = state.llm
    models = ([(m.model, m.ready, m.detail) for m in llm.readiness()]
              if llm is not None else None)
    stages = [(f"reply {stage.replace('_', ' ')}",
               None if p50 is None else p50 * 1000, None if p95 is None else p95 * 1000)
              for stage, p50, p95 in state.collector.stage_latencies()]
    instances, instances_error = await _instances(state)
    view = page.StatusView(
        operator=session.operator, csrf=state.sessions.csrf_token(f"session:{session.sid}"),
        ready=ready, components=components, models=models, stages=stages,
        usage=await _usage(state), notice=_notice(request.query.get("notice")),
        voice=voice_latency(state),
        translations=await translation_figures(state.translations,
                                               datetime.now(UTC) - timedelta(days=7)),
        instances=instances, instances_error=instances_error)
    return _html(page.status_page(view))


OPERATOR_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("GET", "/admin/static/admin.css", stylesheet, AuthPolicy.PUBLIC),
    RouteSpec("GET", "/admin/login", login_form, AuthPolicy.PUBLIC),
    RouteSpec("POST", "/admin/login", login, AuthPolicy.PUBLIC),
    RouteSpec("GET", "/admin", status, AuthPolicy.OPERATOR),
    RouteSpec("POST", "/admin/logout", logout, AuthPolicy.OPERATOR),
    RouteSpec("POST", "/admin/flush", flush, AuthPolicy.OPERATOR),
)
"""The HTML pages; sessions and CSRF are checked here, not by the API guard."""
