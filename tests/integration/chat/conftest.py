"""A real Libra app (storage, language, llm, chat plugins) against a fake Ollama."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from libra.app import LibraApp
from libra.chat.api import ChatService, ChatTurn
from libra.chat.plugin import ChatPlugin
from libra.chat.stream import ChatReplyStream
from libra.config import Settings
from libra.events import Event
from libra.language.plugin import LanguagePlugin
from libra.llm.plugin import LLMPlugin
from libra.plugin import Plugin
from libra.storage.api import Storage
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


class ChatHarness:
    """The started app plus helpers to talk to it like a transport would."""

    def __init__(self, app: LibraApp) -> None:
        self.app = app
        self.events: list[Event] = []
        app.bus.subscribe(Event, self._record)

    async def _record(self, event: Event) -> None:
        self.events.append(event)

    @property
    def chat(self) -> ChatService:
        return self.app.manager.services.get(ChatService)  # type: ignore[type-abstract]

    @property
    def storage(self) -> Storage:
        return self.app.manager.services.get(Storage)  # type: ignore[type-abstract]

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
        await self.chat.drain()  # type: ignore[attr-defined]
        await self.app.bus.drain(5)

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest_asyncio.fixture
async def make_chat(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    apps: list[LibraApp] = []

    async def make(ollama: FakeOllama, pg_url: str | None, *, storage: bool = True,
                   **llm: Any) -> ChatHarness:
        settings = settings_for(pg_url, ollama, tmp_path, **llm)
        plugins: list[Plugin] = [LanguagePlugin(), LLMPlugin(), ChatPlugin()]
        if storage:
            plugins.insert(0, StoragePlugin())
        app = LibraApp(settings, plugins)
        harness = ChatHarness(app)
        await app.start()
        apps.append(app)
        return harness

    yield make
    for app in apps:
        await app.stop()
