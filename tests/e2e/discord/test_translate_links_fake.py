"""The fake Discord's webhooks and message limits are as strict as Discord's.

Linked channels post through channel webhooks; these tests pin down what the fake
enforces so that the relay's tests mean something: Manage Webhooks, 15 webhooks per
channel, 5 executes per 2 s per webhook, 5 new bot messages per 5 s per channel, and
the gateway events Discord sends for what the bot and webhooks do.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import hikari
import pytest

from tests.e2e.discord.conftest import BotRunner
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_discord.webhooks import MANAGE_WEBHOOKS


def _grant_webhooks(fake: FakeDiscord) -> None:
    fake.world.grant_bot(fake.world.guilds[0].id, MANAGE_WEBHOOKS)


async def test_webhooks_need_manage_webhooks(fake_discord: FakeDiscord,
                                             bot_runner: BotRunner) -> None:
    bot, _ = await bot_runner.start()
    channel = fake_discord.text_channel.id
    with pytest.raises(hikari.ForbiddenError):
        await bot.rest.create_webhook(channel, "Libra translations")
    with pytest.raises(hikari.ForbiddenError):
        await bot.rest.fetch_channel_webhooks(channel)


async def test_execute_edit_delete_and_the_gateway_events(fake_discord: FakeDiscord,
                                                          bot_runner: BotRunner) -> None:
    _grant_webhooks(fake_discord)
    seen: list[tuple[str, Any]] = []
    three = asyncio.Event()

    def setup(bot: hikari.GatewayBot, _: object) -> None:
        async def created(event: hikari.GuildMessageCreateEvent) -> None:
            seen.append(("create", event.message))
            if len(seen) >= 3:
                three.set()

        async def updated(event: hikari.GuildMessageUpdateEvent) -> None:
            seen.append(("update", event.message))
            if len(seen) >= 3:
                three.set()

        async def deleted(event: hikari.GuildMessageDeleteEvent) -> None:
            seen.append(("delete", event.message_id))
            if len(seen) >= 3:
                three.set()

        bot.subscribe(hikari.GuildMessageCreateEvent, created)
        bot.subscribe(hikari.GuildMessageUpdateEvent, updated)
        bot.subscribe(hikari.GuildMessageDeleteEvent, deleted)

    bot, _ = await bot_runner.start(setup)  # type: ignore[arg-type]
    channel = fake_discord.text_channel.id
    webhook = await bot.rest.create_webhook(channel, "Libra translations")
    assert webhook.token
    listed = await bot.rest.fetch_channel_webhooks(channel)
    assert [w.id for w in listed] == [webhook.id]

    sent = await bot.rest.execute_webhook(webhook.id, webhook.token, "hola",
                                          username="alice", avatar_url="https://x/a.png")
    assert sent.webhook_id == webhook.id and sent.author.username == "alice"
    assert sent.author.is_bot
    stored = fake_discord.world.find_message(sent.id)
    assert stored is not None and stored.avatar_url == "https://x/a.png"
    await bot.rest.edit_webhook_message(webhook.id, webhook.token, sent.id, "hola!")
    await bot.rest.delete_webhook_message(webhook.id, webhook.token, sent.id)
    await asyncio.wait_for(three.wait(), 5)
    kinds = [kind for kind, _ in seen]
    assert kinds == ["create", "update", "delete"]
    assert seen[0][1].webhook_id == webhook.id  # the bot can tell a webhook's message apart
    assert seen[1][1].content == "hola!"
    assert fake_discord.channel_messages(channel) == []

    # A webhook cannot touch messages that are not its own.
    own = await bot.rest.create_message(channel, "from the bot")
    with pytest.raises(hikari.NotFoundError):
        await bot.rest.edit_webhook_message(webhook.id, webhook.token, own.id, "x")


async def test_at_most_15_webhooks_per_channel(fake_discord: FakeDiscord,
                                               bot_runner: BotRunner) -> None:
    _grant_webhooks(fake_discord)
    bot, _ = await bot_runner.start()
    channel = fake_discord.text_channel.id
    for n in range(15):
        await bot.rest.create_webhook(channel, f"hook {n}")
    with pytest.raises(hikari.BadRequestError) as refused:
        await bot.rest.create_webhook(channel, "one too many")
    assert refused.value.code == 30007


async def _raw(fake: FakeDiscord, method: str, path: str, body: dict[str, Any]) -> int:
    async with aiohttp.ClientSession() as http, http.request(
            method, fake.rest_url + path, json=body,
            headers={"Authorization": f"Bot {fake.token}"}) as response:
        return response.status


@pytest.mark.breaks_discord_limits
async def test_budgets_per_webhook_and_per_channel(fake_discord: FakeDiscord,
                                                   bot_runner: BotRunner) -> None:
    _grant_webhooks(fake_discord)
    bot, _ = await bot_runner.start()
    channel = fake_discord.text_channel.id
    webhook = await bot.rest.create_webhook(channel, "Libra translations")
    execute = f"/webhooks/{webhook.id}/{webhook.token}?wait=true"
    statuses = [await _raw(fake_discord, "POST", execute, {"content": f"m{i}"})
                for i in range(6)]
    assert statuses == [200] * 5 + [429]
    posts = [await _raw(fake_discord, "POST", f"/channels/{channel}/messages",
                        {"content": f"p{i}"}) for i in range(6)]
    assert posts == [200] * 5 + [429]
    # hikari reads the advertised budget and waits instead of running into it.
    before = fake_discord.limiter.stats.budget_429
    await asyncio.sleep(5.1)
    for i in range(6):
        await bot.rest.create_message(channel, f"paced {i}")
    assert fake_discord.limiter.stats.budget_429 == before


@pytest.mark.breaks_discord_limits
async def test_at_most_30_webhook_messages_per_minute_in_a_channel(
        fake_discord: FakeDiscord, bot_runner: BotRunner) -> None:
    # Each webhook keeps its own 5 per 2 s; the channel's 30 per minute binds them all.
    _grant_webhooks(fake_discord)
    bot, _ = await bot_runner.start()
    channel = fake_discord.text_channel.id
    hooks = [await bot.rest.create_webhook(channel, f"hook {n}") for n in range(7)]
    statuses = [await _raw(fake_discord, "POST", f"/webhooks/{h.id}/{h.token}?wait=true",
                           {"content": f"{h.id}-{i}"}) for h in hooks for i in range(5)]
    assert statuses == [200] * 30 + [429] * 5
    async with aiohttp.ClientSession() as http, http.post(
            f"{fake_discord.rest_url}/webhooks/{hooks[0].id}/{hooks[0].token}?wait=true",
            json={"content": "again"}) as refused:
        assert refused.status == 429
        assert refused.headers["X-RateLimit-Scope"] == "shared"  # not in the headers' budget
        assert 50 < (await refused.json())["retry_after"] <= 60
    assert len(fake_discord.limiter.stats.channel_webhook_posts[channel]) == 30


@pytest.mark.breaks_discord_limits
async def test_reactions_need_add_reactions_and_one_per_quarter_second(
        fake_discord: FakeDiscord, bot_runner: BotRunner) -> None:
    bot, _ = await bot_runner.start()
    channel = fake_discord.text_channel
    message = await fake_discord.user_message("hello", channel=channel)
    warn = "%E2%9A%A0%EF%B8%8F"
    path = f"/channels/{channel.id}/messages/{{}}/reactions/{warn}/@me"
    assert await _raw(fake_discord, "PUT", path.format(message.id), {}) == 204
    assert await _raw(fake_discord, "PUT", path.format(message.id), {}) == 429  # within 0.25 s
    await asyncio.sleep(0.3)
    assert await _raw(fake_discord, "PUT", path.format(12345), {}) == 404
    stored = fake_discord.world.find_message(message.id)
    assert stored is not None
    assert stored.payload["reactions"] == [{"emoji": {"id": None, "name": "⚠️"}, "count": 1,
                                            "me": True}]
    # hikari reads the advertised budget and waits instead of running into it.
    before = fake_discord.limiter.stats.budget_429
    others = [await fake_discord.user_message(f"m{i}", channel=channel) for i in range(4)]
    await asyncio.sleep(0.3)
    for other in others:
        await bot.rest.add_reaction(channel.id, other.id, "⚠️")
    assert fake_discord.limiter.stats.budget_429 == before
    # Without Add Reactions a new reaction is refused.
    role = next(r for r in fake_discord.world.guilds[0].roles
                if r.bot_id == fake_discord.world.bot_user.id)
    role.permissions &= ~(1 << 6)
    last = await fake_discord.user_message("no reactions", channel=channel)
    with pytest.raises(hikari.ForbiddenError):
        await bot.rest.add_reaction(channel.id, last.id, "⚠️")
