"""A fake Langfuse server speaking what the Langfuse Python SDK (v5) sends.

The SDK is OpenTelemetry-based: it sends nothing at start-up and exports spans
in batches as OTLP/HTTP protobuf (``Content-Type: application/x-protobuf``,
gzip by default) to ``POST {host}/api/public/otel/v1/traces`` with
``Authorization: Basic base64(public_key:secret_key)``. The fake decodes each
``ExportTraceServiceRequest`` with ``opentelemetry-proto`` (a dependency of the
SDK) and records every span with its attributes, so tests can assert what a
Langfuse server would store. Requests with wrong credentials get 401 and are
counted in ``rejected``; any other path is recorded in ``unexpected`` and gets
404 (media uploads and scores would show up there).

Knobs: ``hang`` (accept the request and never answer, like a black-holed host).

    fake = FakeLangfuse(public_key="pk-lf-1", secret_key="sk-lf-1")
    await fake.start()
    ...  # run Libra with LangfuseSettings(host=fake.url, ...)
    [generation] = fake.generations
    assert generation.attributes["langfuse.observation.model.name"] == "llama3"
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

TRACES_PATH = "/api/public/otel/v1/traces"
_PROTOBUF = "application/x-protobuf"


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    items: list[KeyValue] = list(pairs)
    return {kv.key: _value(kv.value) for kv in items}


@dataclass
class RecordedSpan:
    """One span as a Langfuse server receives it."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    status_code: str
    """``STATUS_CODE_UNSET``, ``STATUS_CODE_OK`` or ``STATUS_CODE_ERROR``."""
    status_message: str
    attributes: dict[str, Any]
    scope_name: str
    scope_attributes: dict[str, Any]
    resource_attributes: dict[str, Any]

    @property
    def duration_ms(self) -> float:
        """End minus start, as Langfuse computes an observation's latency."""
        return (self.end_ns - self.start_ns) / 1e6

    def json(self, name: str) -> Any:
        """A JSON-encoded attribute (input, output, usage, metadata values), decoded."""
        return json.loads(self.attributes[name])


@dataclass
class ExportRequest:
    """One OTLP export POST."""

    headers: dict[str, str]
    compressed: bool
    spans: list[RecordedSpan] = field(default_factory=list)


class FakeLangfuse:
    """See the module docstring."""

    def __init__(self, *, public_key: str, secret_key: str) -> None:
        self.public_key = public_key
        self.secret_key = secret_key
        self.hang = False
        self.exports: list[ExportRequest] = []
        self.rejected = 0
        self.unexpected: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._hanging: set[asyncio.Event] = set()

    @property
    def url(self) -> str:
        """Base URL (what ``LANGFUSE_HOST`` is set to)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def spans(self) -> list[RecordedSpan]:
        """Every span received, in arrival order."""
        return [span for export in self.exports for span in export.spans]

    @property
    def generations(self) -> list[RecordedSpan]:
        """Spans that Langfuse stores as generations, oldest first."""
        found = [s for s in self.spans
                 if s.attributes.get("langfuse.observation.type") == "generation"]
        return sorted(found, key=lambda s: s.start_ns)

    async def start(self) -> FakeLangfuse:
        """Listen on a free loopback port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post(TRACES_PATH, self._traces)
        app.router.add_route("*", "/{tail:.*}", self._other)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=0.2)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        """Stop listening; hanging requests are released (idempotent)."""
        for event in self._hanging:
            event.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    def _authorized(self, request: web.Request) -> bool:
        token = base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {token}"

    async def _traces(self, request: web.Request) -> web.Response:
        if self.hang:
            released = asyncio.Event()
            self._hanging.add(released)
            await released.wait()
            return web.Response(status=503)
        if not self._authorized(request):
            self.rejected += 1
            return web.json_response({"message": "Invalid credentials"}, status=401)
        if request.content_type != _PROTOBUF:
            return web.json_response({"message": "expected protobuf"}, status=415)
        body = await request.read()
        # aiohttp inflates gzip request bodies itself; accept a raw one as well.
        compressed = request.headers.get("Content-Encoding") == "gzip"
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        export = ExportRequest(headers=dict(request.headers), compressed=compressed)
        for resource_spans in message.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                scope = scope_spans.scope
                for span in scope_spans.spans:
                    export.spans.append(RecordedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status_code=Status.StatusCode.Name(span.status.code),
                        status_message=span.status.message,
                        attributes=_attributes(span.attributes),
                        scope_name=scope.name,
                        scope_attributes=_attributes(scope.attributes),
                        resource_attributes=resource,
                    ))
        self.exports.append(export)
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                            content_type=_PROTOBUF)

    async def _other(self, request: web.Request) -> web.Response:
        self.unexpected.append(f"{request.method} {request.path}")
        return web.json_response({"message": "not found"}, status=404)
