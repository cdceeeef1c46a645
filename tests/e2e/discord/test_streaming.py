"""Streamed replies through the real hikari REST client into the fake Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import hikari

from libra.discord.pacing import EditPacer, StreamRenderer
from libra.discord.render import split_message
from tests.e2e.discord.conftest import BotRunner
from tests.fakes.fake_discord import FakeDiscord


async def deltas(text: str, per_second: float) -> AsyncIterator[str]:
    for word in text.split(" "):
        await asyncio.sleep(1 / per_second)
        yield word + " "


async def test_concurrent_streamed_replies_land_complete_within_the_budget() -> None:
    fake = FakeDiscord(edit_limit=5, edit_window=1.0)
    await fake.start()
    runner = BotRunner(fake)
    try:
        bot, _ = await runner.start()
        channel = fake.text_channel.id
        pacer = EditPacer(limit=5, window=1.0)
        texts = [
            f"reply {n}: " + " ".join(f"word{i}" for i in range(40 + n * 60)) for n in range(6)
        ]
        assert max(len(t) for t in texts) > 2000

        async def stream(text: str) -> list[hikari.Message]:
            async def send(content: str) -> hikari.Message:
                return await bot.rest.create_message(channel, content)

            async def edit(message: hikari.Message, content: str) -> None:
                await bot.rest.edit_message(channel, message, content)

            renderer: StreamRenderer[hikari.Message] = StreamRenderer(
                send=send, edit=edit, pacer=pacer, channel=channel
            )
            return (await renderer.run(deltas(text, 150))).handles

        handles = await asyncio.gather(*(stream(t) for t in texts))

        stored = {m.id: m.content for m in fake.bot_messages(channel)}
        for text, messages in zip(texts, handles, strict=True):
            assert [stored[m.id] for m in messages] == split_message(text + " ")
        assert fake.limiter.stats.max_edits_in_window(channel, 1.0) <= 5
        assert fake.limiter.stats.responses_429 == 0
    finally:
        await runner.stop_all()
        await fake.stop()
