"""The chat plugin: publishes :class:`ChatService` built on language, llm and storage."""

from __future__ import annotations

from loguru import logger

from libra.chat.api import ChatService
from libra.chat.service import ChatServiceImpl
from libra.language.api import LanguageService
from libra.llm.api import LLMService
from libra.plugin import Plugin, PluginContext
from libra.storage.api import Storage


class ChatPlugin(Plugin):
    """Conversation: prompts, streaming replies, persistence and memory."""

    name = "chat"
    requires = ("language", "llm")
    wants = ("storage",)

    def __init__(self) -> None:
        self._ctx: PluginContext | None = None
        self._service: ChatServiceImpl | None = None

    async def start(self, ctx: PluginContext) -> None:
        """Build the service from the other plugins' services."""
        self._ctx = ctx
        service = ChatServiceImpl(
            settings=ctx.settings.chat,
            bus=ctx.bus,
            language=ctx.services.get(LanguageService),  # type: ignore[type-abstract]
            llm=ctx.services.get(LLMService),  # type: ignore[type-abstract]
            storage=ctx.services.find(Storage),  # type: ignore[type-abstract]
            prompt_window=max(ctx.settings.llm.num_ctx - ctx.settings.llm.num_predict,
                              ctx.settings.llm.num_ctx // 2),
        )
        self._service = service
        ctx.services.register(ChatService, service)  # type: ignore[type-abstract]

    async def stop(self) -> None:
        """Withdraw the service after storing what finished replies still hold."""
        if self._service is not None:
            try:
                await self._service.drain(self._ctx.settings.app.shutdown_timeout
                                          if self._ctx else 10.0)
            except TimeoutError:
                logger.warning("chat: some messages were not stored before shutdown")
            self._service = None
        if self._ctx is not None:
            self._ctx.services.unregister(ChatService)
            self._ctx = None
