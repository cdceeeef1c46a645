"""The chat plugin: the lifecycle of :class:`ChatService` (built by the composition root)."""

from __future__ import annotations

from typing import ClassVar

from loguru import logger

from libra.chat.service import ChatServiceImpl
from libra.plugin import Plugin, PluginContext


class ChatPlugin(Plugin):
    """Conversation: prompts, streaming replies, persistence and memory."""

    name: ClassVar[str] = "chat"

    def __init__(self, service: ChatServiceImpl, *, needs: tuple[Plugin, ...] = ()) -> None:
        """``service``: built with its language, LLM and store; ``needs``: their plugins."""
        self.service = service
        self.needs = needs
        self._timeout = 10.0

    async def start(self, ctx: PluginContext) -> None:
        """Nothing to acquire: the service is ready once its parts have started."""
        self._timeout = ctx.settings.app.shutdown_timeout

    async def stop(self) -> None:
        """Store what finished replies still hold (idempotent)."""
        try:
            await self.service.drain(self._timeout)
        except TimeoutError:
            logger.warning("chat: some messages were not stored before shutdown")
