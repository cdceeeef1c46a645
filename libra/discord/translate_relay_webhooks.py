"""The webhook Libra posts translations through, one per channel, found or created once.

A webhook lets a translated message carry its author's name and avatar. It needs the
Manage Webhooks permission; without it the relay posts as the bot, naming the author,
and this directory remembers the refusal for ``RETRY_REFUSED`` seconds rather than
asking Discord again for every message. After a restart the webhook (and its token,
never stored) is found again by listing the channel's webhooks.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import hikari
from loguru import logger

from libra.bounded import LruDict

WEBHOOK_NAME = "Libra translations"
RETRY_REFUSED = 600.0
"""Seconds before asking again in a channel where Discord refused the webhook."""
USERNAME_MAX = 80
"""Discord's longest webhook username."""
FALLBACK_USERNAME = "Someone"
"""The name of an author whose name has nothing Discord accepts."""
_FORBIDDEN = re.compile(r"discord|clyde", re.IGNORECASE)
"""Substrings Discord refuses in a webhook's username (400, code 50035)."""
_BREAK = "\u200b"
"""A zero-width space: breaks a forbidden word without changing how it reads."""


def webhook_username(name: str) -> str:
    """``name`` as Discord accepts it for a webhook message (1 to 80 characters).

    Discord refuses the whole message when the username contains "discord" or
    "clyde" (any case) — an author called "DiscordFan" would lose every relayed
    message — so those words are broken by a zero-width space after their first
    letter; "everyone" and "here" alone are refused too. Whitespace is collapsed.
    """
    cleaned = " ".join(name.split()).replace("`" * 3, "`\u200b``")
    cleaned = _FORBIDDEN.sub(lambda m: m.group(0)[0] + _BREAK + m.group(0)[1:], cleaned)
    if cleaned.lower() in {"everyone", "here"}:
        cleaned = cleaned[0] + _BREAK + cleaned[1:]
    cleaned = cleaned[:USERNAME_MAX].strip()
    return cleaned or FALLBACK_USERNAME


@dataclass(frozen=True, slots=True)
class RelayWebhook:
    """A channel webhook Libra may execute."""

    id: int
    token: str
    channel_id: int


class WebhookDirectory:
    """Libra's webhook per channel (bounded cache; refusals remembered for a while)."""

    def __init__(self, rest: hikari.api.RESTClient, application_id: int) -> None:
        self._rest = rest
        self.application_id = application_id
        """Whose webhooks are Libra's (the bot's id, known once connected)."""
        self._webhooks: LruDict[int, RelayWebhook] = LruDict()
        self._refused: LruDict[int, float] = LruDict()
        self._locks: LruDict[int, asyncio.Lock] = LruDict()
        self.warned: set[int] = set()
        """Guilds whose admins were told webhooks are not permitted (told once)."""

    def forget(self, channel_id: int) -> None:
        """The channel's webhook is gone (deleted by a moderator): find or make another."""
        self._webhooks.pop(channel_id, None)

    async def for_channel(self, channel_id: int) -> RelayWebhook | None:
        """Libra's webhook in the channel, or ``None`` when it may not have one."""
        known = self._webhooks.get(channel_id)
        if known is not None:
            return known
        refused_at = self._refused.get(channel_id)
        if refused_at is not None and time.monotonic() - refused_at < RETRY_REFUSED:
            return None
        lock = self._locks.get(channel_id)
        if lock is None:
            lock = self._locks[channel_id] = asyncio.Lock()
        async with lock:  # two messages at once must not create two webhooks
            if (known := self._webhooks.get(channel_id)) is not None:
                return known
            try:
                webhook = await self._find_or_create(channel_id)
            except hikari.ForbiddenError:
                logger.info("no Manage Webhooks permission in channel {}: translations are "
                            "posted by the bot, naming their author", channel_id)
                self._refused[channel_id] = time.monotonic()
                return None
            except hikari.BadRequestError as err:  # e.g. the channel has 15 webhooks
                logger.warning("cannot create a webhook in channel {}: {}", channel_id, err)
                self._refused[channel_id] = time.monotonic()
                return None
            if webhook is None:
                self._refused[channel_id] = time.monotonic()
                return None
            self._refused.pop(channel_id, None)
            self._webhooks[channel_id] = webhook
            return webhook

    async def _find_or_create(self, channel_id: int) -> RelayWebhook | None:
        for existing in await self._rest.fetch_channel_webhooks(channel_id):
            if (isinstance(existing, hikari.IncomingWebhook) and existing.token
                    and existing.application_id == self.application_id
                    and existing.name == WEBHOOK_NAME):
                return RelayWebhook(int(existing.id), existing.token, channel_id)
        created = await self._rest.create_webhook(channel_id, WEBHOOK_NAME,
                                                  reason="Libra: linked channel translations")
        if not created.token:
            logger.warning("Discord returned a webhook without a token in channel {}",
                           channel_id)
            return None
        return RelayWebhook(int(created.id), created.token, channel_id)

    async def may_use(self, channel_id: int) -> bool:
        """Whether a webhook can be used in the channel now (finds or creates it)."""
        return await self.for_channel(channel_id) is not None
