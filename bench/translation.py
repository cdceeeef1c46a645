"""Linked channels under load: three channels (en, ko, ja) linked, a fake model at 30 tokens/s.

The whole Libra (storage, language, llm, chat, translation, discord with the relay) runs
against the fake Discord (webhooks permitted, Discord's budgets enforced) and a fake
Ollama whose "translations" are fixed sentences in the language its prompt asks for,
streamed at ``--tokens-per-second``. Two phases:

* steady: ``--rate`` messages per second for ``--steady`` seconds, spread over the three
  channels and two authors per channel;
* burst: ``--burst`` messages in ``--burst-seconds`` seconds by one author in one channel.

Reported per phase (JSON): p50/p95 seconds from a message to *all* its translations
posted, the relay's backlog sampled each second, Discord requests per second (all, and
webhook executes), posts vs messages (coalescing; ``posts_combining_authors``: posts
under Libra's webhook name, several authors' lines), and 429s: those caused by a Discord
budget (our pacing; target 0) and all.

Run: .venv/bin/python bench/translation.py [--steady 60 --rate 2 --burst 30 --burst-seconds 5]
(``--database-url`` or TEST_DATABASE_URL: a running PostgreSQL; else the embedded one).
The fake servers run in this process: their CPU counts as Libra's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from loguru import logger  # noqa: E402

from bench._stats import pct  # noqa: E402
from libra.app import LibraApp, Mode, build_graph  # noqa: E402
from libra.discord.translate_relay_webhooks import WEBHOOK_NAME  # noqa: E402
from tests.conftest import url_with_database  # noqa: E402
from tests.e2e.discord.libra_harness import libra_settings  # noqa: E402
from tests.fakes.fake_discord import FakeChannel, FakeDiscord, FakeMember, FakeUser  # noqa: E402
from tests.fakes.fake_discord.webhooks import MANAGE_WEBHOOKS  # noqa: E402
from tests.fakes.fake_ollama import FakeOllama  # noqa: E402

SENTENCES = {
    "en": "Message {n}: the meeting starts at three in the afternoon, see you there",
    "ko": "{n}번 메시지: 회의는 오후 세 시에 시작해요, 거기서 봐요",
    "ja": "{n}番のメッセージ：会議は午後三時に始まります、そこで会いましょう",
}
NAMES = {"English": "en", "Korean": "ko", "Japanese": "ja"}
TAG = re.compile(r"(\d+)")
NAMED = re.compile(r"\*\*[^*\n]+\*\*: ")
"""A combined post's author prefix (the bench's usernames hold digits: not message numbers)."""
EXECUTE = "/webhooks/{app}/{token}"


def fake_translation(body: dict[str, Any]) -> str:
    """Each line becomes the fixed sentence, with its number, in the language asked for."""
    system = next(m["content"] for m in body["messages"] if m["role"] == "system")
    found = re.search(r"into (\w+)\.", system)
    target = NAMES.get(found.group(1) if found else "English", "en")
    text = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    lines = []
    for line in text.split("\n"):
        number = TAG.search(line)
        lines.append(SENTENCES[target].format(n=number.group(1) if number else 0))
    return "\n".join(lines)


@contextmanager
def fresh_database(server_url: str | None) -> Iterator[str | None]:
    """A new, empty database on ``server_url`` for this run, dropped afterwards."""
    if server_url is None:
        yield None  # Libra starts its embedded server
        return
    name = f"libra_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url_with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Run:
    """One Libra against the fakes, and what was measured."""

    def __init__(self, fake: FakeDiscord, app: LibraApp) -> None:
        self.fake = fake
        self.app = app
        self.sent: dict[int, tuple[float, int]] = {}
        """Message number -> (sent at, source channel)."""
        self.backlog: list[tuple[float, int]] = []

    def relay_backlog(self) -> int:
        graph = self.app.graph
        assert graph is not None and graph.discord is not None
        deps = graph.discord.deps
        return deps.relay.queues.backlog if deps is not None and deps.relay is not None else 0

    def posted(self) -> dict[tuple[int, int], float]:
        """(message number, target channel) -> when its translation was accepted."""
        out: dict[tuple[int, int], float] = {}
        hooks = {w.id: w.channel_id for w in self.fake.world.webhooks}
        for call in self.fake.rest_calls("POST", EXECUTE):
            if call.status != 200:
                continue
            channel = hooks.get(int(call.path.split("/")[2]))
            content = NAMED.sub("", str((call.json or {}).get("content", "")))
            for number in TAG.findall(content):
                out.setdefault((int(number), channel or 0), call.at)
        return out


async def sample_backlog(run: Run, stop: asyncio.Event, t0: float) -> None:
    while not stop.is_set():
        run.backlog.append((round(time.monotonic() - t0, 1), run.relay_backlog()))
        await asyncio.sleep(1.0)


async def phase(run: Run, channels: list[FakeChannel], authors: dict[int, list[FakeUser]],
                *, count: int, seconds: float, one_author: bool, first: int,
                drain: float) -> dict[str, Any]:
    """Send ``count`` messages over ``seconds``; wait for their translations; figures."""
    fake = run.fake
    calls_before = len(fake.world.rest_calls)
    budget_before = fake.limiter.stats.budget_429
    all_before = fake.limiter.stats.responses_429
    run.backlog = []
    stop = asyncio.Event()
    t0 = time.monotonic()
    sampler = asyncio.create_task(sample_backlog(run, stop, t0), name="bench:backlog")
    languages = ("en", "ko", "ja")
    numbers = list(range(first, first + count))
    for i, n in enumerate(numbers):
        index = 0 if one_author else i % 3
        channel = channels[index]
        author = authors[channel.id][0 if one_author else (i // 3) % 2]
        run.sent[n] = (time.monotonic(), channel.id)
        await fake.user_message(SENTENCES[languages[index]].format(n=n), channel=channel,
                                author=author)
        await asyncio.sleep(max(0.0, t0 + (i + 1) * seconds / count - time.monotonic()))
    sent_done = time.monotonic()
    targets = {c.id for c in channels}

    def complete() -> bool:
        done = run.posted()
        return all((n, t) in done for n in numbers for t in targets - {run.sent[n][1]})

    try:
        await fake.wait_until(complete, timeout=drain)
    except TimeoutError:
        logger.warning("not every translation was posted within {} s", drain)
    stop.set()
    await sampler
    elapsed = time.monotonic() - t0
    done = run.posted()
    latencies = []
    for n in numbers:
        at, source = run.sent[n]
        times = [done.get((n, t)) for t in targets - {source}]
        if all(t is not None for t in times):
            latencies.append(max(t for t in times if t is not None) - at)
    calls = fake.world.rest_calls[calls_before:]
    executes = [c for c in calls if c.route == EXECUTE and c.method == "POST"]
    per_second = Counter(int(c.at - t0) for c in calls)
    return {
        "messages": count,
        "translated_everywhere": len(latencies),
        "latency_s": {"p50": round(pct(latencies, 50), 2), "p95": round(pct(latencies, 95), 2),
                      "max": round(max(latencies), 2) if latencies else None},
        "posts": len(executes),
        "posts_combining_authors": sum(
            (c.json or {}).get("username") == WEBHOOK_NAME for c in executes),
        "translations_needed": count * (len(targets) - 1),
        "backlog_each_s": [jobs for _, jobs in run.backlog],
        "discord_requests_per_s": {
            "mean": round(len(calls) / elapsed, 2),
            "peak": max(per_second.values()) if per_second else 0,
            "webhook_executes_mean": round(len(executes) / elapsed, 2),
        },
        "sending_s": round(sent_done - t0, 1),
        "drained_s": round(elapsed, 1),
        "budget_429": fake.limiter.stats.budget_429 - budget_before,
        "all_429": fake.limiter.stats.responses_429 - all_before,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Set up the world, link the channels, run both phases."""
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    fake = FakeDiscord()
    guild = fake.world.guilds[0]
    english = fake.text_channel
    korean = FakeChannel(id=fake.world.snowflakes.next(), name="korean", guild_id=guild.id)
    japanese = FakeChannel(id=fake.world.snowflakes.next(), name="japanese", guild_id=guild.id)
    guild.channels += [korean, japanese]
    fake.world.grant_bot(guild.id, MANAGE_WEBHOOKS)
    channels = [english, korean, japanese]
    authors: dict[int, list[FakeUser]] = {}
    for channel in channels:
        authors[channel.id] = []
        for n in range(2):
            user = FakeUser(id=fake.world.snowflakes.next(), username=f"{channel.name}-{n}")
            fake.world.users[user.id] = user
            guild.members.append(FakeMember(user=user))
            authors[channel.id].append(user)
    ollama = FakeOllama(tokens_per_second=args.tokens_per_second)
    ollama.answer_fn = fake_translation
    await fake.start()
    await ollama.start()
    moderator = next(r for r in guild.roles if r.name == "moderator")
    with tempfile.TemporaryDirectory() as data_dir, fresh_database(args.database_url) as db:
        settings = libra_settings(fake, ollama, db, Path(data_dir),
                                  admin_role_ids=[moderator.id])
        app = LibraApp.of(build_graph(settings, Mode.RUN))
        await app.start()
        try:
            admin = fake.user("alice")
            for channel, language in ((korean, "ko"), (japanese, "ja")):
                token = await fake.slash_subcommand(
                    "autotranslate", "link", {"channel": channel, "language": language,
                                              "here": "en"}, channel=english, user=admin)
                await fake.wait_until(lambda t=token: fake.original_response(t) is not None)
            run = Run(fake, app)
            steady = await phase(run, channels, authors, count=int(args.rate * args.steady),
                                 seconds=args.steady, one_author=False, first=1,
                                 drain=args.drain)
            burst = await phase(run, channels, authors, count=args.burst,
                                seconds=args.burst_seconds, one_author=True, first=100_000,
                                drain=args.drain)
        finally:
            await app.stop()
            await ollama.stop()
            await fake.stop()
    return {"bench": "translation", "channels": 3, "tokens_per_second": args.tokens_per_second,
            "steady": {"rate_per_s": args.rate, "seconds": args.steady, **steady},
            "burst": {"seconds": args.burst_seconds, **burst}}


def parse() -> argparse.Namespace:
    """Command-line flags (defaults: the issue's figures)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steady", type=float, default=60.0, help="seconds of steady load")
    parser.add_argument("--rate", type=float, default=2.0, help="messages per second (steady)")
    parser.add_argument("--burst", type=int, default=30, help="messages in the burst")
    parser.add_argument("--burst-seconds", type=float, default=5.0)
    parser.add_argument("--tokens-per-second", type=float, default=30.0)
    parser.add_argument("--drain", type=float, default=120.0,
                        help="seconds to wait for the last translations")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    return parser.parse_args()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse())), indent=1))
