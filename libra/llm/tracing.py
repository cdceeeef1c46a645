"""Optional Langfuse tracing of LLM calls (the ``langfuse`` extra, imported lazily).

Written against the Langfuse Python SDK 5.0, which is OpenTelemetry-based: a
generation is an OTel span whose ``langfuse.observation.*`` attributes carry the
model, input, output and usage; ending it only appends it to the queue of a
``BatchSpanProcessor`` thread, which POSTs batches as OTLP protobuf to
``{host}/api/public/otel/v1/traces`` with Basic auth. So :meth:`record` never
does I/O on the event loop. What this module adds around the SDK, and why:

- The SDK gets a private ``TracerProvider``: Libra never installs a process-wide
  OpenTelemetry provider, and closing the tracer can shut its export thread down.
- A call is recorded when it ends, and ``start_observation()`` cannot back-date a
  span, so the span is started on the SDK's tracer at the call's real start time
  (Langfuse shows ``end - start`` as latency and ``completion_start_time`` as
  time to first token).
- A flush exports on the calling thread and retries with back-off until the
  export timeout, so :meth:`LangfuseTracer.close` runs the SDK's shutdown on a
  named daemon thread and waits for it at most ``close_timeout`` seconds.
- The SDK caches its resources per public key for the life of the process and
  hands a shut-down set to the next client with that key; close forgets them so
  a restarted plugin traces again.

A tracer never fails a call: SDK errors are logged once and tracing stops.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from loguru import logger

from libra.config import LangfuseSettings
from libra.config_urls import redact_url
from libra.errors import LLMCancelled
from libra.llm.api import LLMRequest

EXPORT_TIMEOUT_S = 2
"""Seconds one OTLP export may take, retries included (the SDK's ``timeout``)."""
CLOSE_TIMEOUT_S = 3.0
"""Seconds the plugin's stop waits for buffered traces to be sent."""
SPAN_NAME = "llm-call"


@dataclass(frozen=True, slots=True, kw_only=True)
class TracedCall:
    """What one finished call contributes to a trace."""

    request: LLMRequest
    output: str
    prompt_tokens: int
    completion_tokens: int
    first_token_ms: float | None
    latency_ms: float
    cache_hit: bool
    error_code: str | None
    server: str | None


class CallTracer(Protocol):
    """Receives every finished call."""

    def record(self, call: TracedCall) -> None:
        """Send ``call`` to the tracing system (must not block or raise)."""
        ...

    async def close(self) -> None:
        """Flush what is buffered, within a bounded time; never raises."""
        ...


def _level(error_code: str | None) -> str:
    if error_code is None:
        return "DEFAULT"
    return "WARNING" if error_code == LLMCancelled.code else "ERROR"


def _without_userinfo(url: str | None) -> str | None:
    return None if url is None else redact_url(url, keep_user=False)


class LangfuseTracer:
    """Records each call as one Langfuse *generation*."""

    def __init__(
        self,
        *,
        client: Any,
        provider: Any,
        generation_type: Any,
        public_key: str,
        close_timeout: float = CLOSE_TIMEOUT_S,
    ) -> None:
        self._client = client
        self._provider = provider
        self._generation_type = generation_type
        self._public_key = public_key
        self._close_timeout = close_timeout
        self._broken = False
        self._closed = False

    def record(self, call: TracedCall) -> None:
        """Queue one generation for export; on SDK errors log once and stop tracing."""
        if self._broken or self._closed:
            return
        try:
            self._record(call)
        except Exception as err:
            self._broken = True
            logger.warning("Langfuse tracing failed and is now off: {}", err)

    def _record(self, call: TracedCall) -> None:
        end_ns = time.time_ns()
        start_ns = end_ns - int(call.latency_ms * 1e6)
        first_token = None
        if call.first_token_ms is not None:
            first_token = datetime.fromtimestamp(
                (start_ns + call.first_token_ms * 1e6) / 1e9, tz=UTC
            )
        request = call.request
        # start_observation() takes no start time; the SDK's tracer (private, but its
        # exporter only sends spans of that tracer's scope and key) does.
        span = self._client._otel_tracer.start_span(SPAN_NAME, start_time=start_ns)
        generation = self._generation_type(
            otel_span=span,
            langfuse_client=self._client,
            model=request.model,
            input=[{"role": m.role, "content": m.content} for m in request.messages],
            output=call.output,
            model_parameters={k: v for k, v in request.options.items()
                              if isinstance(v, str | int | float | bool)},
            usage_details={"input": call.prompt_tokens, "output": call.completion_tokens},
            completion_start_time=first_token,
            level=_level(call.error_code),
            status_message=call.error_code,
            metadata={
                "language": request.language, "cache_hit": call.cache_hit,
                "first_token_ms": call.first_token_ms, "latency_ms": call.latency_ms,
                "server": _without_userinfo(call.server), "error_code": call.error_code,
                "correlation_id": request.correlation_id,
            },
        )
        generation.end(end_time=end_ns)

    async def close(self) -> None:
        """Send what is buffered and stop the SDK's threads, waiting at most the timeout."""
        if self._closed:
            return
        self._closed = True
        self._forget_sdk_resources()
        worker = threading.Thread(target=self._shutdown, name="langfuse-shutdown", daemon=True)
        worker.start()
        # join(timeout) always returns, so the executor thread is never left stuck.
        await asyncio.to_thread(worker.join, self._close_timeout)
        if worker.is_alive():
            logger.warning("Langfuse did not take the last traces within {:g}s; "
                           "they are dropped", self._close_timeout)

    def _shutdown(self) -> None:
        # The client flushes and stops its consumer threads but leaves two threads
        # running: the provider's export thread (ours to stop) and, in SDK 5.0.4, the
        # prompt cache's refresh thread (private; one leaked per restart otherwise).
        prompt_cache = getattr(getattr(self._client, "_resources", None), "prompt_cache", None)
        parts = (self._client, self._provider, getattr(prompt_cache, "_task_manager", None))
        for part in parts:
            try:
                if part is not None:
                    part.shutdown()
            except Exception as err:
                logger.warning("Langfuse shutdown failed: {}", err)

    def _forget_sdk_resources(self) -> None:
        # Private SDK state (LangfuseResourceManager._instances): without this, the
        # next Langfuse(...) with the same key would get these resources, shut down.
        resources = getattr(self._client, "_resources", None)
        registry = getattr(type(resources), "_instances", None)
        lock = getattr(type(resources), "_lock", None)
        if not isinstance(registry, dict) or lock is None:
            return
        with lock:
            if registry.get(self._public_key) is resources:
                del registry[self._public_key]


def _route_sdk_logs_through_libra() -> None:
    """Undo the handler the SDK attaches to ``httpx`` at import.

    That handler writes straight to stderr, bypassing Libra's logging and so its
    redaction; with it gone the records propagate to the root logger, which
    ``libra.logging`` routes through the redacting sinks.
    """
    for name in ("httpx", "langfuse"):
        sdk_logger = logging.getLogger(name)
        for handler in list(sdk_logger.handlers):
            if isinstance(handler, logging.StreamHandler):
                sdk_logger.removeHandler(handler)
        sdk_logger.propagate = True


def langfuse_tracer(
    settings: LangfuseSettings, *, close_timeout: float = CLOSE_TIMEOUT_S
) -> LangfuseTracer | None:
    """Build a tracer when keys are configured and the SDK is installed, else ``None``."""
    if not settings.public_key or settings.secret_key is None:
        return None
    try:
        sdk = importlib.import_module("langfuse")
        otel_trace = importlib.import_module("opentelemetry.sdk.trace")
        otel_resources = importlib.import_module("opentelemetry.sdk.resources")
    except ImportError:
        logger.warning(
            "Langfuse keys are set but the SDK is missing: tracing is off "
            "(pip install 'libra[langfuse]')"
        )
        return None
    _route_sdk_logs_through_libra()
    try:
        provider = otel_trace.TracerProvider(
            resource=otel_resources.Resource.create({"service.name": "libra"}),
            shutdown_on_exit=False,  # close() shuts it down; atexit would keep it alive
        )
        kwargs: dict[str, Any] = {
            "public_key": settings.public_key,
            "secret_key": settings.secret_key.get_secret_value(),
            "timeout": EXPORT_TIMEOUT_S,
            "tracer_provider": provider,
        }
        if settings.host:
            # The SDK appends "/api/public/otel/v1/traces" as is: "host/" would 404.
            kwargs["base_url"] = settings.host.rstrip("/")
        client = sdk.Langfuse(**kwargs)
        return LangfuseTracer(client=client, provider=provider,
                              generation_type=sdk.LangfuseGeneration,
                              public_key=settings.public_key, close_timeout=close_timeout)
    except Exception as err:
        logger.warning("Langfuse could not start, tracing is off: {}", err)
        return None
