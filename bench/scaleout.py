"""Two `libra run` processes against one against the fake Discord and a fake Ollama.

The bot has two shards and two guilds (one per shard), each with a few channels. The
same burst of mentions (distinct users and prompts, so no cache hits and no per-user
limit) goes to one process running both shards, then to two processes running one
shard each. Both set-ups use the same PostgreSQL and a private Redis started for the
run (so nothing else counts in it), i.e. the same shared machinery; only the number
of processes differs.

Measured from the fake Discord's records, per set-up: messages answered per second
(first mention sent to last final answer visible), added latency per message (mention
to its final answer; the fake model answers at once, so all of it is Libra, hikari,
Redis and the fakes) as p50/p95, 429s, and Redis round trips per turn (what the
processes report at shutdown: shared parts and response cache, start-up and
heartbeats included).

Each set-up runs twice: under Discord's global REST budget (45 requests/s for the
whole bot, Libra's default) and with a budget of 1,000/s, as Discord grants some
large bots, to show where the ceiling is.

Run: TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
     .venv/bin/python bench/scaleout.py [--messages 150]
Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench._fakes import fake_ollama_process  # noqa: E402
from bench._stats import pct  # noqa: E402
from libra.discord.sharding import shard_of  # noqa: E402
from tests.conftest import url_with_database  # noqa: E402
from tests.fakes.fake_discord import (  # noqa: E402
    FakeChannel,
    FakeDiscord,
    FakeMember,
    FakeUser,
    add_guild,
)

ANSWER = "Hello! I am a fake model and this is my answer."
ROUND_TRIPS = re.compile(r"(\d+) Redis round trips")


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A throw-away redis-server on a free port (nothing else's commands count)."""

    def __init__(self) -> None:
        self.port = free_port()
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed: apt-get install redis-server")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Stop it."""
        self.proc.terminate()
        self.proc.wait(timeout=10)


def build_world(fake: FakeDiscord, channels_per_guild: int,
                users: int) -> tuple[list[FakeChannel], list[FakeUser]]:
    """A second guild on the other shard, extra channels in both, and the users."""
    world = fake.world
    first = world.guilds[0]
    while True:
        add_guild(world, "second")
        if shard_of(world.guilds[-1].id, 2) != shard_of(first.id, 2):
            break
        world.guilds.pop()
        time.sleep(0.002)
    channels: list[FakeChannel] = []
    for guild in world.guilds:
        for index in range(channels_per_guild):
            channel = FakeChannel(id=world.snowflakes.next(), name=f"bench-{index}",
                                  guild_id=guild.id)
            guild.channels.append(channel)
            channels.append(channel)
    people = []
    for index in range(users):
        user = FakeUser(id=world.snowflakes.next(), username=f"user{index}")
        world.users[user.id] = user
        for guild in world.guilds:
            guild.members.append(FakeMember(user=user))
        people.append(user)
    return channels, people


