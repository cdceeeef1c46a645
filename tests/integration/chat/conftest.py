"""A real Libra app (storage, language, llm, chat plugins) against a fake Ollama."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from libra.app import LibraApp, Mode, build_graph
from libra.bus import EventBus
from libra.chat.api import ChatService, ChatTurn
from libra.chat.plugin import ChatPlugin
from libra.chat.service import ChatServiceImpl
from libra.chat.stream import ChatReplyStream
from libra.config import Settings
from libra.events import Event
from libra.health import HealthRegistry
from libra.language.api import LanguageService
from libra.language.plugin import LanguagePlugin
from libra.language.service import ChannelLanguageService
from libra.llm.api import LLMService
from libra.llm.plugin import LLMPlugin, build_llm
from libra.plugin import Plugin
from libra.storage.api import Storage
from libra.storage.db import Database
from libra.storage.plugin import StoragePlugin
from tests.fakes.fake_ollama import FakeOllama

AppFactory = Callable[..., "Any"]


def settings_for(pg_url: str | None, ollama: FakeOllama, data_dir: Path,
                 **llm: Any) -> Settings:
    data: dict[str, Any] = {
        "app": {"data_dir": str(data_dir)},
        "llm": {"servers": [ollama.url], "warmup": False, "coalesce_ms": 0,
                "coalesce_chars": 1, **llm},
    }
    if pg_url is not None:
        data["database"] = {"url": pg_url}
    return Settings.model_validate(data)


def without_storage(settings: Settings,
                    ) -> tuple[LibraApp, ChatServiceImpl, ChannelLanguageService, LLMService]:
    """Language, LLM and chat wired as the root does, but with no store at all."""
    bus, health = EventBus(), HealthRegistry()
    language = LanguagePlugin(ChannelLanguageService(settings, bus), health=health)
    llm = LLMPlugin(build_llm(settings, bus), health=health)
    chat = ChatServiceImpl(settings=settings.chat, bus=bus, language=language.service,
                           llm=llm.service, storage=None,
                           prompt_window=max(settings.llm.num_ctx - settings.llm.num_predict,
                                             settings.llm.num_ctx // 2))
    plugins: list[Plugin] = [language, llm, ChatPlugin(chat, needs=(language, llm))]
    return (LibraApp(settings, plugins, bus=bus, health=health), chat, language.service,
            llm.service)


class ChatHarness:
    """The started app plus helpers to talk to it like a transport would."""

    def __init__(self, app: LibraApp, chat: ChatServiceImpl, language: LanguageService,
                 storage: StoragePlugin | None, llm: LLMService) -> None:
        self.app = app
        self.llm = llm
        self._chat = chat
        self._storage = storage
        self.language = language
        self.events: list[Event] = []
        app.bus.subscribe(Event, self._record)

    async def _record(self, event: Event) -> None:
        self.events.append(event)

    @property
    def chat(self) -> ChatService:
        return self._chat

    @property
    def storage(self) -> Storage:
        assert self._storage is not None
        return self._storage.stores

    @property
    def database(self) -> Database:
        """The connected database (tests that read rows directly)."""
        assert self._storage is not None and self._storage.database is not None
        return self._storage.database

    async def start(self, text: str, *, user: int = 1001, channel: int = 2002,
                    guild: int | None = 3003) -> ChatReplyStream:
        stream = await self.chat.reply(ChatTurn(user_id=user, channel_id=channel,
                                                guild_id=guild, text=text))
        assert isinstance(stream, ChatReplyStream)
        return stream

    async def ask(self, text: str, **kwargs: Any) -> ChatReplyStream:
        stream = await self.start(text, **kwargs)
        async for _ in stream:
            pass
        await self.settle()
        return stream

    async def settle(self) -> None:
        """Wait until the finished replies are stored and their events handled."""
        await self._chat.drain()
        await self.app.bus.drain(5)

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest_asyncio.fixture
async def make_chat(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    apps: list[LibraApp] = []

    async def make(ollama: FakeOllama, pg_url: str | None, *, storage: bool = True,
                   **llm: Any) -> ChatHarness:
        settings = settings_for(pg_url, ollama, tmp_path, **llm)
        if storage:
            graph = build_graph(settings, Mode.CHAT)
            app = LibraApp.of(graph)
            harness = ChatHarness(app, graph.chat.service, graph.language.service,
                                  graph.storage, graph.llm.service)
        else:
            app, chat, language, llm_service = without_storage(settings)
            harness = ChatHarness(app, chat, language, None, llm_service)
        await app.start()
        apps.append(app)
        return harness

    yield make
    for app in apps:
        await app.stop()
