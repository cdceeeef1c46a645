"""50 concurrent streamed replies in 5 channels against the fake Discord, through hikari REST.

Each conversation's model produces 30 tokens/s; a ``StreamRenderer`` per reply sends
and edits through a real ``hikari.RESTApp`` client, sharing one ``EditPacer``. Prints
JSON: max accepted edits per channel in any 5 s window, 429 count, added latency from a
reply's first token to its first visible text and from its last token to its final
edit (median/p99), wall time and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import hikari

from bench._stats import summary
from libra.discord.pacing import EditPacer, StreamRenderer
from libra.discord.render import split_message
from tests.fakes.fake_discord import ChannelType, FakeChannel, FakeDiscord

VOCABULARY = ("the", "model", "answers", "in", "small", "pieces", "while", "discord", "shows")


async def tokens(
    seed: int, count: int, per_second: float, marks: list[float]
) -> AsyncIterator[str]:
    """The model: ``count`` tokens at ``per_second``; ``marks`` gets first and last token times."""
    rng = random.Random(seed)
    for n in range(count):
        await asyncio.sleep(1 / per_second)
        if n in (0, count - 1):
            marks.append(time.monotonic())
        yield rng.choice(VOCABULARY) + " "


def full_text(seed: int, count: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(VOCABULARY) + " " for _ in range(count))


async def conversation(
    rest: hikari.api.RESTClient,
    pacer: EditPacer,
    channel: int,
    seed: int,
    count: int,
    rate: float,
) -> tuple[float, float, bool]:
    async def send(content: str) -> hikari.Message:
        return await rest.create_message(channel, content)

    async def edit(message: hikari.Message, content: str) -> None:
        await rest.edit_message(channel, message, content)

    renderer: StreamRenderer[hikari.Message] = StreamRenderer(
        send=send, edit=edit, pacer=pacer, channel=channel
    )
    marks: list[float] = []
    reply = await renderer.run(tokens(seed, count, rate, marks))
    final_visible = time.monotonic()
    assert reply.first_visible_at is not None
    complete = reply.parts == split_message(full_text(seed, count))
    return reply.first_visible_at - marks[0], final_visible - marks[-1], complete


async def main(conversations: int, channels: int, rate: float, count: int) -> dict[str, object]:
    fake = FakeDiscord()
    guild = fake.world.guilds[0]
    for n in range(channels - 1):
        guild.channels.append(
            FakeChannel(
                id=fake.world.snowflakes.next(),
                name=f"bench-{n}",
                type=ChannelType.GUILD_TEXT,
                guild_id=guild.id,
            )
        )
    channel_ids = [c.id for c in guild.channels if c.type is ChannelType.GUILD_TEXT][:channels]
    await fake.start()
    rest_app = hikari.RESTApp(url=fake.rest_url)
    await rest_app.start()
    pacer = EditPacer(limit=5, window=5.0)
    started = time.monotonic()
    try:
        async with rest_app.acquire(fake.token, hikari.TokenType.BOT) as rest:
            results = await asyncio.gather(
                *(
                    conversation(rest, pacer, channel_ids[n % channels], n, count, rate)
                    for n in range(conversations)
                )
            )
    finally:
        await rest_app.close()
        await fake.stop()
    wall = time.monotonic() - started
    latencies = sorted(first * 1000 for first, _, _ in results)
    final_lags = sorted(final for _, final, _ in results)
    stats = fake.limiter.stats
    return {
        "conversations": conversations,
        "channels": channels,
        "tokens_per_second": rate,
        "tokens_per_reply": count,
        "max_edits_per_channel_per_5s": max(stats.max_edits_in_window(c, 5.0) for c in channel_ids),
        "edits_total": sum(len(stats.edits_by_channel.get(c, [])) for c in channel_ids),
        "responses_429": stats.responses_429,
        "replies_complete": sum(complete for _, _, complete in results),
        "first_visible_added_ms": summary(latencies, 1),
        "final_text_lag_s": summary(final_lags, 2),
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--rate", type=float, default=30.0, help="tokens per second per reply")
    parser.add_argument("--tokens", type=int, default=300, help="tokens per reply")
    arguments = parser.parse_args()
    result = asyncio.run(
        main(arguments.conversations, arguments.channels, arguments.rate, arguments.tokens)
    )
    print(json.dumps(result, indent=2))
