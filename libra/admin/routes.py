"""The JSON API and ``/metrics``; the OpenAPI document describing them is in ``openapi.py``."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from libra.errors import LibraError
from libra.health import ComponentHealth, Status
from libra.metrics import CONTENT_TYPE

from .http import STATE, AdminState, ApiError, AuthPolicy, Handler, request_body
from .openapi import openapi_document
from .translations import translation_figures

NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,99}")
"""Cache namespaces the flush endpoint accepts (kept in step with the OpenAPI schema)."""
_DAYS = re.compile(r"[0-9]{1,9}", re.ASCII)
READY_OK = (Status.OK, Status.DEGRADED)
MAX_STATS_DAYS = 90


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One route: method, path, handler and who may call it."""

    method: str
    path: str
    handler: Handler
    policy: AuthPolicy


async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers. No details, no auth."""
    return web.json_response({"status": "ok"})


def _component(item: ComponentHealth, required: bool) -> dict[str, Any]:
    return {"name": item.name, "status": str(item.status), "required": required,
            "detail": item.detail, "fix": item.fix}


async def readiness(state: AdminState) -> tuple[bool, list[dict[str, Any]]]:
    """Run the health checks; ready when every required component is ok or degraded."""
    results = await state.health.run() if state.health is not None else []
    required = set(state.settings.ready_required)
    components = [_component(item, item.name in required) for item in results]
    seen = {item.name for item in results}
    for name in sorted(required - seen):
        components.append({"name": name, "status": str(Status.DOWN), "required": True,
                           "detail": "no health check is registered",
                           "fix": f"check that the {name} component started"})
    ready = all(c["status"] in READY_OK for c in components if c["required"])
    return ready, sorted(components, key=lambda c: str(c["name"]))


async def health_ready(request: web.Request) -> web.Response:
    """Readiness per component: 200 when every required one is ok, else 503."""
    ready, components = await readiness(request.app[STATE])
    return web.json_response({"ready": ready, "components": components},
                             status=200 if ready else 503)


def parse_flush_body(body: bytes) -> str | None:
    """The namespace to flush (``None`` = all) from an optional JSON body.

    Raises:
        ApiError: 400 ``body_invalid`` naming what is wrong.
    """
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "body_invalid", "the body is not JSON") from None
    except RecursionError:  # nesting deeper than the parser's recursion limit
        raise ApiError(400, "body_invalid", "the body is nested too deeply") from None
    if not isinstance(data, dict) or set(data) - {"namespace"}:
        raise ApiError(400, "body_invalid", 'expected {"namespace": "<name>"} or no body')
    namespace = data.get("namespace")
    if namespace is None:
        return None
    if not isinstance(namespace, str) or not NAMESPACE.fullmatch(namespace):
        raise ApiError(400, "body_invalid",
                       "namespace must be 1-100 characters of A-Z a-z 0-9 : . _ -")
    return namespace


async def cache_flush(request: web.Request) -> web.Response:
    """Flush the LLM response cache, all of it or one namespace."""
    state = request.app[STATE]
    namespace = parse_flush_body(request_body(request))
    llm = state.llm
    if llm is None:
        raise ApiError(503, "llm_unavailable", "the LLM service is not running")
    try:
        removed = await llm.flush_cache(namespace)
    except LibraError as err:
        raise ApiError(503, err.code, err.message) from err
    return web.json_response({"flushed": removed, "namespace": namespace})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    text = request.app[STATE].collector.registry.render()
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})


def _stats_days(request: web.Request) -> int:
    raw = request.query.get("days", "7")
    # Digits checked and bounded before int(): Python refuses over 4,300 digits.
    if not _DAYS.fullmatch(raw) or not 1 <= int(raw) <= MAX_STATS_DAYS:
        raise ApiError(400, "query_invalid", f"days must be an integer 1-{MAX_STATS_DAYS}")
    return int(raw)


def stage_latencies(state: AdminState) -> list[dict[str, Any]]:
    """Per-stage reply latency (p50/p95 ms) from this process's histograms."""
    return [
        {"stage": stage,
         "p50_ms": None if p50 is None else round(p50 * 1000, 1),
         "p95_ms": None if p95 is None else round(p95 * 1000, 1)}
        for stage, p50, p95 in state.collector.stage_latencies()
    ]


def voice_latency(state: AdminState) -> dict[str, Any] | None:
    """Recent voice turns: p50/p95 per stage, errors, engines, the last turns.

    ``None`` when voice is off.
    """
    return state.voice_turns.summary() if state.voice_turns is not None else None


async def usage_stats(state: AdminState, days: int) -> dict[str, Any]:
    """The figures behind ``/stats``: usage, latency, translations and glossaries.

    Usage per guild (total and per day), latency per model and stage; translations per
    language pair and every guild's glossary (``null`` when not available).

    Raises:
        ApiError: 503 ``stats_unavailable`` when the database is not running.
    """
    usage = state.usage
    if usage is None or not usage.connected:
        raise ApiError(503, "stats_unavailable", "the database is not running")
    since = datetime.now(UTC) - timedelta(days=days)
    try:
        guilds = await usage.guild_usage(since)
        daily = await usage.guild_daily_usage(since)
        models = await usage.model_latency(since)
    except LibraError as err:
        raise ApiError(503, "stats_unavailable", err.message) from err
    translations = await translation_figures(state.translations, since)
    return {
        "since": since.isoformat(), "days": days,
        "guilds": [asdict(g) for g in guilds],
        "daily": [{**asdict(d), "day": d.day.isoformat()} for d in daily],
        "models": [asdict(m) for m in models],
        "stages": stage_latencies(state),
        "voice": voice_latency(state),
        "translations": translations.as_json() if translations is not None else None,
    }


async def api_stats(request: web.Request) -> web.Response:
    """Usage per guild and latency per model and stage."""
    days = _stats_days(request)
    return web.json_response(await usage_stats(request.app[STATE], days))


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of the JSON endpoints."""
    return web.json_response(openapi_document())


API_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("GET", "/api/health", health, AuthPolicy.PUBLIC),
    RouteSpec("GET", "/api/health/ready", health_ready, AuthPolicy.API),
    RouteSpec("POST", "/api/cache/flush", cache_flush, AuthPolicy.API),
    RouteSpec("GET", "/api/stats", api_stats, AuthPolicy.API),
    RouteSpec("GET", "/api/openapi.json", openapi, AuthPolicy.API),
    RouteSpec("GET", "/metrics", metrics, AuthPolicy.METRICS),
)
"""Every JSON/text endpoint (the operator pages add theirs in ``operator.py``)."""
