"""A real Libra app (bus, health registry, plugins) with the admin port on loopback."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import Morsel
from pathlib import Path
from typing import Any

import aiohttp
from loguru import logger
from pydantic import SecretStr
from yarl import URL

from libra.admin.api import TranslationStatsSource
from libra.admin.auth import SECRET_HEADER, signed_headers
from libra.admin.plugin import AdminPlugin
from libra.app import LibraApp, Mode, build_graph
from libra.config import AdminSettings, AppSettings, LLMSettings, RedisSettings, Settings
from libra.health import ComponentHealth, HealthRegistry, Status
from libra.storage.api import UsageStats


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, Morsel[str]] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error(self) -> str | None:
        try:
            data = self.json()
        except ValueError:
            return None
        return data.get("error") if isinstance(data, dict) else None


@dataclass
class AdminHarness:
    app: LibraApp
    plugin: AdminPlugin
    settings: Settings
    secret: bytes
    http: aiohttp.ClientSession
    parts: tuple[str, ...] = ()

    @property
    def port(self) -> int:
        assert self.settings.admin.port is not None
        return self.settings.admin.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health(self) -> HealthRegistry:
        return self.app.health

    def auth_headers(self, method: str, path: str, body: bytes = b"") -> dict[str, str]:
        if self.settings.admin.auth_mode == "simple":
            return {SECRET_HEADER: self.secret.decode()}
        return signed_headers(self.secret, method, path, body)

    async def request(self, method: str, path: str, *, body: bytes = b"",
                      headers: dict[str, str] | None = None, auth: bool = True) -> Reply:
        sent = dict(headers or {})
        if auth:
            sent = {**self.auth_headers(method, path, body), **sent}
        if body and "Content-Type" not in sent:
            sent["Content-Type"] = "application/json"
        async with self.http.request(method, URL(self.url + path, encoded=True), data=body,
                                     headers=sent, allow_redirects=False) as resp:
            return Reply(resp.status, dict(resp.headers), await resp.read(), dict(resp.cookies))

    async def raw(self, request_head: str, body: bytes = b"") -> Reply:
        """Send bytes as written (no client-side normalisation of the path)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(request_head.encode() + body)
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
            status = int(lines[0].split()[1])
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip()] = value.strip()
            if "Content-Length" in headers:
                payload = await asyncio.wait_for(
                    reader.readexactly(int(headers["Content-Length"])), 10)
            else:
                payload = await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
            await writer.wait_closed()
        if headers.get("Transfer-Encoding") == "chunked":
            payload = _dechunk(payload)
        return Reply(status, headers, payload)

    async def stop(self) -> None:
        await self.http.close()
        await self.app.stop("test")


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return out


def ok_check(name: str, status: Status = Status.OK) -> Any:
    async def check() -> ComponentHealth:
        return ComponentHealth(name=name, status=status, detail=f"{name} {status}")

    return check


def admin_settings(*, data_dir: Path | None = None, redis_url: str | None = None,
                   llm: dict[str, Any] | None = None, **admin: Any) -> Settings:
    """Settings with the admin port on a free port; state in ``data_dir`` (default: a
    fresh temporary folder)."""
    values: dict[str, Any] = {"port": free_port(), "secret": SecretStr(secrets.token_hex(32)),
                              "failed_auth_limit": 1000}
    values.update(admin)
    app = AppSettings(data_dir=data_dir or Path(tempfile.mkdtemp(prefix="libra-admin-")))
    return Settings(app=app, admin=AdminSettings(**values),
                    llm=LLMSettings(**{"warmup": False, **(llm or {})}),
                    redis=RedisSettings(url=SecretStr(redis_url) if redis_url else None))


@contextmanager
def captured_logs(level: str = "INFO") -> Iterator[list[str]]:
    """Every Libra log line at ``level`` or above, as ``LEVEL|message``."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(f"{m.record['level'].name}|{m.record['message']}"),
                      level=level)
    try:
        yield lines
    finally:
        logger.remove(sink)


async def start_harness(settings: Settings, parts: Sequence[str] = (), *,
                        usage: UsageStats | None = None,
                        translations: TranslationStatsSource | None = None) -> AdminHarness:
    """Admin plus the graph's ``parts`` (plugin names); ``usage`` and ``translations``
    stand for storage's."""
    graph = build_graph(settings, Mode.CHAT)
    chosen = [p for p in graph.plugins if p.name in parts]
    if usage is None and "storage" in parts:
        usage = graph.storage.usage
    # The registry storage adds its families to (the root made it for the admin).
    metrics = graph.admin.metrics if graph.admin is not None else None
    plugin = AdminPlugin(metrics=metrics, health=graph.health, usage=usage,
                         llm=graph.llm.service if "llm" in parts else None,
                         voice_turns=graph.voice_turns,
                         translations=translations)
    app = LibraApp(settings, [*chosen, plugin], bus=graph.bus, health=graph.health)
    app.graph = graph
    await app.start()
    secret = settings.admin.secret
    assert secret is not None
    http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    return AdminHarness(app, plugin, settings, secret.get_secret_value().encode(), http,
                        tuple(parts))
