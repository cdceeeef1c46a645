"""50 concurrent conversations in 5 channels through the whole Discord text stack.

The real plugins (storage, language, llm, chat, discord: hikari ``GatewayBot`` +
lightbulb) run against the fake Discord and a fake Ollama streaming 30 tokens/s per
reply. Users mention the bot; the bot types, posts its reply and edits it as tokens
arrive, sharing each channel's edit budget. Measures, from the fake's records:
accepted edits per channel in any 5 s window (Discord allows 5), 429s (any, and those
the edit budget caused), added latency from a user's message to the first visible
reply text (the fake model emits its first token at once, so all of it is Libra +
hikari + the fakes), replies completed intact, and RSS. Prints JSON.

Run: .venv/bin/python bench/discord.py [--conversations 50 --channels 5 --tokens 150]
(set TEST_DATABASE_URL to use a running PostgreSQL instead of the embedded one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loguru import logger  # noqa: E402

from bench._stats import summary  # noqa: E402
from libra.app import LibraApp, Mode, build_graph  # noqa: E402
from libra.config import Settings  # noqa: E402
from libra.events import DiscordRateLimited  # noqa: E402
from tests.e2e.discord.libra_harness import without_storage  # noqa: E402
from tests.fakes.fake_discord import (  # noqa: E402
    ChannelType,
    FakeChannel,
    FakeDiscord,
    FakeMember,
    FakeUser,
)
from tests.fakes.fake_ollama import FakeOllama  # noqa: E402

POST_ROUTE = "/channels/{channel}/messages"


def rss_mb() -> float:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def build_world(fake: FakeDiscord, channels: int, users: int) -> tuple[list[int], list[FakeUser]]:
    """Add bench channels and one member per conversation to the fake's guild."""
    world = fake.world
    guild = world.guilds[0]
    for n in range(channels - 1):
        guild.channels.append(FakeChannel(id=world.snowflakes.next(), name=f"bench-{n}",
                                          type=ChannelType.GUILD_TEXT, guild_id=guild.id))
    people = []
    for n in range(users):
        user = FakeUser(id=world.snowflakes.next(), username=f"user{n}")
        world.users[user.id] = user
        guild.members.append(FakeMember(user=user))
        people.append(user)
    text = [c.id for c in guild.channels if c.type is ChannelType.GUILD_TEXT][:channels]
    return text, people


async def idle_latencies(fake: FakeDiscord, ollama: FakeOllama, channel_id: int,
                         users: list[FakeUser], count: int = 5) -> list[float]:
    """Message -> first visible reply, one conversation at a time (short answers)."""
    channel = fake.world.channel(channel_id)
    assert channel is not None
    out = []
    for n in range(count):
        ollama.answers[f"warm-up {n}"] = f"ready {n}."
        t0 = time.monotonic()
        asked = await fake.user_message(f"warm-up {n}", channel=channel, author=users[n],
                                        mention_bot=True)
        await fake.wait_for_bot_content(channel_id, f"ready {n}.")
        post = next(c for c in fake.rest_calls("POST", POST_ROUTE)
                    if ((c.json or {}).get("message_reference") or {}).get("message_id")
                    == str(asked.id))
        out.append((post.at - t0) * 1000)
        await asyncio.sleep(0.2)
    return out


async def run(conversations: int, channels: int, rate: float, tokens: int,
              storage: bool, data_dir: Path) -> dict[str, Any]:
    fake = FakeDiscord()
    channel_ids, users = build_world(fake, channels, conversations)
    await fake.start()
    ollama = FakeOllama(tokens_per_second=rate,
                        default_answer=" ".join(f"word{i}" for i in range(tokens)) + ".")
    await ollama.start()
    db = os.environ.get("TEST_DATABASE_URL")
    data: dict[str, Any] = {
        "app": {"data_dir": str(data_dir)},
        # Every conversation streams at once, as 50 Ollama slots would.
        "llm": {"servers": [ollama.url], "warmup": False, "max_concurrency": conversations,
                "max_queue": conversations},
        "discord": {"token": fake.token, "rest_url": fake.rest_url,
                    "guild_ids": [fake.world.guilds[0].id],
                    "guild_concurrency": conversations},
    }
    if db:
        data["database"] = {"url": db}
    settings = Settings.model_validate(data)
    rss_before = rss_mb()
    app = LibraApp.of(build_graph(settings, Mode.RUN)) if storage else without_storage(settings)
    await app.start()
    rate_limited: list[DiscordRateLimited] = []

    async def on_rate_limited(event: DiscordRateLimited) -> None:
        rate_limited.append(event)

    app.bus.subscribe(DiscordRateLimited, on_rate_limited)
    rss_started = rss_mb()
    answer = ollama.default_answer
    sent_at: dict[int, float] = {}
    idle: list[float] = []
    try:
        idle = await idle_latencies(fake, ollama, channel_ids[0], users)
        started = time.monotonic()
        for n in range(conversations):
            channel = fake.world.channel(channel_ids[n % channels])
            assert channel is not None
            sent_at[n] = time.monotonic()
            message = await fake.user_message(f"question number {n}", channel=channel,
                                              author=users[n], mention_bot=True)
            sent_at[message.id] = sent_at.pop(n)

        def finished() -> int:
            return sum(m.content == answer for c in channel_ids for m in fake.bot_messages(c))

        await fake.wait_until(lambda: finished() == conversations, timeout=300)
        wall = time.monotonic() - started
        completed = finished()
        rss_peak_run = rss_mb()
    finally:
        await app.stop()
        await ollama.stop()
        await fake.stop()
    first_visible = []
    for call in fake.rest_calls("POST", POST_ROUTE):
        reference = (call.json or {}).get("message_reference") or {}
        user_message = int(reference.get("message_id", 0))
        if user_message in sent_at:
            first_visible.append((call.at - sent_at.pop(user_message)) * 1000)
    stats = fake.limiter.stats
    max_edits = max(stats.max_edits_in_window(c, 5.0) for c in channel_ids)
    return {
        "benchmark": "discord",
        "conversations": conversations,
        "channels": channels,
        "tokens_per_second": rate,
        "tokens_per_reply": tokens,
        "storage": ("TEST_DATABASE_URL" if db else "embedded") if storage else "off",
        "replies_complete": completed,
        "max_edits_per_channel_per_5s": max_edits,
        "edits_total": sum(len(stats.edits_by_channel.get(c, [])) for c in channel_ids),
        "responses_429": stats.responses_429,
        "budget_429": stats.budget_429,
        "rate_limited_events": len(rate_limited),
        "first_visible_added_ms": summary(first_visible, 1),
        "first_visible_added_idle_ms": summary(idle, 1),
        "wall_s": round(wall, 2),
        "rss_mb": {"before_app": rss_before, "app_started": rss_started,
                   "after_run": rss_peak_run,
                   "peak": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
        "note": "RSS is one process holding Libra, the fake Discord and the fake Ollama",
        "pass": max_edits <= 5 and stats.budget_429 == 0 and completed == conversations,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--rate", type=float, default=30.0, help="tokens per second per reply")
    parser.add_argument("--tokens", type=int, default=150, help="tokens per reply")
    parser.add_argument("--no-storage", action="store_true", help="run without PostgreSQL")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    with tempfile.TemporaryDirectory(prefix="libra-bench-discord-") as data_dir:
        result = asyncio.run(run(args.conversations, args.channels, args.rate, args.tokens,
                                 not args.no_storage, Path(data_dir)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
