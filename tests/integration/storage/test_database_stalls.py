"""A database that stops answering while Libra runs (a host gone dark, no RST)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from libra.chat.api import ChatTurn
from libra.chat.stream import ChatReplyStream
from libra.config import DatabaseSettings, Settings
from libra.errors import DatabaseUnavailable
from libra.health import Status
from libra.storage import migrate
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.freezable_proxy import FreezableProxy, proxied_url

from .outage import chat_app, storage_app


async def test_health_answers_in_time_when_the_database_stops_answering(
    pg_url: str, tmp_path: Path,
) -> None:
    proxy = FreezableProxy(pg_url)
    port = await proxy.start()
    settings = Settings(database=DatabaseSettings(
        url=SecretStr(proxied_url(pg_url, port)), connect_timeout=2))
    app, _ = storage_app(settings)
    await app.start()
    try:
        proxy.frozen.set()
        t0 = time.monotonic()
        # Readiness probes and `libra admin status` rely on this timeout: a check
        # stuck inside the driver must not hold the whole report hostage.
        results = await asyncio.wait_for(app.health.run(timeout=1.0), 10)
        assert time.monotonic() - t0 < 3
        by_name = {r.name: r for r in results}
        assert by_name["database"].status is Status.DOWN
        assert "1s" in by_name["database"].detail
    finally:
        proxy.thaw()
        await asyncio.wait_for(app.stop(), 15)
        await proxy.close()


async def test_a_chat_reply_answers_without_history_when_the_database_stops_answering(
    pg_url: str, tmp_path: Path, fake_ollama: FakeOllama,
) -> None:
    # DESIGN: an unreachable database degrades one feature, never the process. A
    # query to a host that went dark must give up in time, so the chat service can
    # answer without history instead of waiting minutes for TCP to give up.
    proxy = FreezableProxy(pg_url)
    port = await proxy.start()
    settings = Settings.model_validate({
        "app": {"data_dir": str(tmp_path)},
        "database": {"url": proxied_url(pg_url, port), "connect_timeout": 2,
                     "query_timeout": 1},
        "llm": {"servers": [fake_ollama.url], "warmup": False, "coalesce_ms": 0,
                "coalesce_chars": 1},
    })
    app = chat_app(settings)
    await app.start()
    try:
        proxy.frozen.set()
        assert app.graph is not None
        chat = app.graph.chat.service
        t0 = time.monotonic()

        async def reply() -> str:
            stream = await chat.reply(ChatTurn(user_id=1001, channel_id=2002, guild_id=3003,
                                               text="Hello, how are you today?"))
            assert isinstance(stream, ChatReplyStream)
            return "".join([delta async for delta in stream])

        text = await asyncio.wait_for(reply(), 20)
        assert text
        assert time.monotonic() - t0 < 6
    finally:
        proxy.thaw()
        await asyncio.wait_for(app.stop(), 15)
        await proxy.close()


async def test_storage_reports_a_database_that_stops_answering(
    pg_url: str, tmp_path: Path,
) -> None:
    proxy = FreezableProxy(pg_url)
    port = await proxy.start()
    settings = Settings(database=DatabaseSettings(
        url=SecretStr(proxied_url(pg_url, port)), connect_timeout=2, query_timeout=1))
    app, plugin = storage_app(settings)
    await app.start()
    try:
        storage = plugin.stores
        await storage.ensure_user(7)
        proxy.frozen.set()
        t0 = time.monotonic()
        with pytest.raises(DatabaseUnavailable, match="within 1s"):
            await asyncio.wait_for(storage.ensure_user(8), 20)
        assert time.monotonic() - t0 < 3
    finally:
        proxy.thaw()
        await asyncio.wait_for(app.stop(), 15)
        await proxy.close()


class _DarkAfterFirst(FreezableProxy):
    """Forwards the first connection; every later one is accepted and never answered."""

    def __init__(self, pg_url: str) -> None:
        super().__init__(pg_url)
        self.connections = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections > 1:
            self._writers.append(writer)
            return  # the host went dark after the first connection
        await super()._handle(reader, writer)


async def test_migrating_gives_up_when_the_host_goes_dark_between_connections(
    pg_url: str,
) -> None:
    # Migrating opens a lock connection, then yoyo's own: a host that goes dark in
    # between must fail the start with a clear message, not hang it for good.
    proxy = _DarkAfterFirst(pg_url)
    port = await proxy.start()
    dsn = proxied_url(pg_url, port).replace("postgresql://", "postgresql+psycopg://")
    try:
        t0 = time.monotonic()
        with pytest.raises(DatabaseUnavailable, match="cannot reach PostgreSQL"):
            await asyncio.wait_for(migrate.apply_async(dsn, connect_timeout=2), 20)
        assert time.monotonic() - t0 < 8
        assert proxy.connections == 2
    finally:
        proxy.thaw()  # cuts a connection still stuck in a thread
        await proxy.close()
