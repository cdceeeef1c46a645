"""A whole Libra (storage, language, llm, chat, discord plugins) against the fakes.

Import the fixture into a test module (or conftest)::

    from tests.e2e.discord.libra_harness import start_libra  # noqa: F401
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import psycopg
import pytest_asyncio

from libra.app import LibraApp, Mode, build_graph
from libra.chat.plugin import ChatPlugin
from libra.chat.service import ChatServiceImpl
from libra.config import Settings
from libra.discord.permissions import UsageLimiter
from libra.discord.plugin import DiscordPlugin
from libra.events import Event
from libra.language.plugin import LanguagePlugin
from libra.language.service import ChannelLanguageService
from libra.llm.plugin import LLMPlugin, build_llm
from tests.conftest import url_with_database
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_ollama import FakeOllama


def without_storage(settings: Settings) -> LibraApp:
    """The ``run`` graph with no store at all (tests of Libra without a database)."""
    graph = build_graph(settings, Mode.RUN)
    assert graph.discord is not None
    bus, health = graph.bus, graph.health
    language = LanguagePlugin(ChannelLanguageService(settings, bus), health=health)
    llm = LLMPlugin(build_llm(settings, bus), health=health)
    chat = ChatServiceImpl(settings=settings.chat, bus=bus, language=language.service,
                           llm=llm.service, storage=None,
                           prompt_window=max(settings.llm.num_ctx - settings.llm.num_predict,
                                             settings.llm.num_ctx // 2))
    chat_plugin = ChatPlugin(chat, needs=(language, llm))
    discord = DiscordPlugin(chat=chat, language=language.service, llm=llm.service,
                            limiter=UsageLimiter(settings.discord), voice=graph.discord.voice,
                            health=health, voice_turns=graph.voice_turns,
                            needs=(chat_plugin, language, llm))
    bare = dataclasses.replace(graph, language=language, llm=llm, chat=chat_plugin,
                               discord=discord)
    app = LibraApp(settings, bare.plugins[1:], bus=bus, health=health)  # no storage
    app.graph = bare
    return app


class LibraBot:
    """The started app, its Discord plugin and helpers to inspect the outcome."""

    def __init__(self, app: LibraApp, plugin: DiscordPlugin, fake: FakeDiscord,
                 ollama: FakeOllama, pg_url: str | None) -> None:
        self.app = app
        self.plugin = plugin
        self.fake = fake
        self.ollama = ollama
        self.pg_url = pg_url
        self.events: list[Event] = []
        app.bus.subscribe(Event, self._record)

    @property
    def chat(self) -> ChatServiceImpl:
        """The chat service the bot answers with."""
        assert self.app.graph is not None
        return self.app.graph.chat.service

    @property
    def language(self) -> ChannelLanguageService:
        """The language service the bot answers with."""
        assert self.app.graph is not None
        return self.app.graph.language.service

    async def _record(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list[Any]:
        """Recorded events of one type."""
        return [e for e in self.events if isinstance(e, kind)]

    async def settle(self) -> None:
        """Wait until finished replies are stored and their events handled."""
        await self.chat.drain()
        await self.app.bus.drain(5)

    async def query(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """Rows from the test database."""
        assert self.pg_url is not None
        connection = await asyncpg.connect(self.pg_url)
        try:
            return list(await connection.fetch(sql, *args))
        finally:
            await connection.close()


StartLibra = Callable[..., Awaitable[LibraBot]]


def libra_settings(fake: FakeDiscord, ollama: FakeOllama, pg_url: str | None, data_dir: Path,
                   *, llm: dict[str, Any] | None = None, voice: dict[str, Any] | None = None,
                   **discord: Any) -> Settings:
    """Settings pointing every plugin at the fakes; ``llm``/``voice``/``discord`` override."""
    data: dict[str, Any] = {
        "app": {"data_dir": str(data_dir)},
        "llm": {"servers": [ollama.url], "warmup": False, "coalesce_ms": 0,
                "coalesce_chars": 1, **(llm or {})},
        "discord": {"token": fake.token, "rest_url": fake.rest_url,
                    "guild_ids": [g.id for g in fake.world.guilds], **discord},
        "voice": voice or {},
    }
    if pg_url is not None:
        data["database"] = {"url": pg_url}
    return Settings.model_validate(data)


@pytest_asyncio.fixture
async def start_libra(tmp_path: Path) -> AsyncIterator[StartLibra]:
    """``await start_libra(fake_discord, fake_ollama, pg_url, **discord_settings)``."""
    apps: list[LibraApp] = []

    async def start(fake: FakeDiscord, ollama: FakeOllama, pg_url: str | None, *,
                    llm: dict[str, Any] | None = None, voice: dict[str, Any] | None = None,
                    **discord: Any) -> LibraBot:
        settings = libra_settings(fake, ollama, pg_url, tmp_path, llm=llm, voice=voice,
                                  **discord)
        app = (LibraApp.of(build_graph(settings, Mode.RUN)) if pg_url is not None
               else without_storage(settings))
        assert app.graph is not None and app.graph.discord is not None
        bot = LibraBot(app, app.graph.discord, fake, ollama, pg_url)
        await app.start()
        apps.append(app)
        return bot

    yield start
    for app in reversed(apps):
        await app.stop()


@contextmanager
def database_down(pg_url: str) -> Iterator[None]:
    """Refuse and drop every connection to the test database for the block."""
    # Parsed, not split: the embedded server's URL carries ?host=/socket/dir.
    name = urlsplit(pg_url).path.lstrip("/")
    admin_url = url_with_database(pg_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s", (name,))
    try:
        yield
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
