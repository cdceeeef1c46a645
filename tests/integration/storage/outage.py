"""A whole chat Libra on a database behind a proxy that can go down or dark."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from libra.app import LibraApp, Mode, build_graph
from libra.chat.api import ChatTurn
from libra.chat.stream import ChatReplyStream
from libra.config import Settings
from libra.health import HealthRegistry
from libra.storage.plugin import StoragePlugin
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.freezable_proxy import FreezableProxy, proxied_url

USER, CHANNEL, GUILD = 1001, 2002, 3003


def chat_settings(url: str, ollama: FakeOllama, data_dir: Path, **database: Any) -> Settings:
    """Settings for a chat app on ``url``, keeping its data in ``data_dir``."""
    return Settings.model_validate({
        "app": {"data_dir": str(data_dir)},
        "database": {"url": url, "connect_timeout": 2, **database},
        "llm": {"servers": [ollama.url], "warmup": False, "coalesce_ms": 0,
                "coalesce_chars": 1},
    })


def storage_app(settings: Settings) -> tuple[LibraApp, StoragePlugin]:
    """Storage alone, reporting to the app's health registry."""
    health = HealthRegistry()
    plugin = StoragePlugin(settings, health=health)
    return LibraApp(settings, [plugin], health=health), plugin


def chat_app(settings: Settings) -> LibraApp:
    """Storage, language, LLM and chat, as ``libra chat`` runs them."""
    return LibraApp.of(build_graph(settings, Mode.CHAT))


async def say(app: LibraApp, text: str, *, user: int = USER, channel: int = CHANNEL) -> str:
    """Send one message and return the whole reply."""
    assert app.graph is not None
    chat = app.graph.chat.service
    stream = await chat.reply(ChatTurn(user_id=user, channel_id=channel, guild_id=GUILD,
                                       text=text))
    assert isinstance(stream, ChatReplyStream)
    return "".join([delta async for delta in stream])


def cut(proxy: FreezableProxy, outage: str) -> None:
    """Take the database away: ``down`` resets connections, ``dark`` stops answering."""
    if outage == "down":
        proxy.go_down()
    else:
        proxy.frozen.set()


async def stored_conversation(pg_url: str, *, user: int = USER,
                              channel: int = CHANNEL) -> list[tuple[str, str]]:
    """(role, content) of every message the user's session holds, oldest first."""
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch(
            "SELECT m.role, m.content FROM messages m JOIN users u ON u.id = m.user_id "
            "WHERE u.discord_id = $1 AND m.channel_id = $2 ORDER BY m.id", user, channel)
        return [(row["role"], row["content"]) for row in rows]
    finally:
        await conn.close()


async def count_rows(pg_url: str, table: str) -> int:
    """Rows in ``table`` of the test database (read directly, not through Libra)."""
    conn = await asyncpg.connect(pg_url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def all_stored(app: LibraApp, timeout: float = 20) -> None:
    """Wait until storage is connected and holds every queued write."""
    [plugin] = [p for p in app.manager.plugins if isinstance(p, StoragePlugin)]
    assert plugin.storage is not None
    await asyncio.wait_for(plugin.storage.wait_stored(), timeout)


@asynccontextmanager
async def proxied_chat(pg_url: str, ollama: FakeOllama, data_dir: Path,
                       **database: Any) -> AsyncIterator[tuple[LibraApp, FreezableProxy]]:
    """A started chat app whose database sits behind a proxy the test can cut."""
    proxy = FreezableProxy(pg_url)
    port = await proxy.start()
    try:
        app = chat_app(chat_settings(proxied_url(pg_url, port), ollama, data_dir, **database))
        await app.start()
        try:
            yield app, proxy
        finally:
            proxy.restore()
            await asyncio.wait_for(app.stop(), 30)
    finally:
        await proxy.close()