def start_process(name: str, shards: str, fake: FakeDiscord, ollama: str, pg_url: str,
                  redis_url: str, rest_limit: int, instances: int,
                  work: Path) -> tuple[Any, Path]:
    """``libra run`` for ``shards`` (e.g. ``"0,1"``), logging JSON to a file."""
    data = work / name
    data.mkdir()
    log = data / "libra.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(data),
        "PYTHONPATH": str(ROOT), "LIBRA_DATA_DIR": str(data),
        "DISCORD_TOKEN": fake.token, "LIBRA_DISCORD__REST_URL": fake.rest_url,
        "LIBRA_DISCORD__SHARD_COUNT": "2", "LIBRA_DISCORD__SHARD_IDS": shards,
        "LIBRA_DISCORD__USER_BURST": "1000", "LIBRA_DISCORD__GUILD_CONCURRENCY": "1000",
        "LIBRA_DISCORD__REST_GLOBAL_LIMIT": str(rest_limit),
        "LIBRA_APP__INSTANCES": str(instances), "LIBRA_APP__INSTANCE_NAME": name,
        "LIBRA_APP__LOG_FORMAT": "json", "DATABASE_URL": pg_url, "REDIS_URL": redis_url,
        "LIBRA_LLM__SERVERS": ollama, "LIBRA_LLM__WARMUP": "false",
        "LIBRA_LLM__MAX_CONCURRENCY": "64", "LIBRA_LLM__MAX_QUEUE": "1000",
    }
    proc = subprocess.Popen([sys.executable, "-m", "libra", "run"], cwd=data, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return proc, log


def final_times(fake: FakeDiscord) -> dict[int, float]:
    """User message id -> when the bot's reply to it first showed the whole answer."""
    replies: dict[int, int] = {}  # bot message id -> user message id it answers
    for stored in fake.world.messages.values():
        for message in stored:
            reference = (message.payload.get("message_reference") or {}).get("message_id")
            if message.author_id == fake.world.bot_user.id and reference:
                replies[message.id] = int(reference)
    done: dict[int, float] = {}
    for call in fake.world.rest_calls:
        body = call.json if isinstance(call.json, dict) else {}
        if body.get("content") != ANSWER or call.status >= 300:
            continue
        if call.method == "POST":
            target = int((body.get("message_reference") or {}).get("message_id") or 0)
        elif call.method == "PATCH":
            target = replies.get(int(call.path.rsplit("/", 1)[-1]), 0)
        else:
            continue
        if target and target not in done:
            done[target] = call.at
    return done


async def run_setup(instances: int, args: argparse.Namespace, rest_limit: int,
                    pg_server: str, ollama: str) -> dict[str, Any]:
    """One measurement: start the processes, send the burst, stop, read the records."""
    redis = PrivateRedis()
    name = f"libra_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    pg_url = url_with_database(pg_server, name)
    # A budget above Discord's 50/s stands for a bot Discord granted more to.
    fake = FakeDiscord(shards=2, max_concurrency=1, identify_interval=5.0,
                       global_limit=50 if rest_limit <= 50 else rest_limit + 50)
    channels, users = build_world(fake, args.channels, args.messages)
    await fake.start()
    work = Path(tempfile.mkdtemp(prefix="libra-scaleout-"))
    plan = ["0,1"] if instances == 1 else ["0", "1"]
    procs = [start_process(f"bench-{i}", shards, fake, ollama, pg_url, redis.url,
                           rest_limit, instances, work) for i, shards in enumerate(plan)]
    try:
        limits = fake.gateway_limits
        await fake.wait_until(lambda: len(limits.identifies) >= 2, timeout=120)
        # Ready once both shards saw their guilds' slash commands synced and are idle.
        await asyncio.sleep(3.0)
        sent: dict[int, float] = {}
        started = time.monotonic()
        for index, user in enumerate(users):
            channel = channels[index % len(channels)]
            message = await fake.user_message(f"bench question {index}", channel=channel,
                                              author=user, mention_bot=True)
            sent[message.id] = time.monotonic()
        try:
            await fake.wait_until(lambda: len(final_times(fake)) >= len(sent), timeout=120)
        except TimeoutError:
            missing = [m for m in sent if m not in final_times(fake)]
            for message_id in missing[:3]:
                replies = [(m.id, m.content[:60], m.payload.get("message_reference"))
                           for ms in fake.world.messages.values() for m in ms
                           if (m.payload.get("message_reference") or {}).get("message_id")
                           == str(message_id)]
                print(f"unanswered {message_id}: {replies}", file=sys.stderr)
            raise
        done = final_times(fake)
    finally:
        for proc, _ in procs:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in procs:
            proc.wait(timeout=60)
        await fake.stop()
        redis.stop()
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    latencies = [(done[m] - at) * 1000 for m, at in sent.items()]
    elapsed = max(done.values()) - started
    trips = sum(int(n) for _, log in procs
                for n in ROUND_TRIPS.findall(log.read_text(errors="replace")))
    shutil.rmtree(work, ignore_errors=True)
    stats = fake.limiter.stats
    return {
        "instances": instances,
        "messages": len(sent),
        "answered_per_s": round(len(sent) / elapsed, 1),
        "added_latency_ms": {"p50": round(pct(latencies, 50)), "p95": round(pct(latencies, 95)),
                             "max": round(max(latencies))},
        "redis_round_trips_per_turn": round(trips / len(sent), 1),
        "rest_requests_per_turn": round(len([c for c in fake.world.rest_calls
                                             if c.at >= started]) / len(sent), 1),
        "rest_peak_per_s": stats.global_peak,
        "responses_429": stats.responses_429,
        "identify_violations": len(fake.gateway_limits.violations),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=150)
    parser.add_argument("--channels", type=int, default=25,
                        help="per guild (each channel allows 5 edits per 5 s)")
    parser.add_argument("--setups", default="45:1,45:2,1000:1,1000:2",
                        help="REST budget:instances pairs to run")
    args = parser.parse_args()
    pg_server = os.environ.get("TEST_DATABASE_URL")
    if not pg_server:
        raise SystemExit("set TEST_DATABASE_URL: several instances need one PostgreSQL")
    results: dict[str, Any] = {"machine_cpus": os.cpu_count(), "runs": []}
    with fake_ollama_process() as ollama:
        for setup in args.setups.split(","):
            rest_limit, instances = (int(x) for x in setup.split(":"))
            if True:
                run = await run_setup(instances, args, rest_limit, pg_server, ollama)
                run["rest_global_limit"] = rest_limit
                results["runs"].append(run)
                print(json.dumps(run), file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
