"""Warm-up of the routed models and the ``llm`` health check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from loguru import logger

from libra.errors import LLMError
from libra.events import ModelReady
from libra.health import ComponentHealth, Status
from libra.llm.api import ModelStatus
from libra.llm.service import PooledLLMService

_PROBE_TIMEOUT = 2.0
WARMING = "warming up"
NOT_WARMED = "not warmed up (llm.warmup is off)"


def routed_models(default_model: str, routes: dict[str, str]) -> list[str]:
    """The default model and every routed one, each once, in a stable order."""
    return list(dict.fromkeys([default_model, *routes.values()]))


async def warm_up(service: PooledLLMService, models: Iterable[str], keep_alive: str) -> None:
    """Load each model on every server, one model at a time; publish ``ModelReady``.

    A model counts as ready when at least one server loaded it. Failures are
    reported (event, readiness, log) and never raised: Libra runs without warm-up.
    """
    models = list(models)
    for model in models:
        service.statuses[model] = ModelStatus(model=model, ready=False, detail=WARMING)
    for model in models:
        t0 = time.perf_counter()
        results = await asyncio.gather(
            *(s.backend.warm(model, keep_alive) for s in service.pool.servers),
            return_exceptions=True,
        )
        seconds = time.perf_counter() - t0
        errors = [r for r in results if isinstance(r, BaseException)]
        for err in errors:
            if not isinstance(err, Exception):
                raise err  # CancelledError and friends pass through
        ready = len(errors) < len(results)
        first = errors[0] if errors else None
        code = first.code if isinstance(first, LLMError) else ("unexpected" if first else None)
        detail = f"loaded in {seconds:.1f}s" if ready else f"{code}: {first}"
        service.statuses[model] = ModelStatus(model=model, ready=ready, detail=detail)
        if ready:
            logger.info("model {} is warm ({:.1f}s)", model, seconds)
        else:
            logger.warning("model {} could not be warmed up: {}", model, first)
        service.bus.publish(ModelReady(model=model, ready=ready, seconds=seconds,
                                       error_code=None if ready else code))


async def check_health(service: PooledLLMService, models: list[str]) -> ComponentHealth:
    """Per-server reachability and which routed models are warm."""

    async def probe(index: int) -> tuple[bool, list[str], str]:
        backend = service.pool.servers[index].backend
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT):
                available = await backend.models()
                loaded = getattr(backend, "loaded", None)
                warm = await loaded() if loaded is not None else available
        except (LLMError, TimeoutError) as err:
            return False, [], str(err) or "no answer"
        return True, warm, ""

    results = await asyncio.gather(*(probe(i) for i in range(len(service.pool.servers))))
    servers: dict[str, object] = {}
    up = 0
    for server, (reachable, warm, error) in zip(service.pool.servers, results, strict=True):
        up += reachable
        servers[server.name] = {"reachable": reachable, "active": server.active,
                                "warm": warm, "error": error or server.last_error}
    failed = [s for s in service.readiness()
              if not s.ready and s.detail not in (WARMING, NOT_WARMED)]
    extra: dict[str, object] = {"servers": servers, "queued": service.pool.queued,
                                "models": {s.model: s.ready for s in service.readiness()}}
    total = len(service.pool.servers)
    warm_anywhere = {m for reachable, warm, _ in results if reachable for m in warm}
    warm_routed = [m for m in models if m in warm_anywhere]
    detail = f"{up}/{total} servers reachable; warm: {', '.join(warm_routed) or 'none'}"
    if failed:
        detail += "; not ready: " + ", ".join(s.model for s in failed)
    if up == 0:
        first = service.pool.servers[0].name
        return ComponentHealth(name="llm", status=Status.DOWN, detail=detail, extra=extra,
                               fix=f"start the LLM server (e.g. `ollama serve`) at {first}")
    if up < total or failed:
        missing = [s.model for s in failed if "model_missing" in s.detail]
        fix = (f"run `ollama pull {missing[0]}`" if missing
               else "check the servers marked unreachable in llm.servers")
        return ComponentHealth(name="llm", status=Status.DEGRADED, detail=detail, extra=extra,
                               fix=fix)
    return ComponentHealth(name="llm", status=Status.OK, detail=detail, extra=extra)
