"""Two `libra run` processes as one bot: two shards, one PostgreSQL, the machine's Redis.

The fake Discord recommends two shards, lets one bucket identify once per 5 s (as
Discord does) and sends each guild's events only to the shard that owns it. One
process runs shard 0, the other shard 1. What a user would notice is checked phase
by phase in one run (starting two processes costs most of the time):

1. both connect, five seconds apart, without an invalid session;
2. each answers its own guild's messages, and every message is answered once; both
   report themselves in Redis, and ``/stats`` lists both;
3. a user's rate limit holds across both guilds (so across both processes);
4. the language model never runs more requests than the configured total;
5. a cache flush asked of one process clears the answer the other would serve.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from libra.discord.sharding import shard_of
from tests.fakes.fake_discord import FakeChannel, FakeDiscord, FakeMember, FakeUser, add_guild
from tests.fakes.fake_ollama import FakeOllama
from tests.redis_support import redis_url_or_skip, unique_name

REPO = Path(__file__).resolve().parents[3]
ADMIN_SECRET = "s" * 40
RATE_LIMITED = "You're sending messages faster than I can answer."


@dataclass
class Instance:
    """One `libra run` child: its shard, admin port and log file."""

    name: str
    shard: int
    admin_port: int
    log_path: Path
    log: IO[bytes]
    proc: asyncio.subprocess.Process | None = None

    def logs(self) -> str:
        """Everything the child wrote so far."""
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    """A free loopback port for an admin server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def two_shard_world(fake: FakeDiscord) -> tuple[FakeChannel, FakeChannel]:
    """A second guild on the other shard; returns each guild's first text channel."""
    world = fake.world
    first = world.guilds[0]
    while True:
        channel = add_guild(world, "second")
        if shard_of(world.guilds[-1].id, 2) != shard_of(first.id, 2):
            return first.channels[0], channel
        world.guilds.pop()
        time.sleep(0.002)  # the next snowflake's millisecond decides its shard


def add_users(fake: FakeDiscord, names: list[str]) -> dict[str, FakeUser]:
    """Members of every guild, one per name (each phase uses fresh ones)."""
    users = {}
    for name in names:
        user = FakeUser(id=fake.world.snowflakes.next(), username=name)
        fake.world.users[user.id] = user
        for guild in fake.world.guilds:
            guild.members.append(FakeMember(user=user))
        users[name] = user
    return users


def add_channel(fake: FakeDiscord, guild_index: int, name: str) -> FakeChannel:
    """Another text channel (a fresh history, so prompts are alike across guilds)."""
    guild = fake.world.guilds[guild_index]
    channel = FakeChannel(id=fake.world.snowflakes.next(), name=name, guild_id=guild.id)
    guild.channels.append(channel)
    return channel


async def start_instance(instance: Instance, fake: FakeDiscord, ollama: FakeOllama,
                         pg_url: str, redis_url: str, tmp_path: Path) -> None:
    """Start ``libra run`` for one shard, logging to a file (a pipe could fill and block)."""
    data = tmp_path / instance.name
    data.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(data),
        "PYTHONPATH": str(REPO), "LIBRA_DATA_DIR": str(data),
        "DISCORD_TOKEN": fake.token, "LIBRA_DISCORD__REST_URL": fake.rest_url,
        "LIBRA_DISCORD__GUILD_IDS": ",".join(str(g.id) for g in fake.world.guilds),
        "LIBRA_DISCORD__SHARD_COUNT": "2", "LIBRA_DISCORD__SHARD_IDS": str(instance.shard),
        "LIBRA_DISCORD__ADMIN_ROLE_IDS": str(fake.world.guilds[0].roles[1].id),
        "LIBRA_DISCORD__USER_BURST": "2", "LIBRA_DISCORD__USER_RATE_PER_MINUTE": "1",
        "DATABASE_URL": pg_url, "REDIS_URL": redis_url,
        "LIBRA_APP__INSTANCE_NAME": instance.name, "LIBRA_APP__LOG_FORMAT": "json",
        "LIBRA_REDIS__HEARTBEAT_SECONDS": "1",
        "LIBRA_LLM__SERVERS": ollama.url, "LIBRA_LLM__MAX_CONCURRENCY": "1",
        "LIBRA_LLM__WARMUP": "false",
        "LIBRA_ADMIN__PORT": str(instance.admin_port), "LIBRA_ADMIN__SECRET": ADMIN_SECRET,
        "LIBRA_ADMIN__AUTH_MODE": "simple", "LIBRA_ADMIN__METRICS_AUTH": "false",
    }
    instance.proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "libra", "run", stdout=instance.log,
        stderr=asyncio.subprocess.STDOUT, cwd=data, env=env)


async def stop_instance(instance: Instance) -> int | None:
    """SIGTERM and wait; kill if it hangs. Returns the exit code."""
    proc = instance.proc
    if proc is None:
        return None
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    instance.log.close()
    return proc.returncode


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``predicate`` holds within ``timeout`` seconds (checked every 0.1 s)."""
    for _ in range(int(timeout * 10)):
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return predicate()


async def eventually_async(predicate: Callable[[], Awaitable[bool]],
                           timeout: float = 5.0) -> bool:
    """``eventually`` for a coroutine predicate."""
    for _ in range(int(timeout * 10)):
        if await predicate():
            return True
        await asyncio.sleep(0.1)
    return await predicate()


async def has_call_of(pg_url: str, user_id: int) -> bool:
    """Whether an LLM call of ``user_id`` is recorded in the shared database."""
    connection = await asyncpg.connect(pg_url)
    try:
        return bool(await connection.fetchval(
            "SELECT count(*) FROM llm_calls c JOIN users u ON u.id = c.user_id "
            "WHERE u.discord_id = $1", user_id))
    finally:
        await connection.close()


async def instance_records(redis_url: str, fake: FakeDiscord) -> dict[str, dict[str, object]]:
    """The heartbeat records the instances keep in Redis, by instance name."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        prefix = f"libra:bot-{fake.world.application_id}:instance:"
        records = {}
        async for key in client.scan_iter(match=prefix + "*"):
            record = json.loads(await client.get(key))
            records[record["name"]] = record
        return records
    finally:
        await client.aclose()


async def test_two_processes_share_one_bot(fake_ollama: FakeOllama, pg_url: str,
                                           tmp_path: Path) -> None:
    redis_url = redis_url_or_skip()
    # The response cache in the machine's Redis outlives a run: questions never repeat.
    run = unique_name()
    fake = FakeDiscord(shards=2, max_concurrency=1, identify_interval=5.0)
    general = two_shard_world(fake)
    cache_channels = (add_channel(fake, 0, "cache"), add_channel(fake, 1, "cache"))
    users = add_users(fake, ["ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal", "ivy"])
    # Each answer streams for about half a second: long enough to overlap.
    fake_ollama.tokens_per_second = 20
    await fake.start()
    owner = {shard_of(ch.guild_id or 0, 2): i for i, ch in enumerate(general)}
    instances = [Instance(name=f"libra-{s}", shard=s, admin_port=free_port(),
                          log_path=tmp_path / f"libra-{s}.log",
                          log=(tmp_path / f"libra-{s}.log").open("wb")) for s in (0, 1)]
    try:
        await asyncio.gather(*(start_instance(i, fake, fake_ollama, pg_url, redis_url,
                                              tmp_path) for i in instances))

        # 1. Both identify, one bucket: five seconds apart, no invalid session.
        limits = fake.gateway_limits
        await fake.wait_until(lambda: len(limits.identifies) >= 2, timeout=60)
        (first_at, *_), (second_at, *_) = sorted(limits.identifies)
        assert {shard for _, shard, _ in limits.identifies} == {0, 1}
        assert second_at - first_at >= 5.0
        assert limits.violations == []
        for session in fake.connections:
            if session.identified.is_set():
                shard_id, _ = session.shard
                # READY named only the guilds of the shard.
                assert [g.id for g in fake.world.guilds
                        if shard_of(g.id, 2) == shard_id] == [general[owner[shard_id]].guild_id]

        # 2. Each process answers its own guild, once.
        for channel, user in zip(general, (users["ann"], users["ben"]), strict=True):
            fake_ollama.answers[f"hello from {channel.id}"] = f"answer in {channel.id}"
            await fake.user_message(f"hello from {channel.id}", channel=channel, author=user,
                                    mention_bot=True)  # channel ids are new in every run
        for channel in general:
            await fake.wait_for_bot_content(channel.id, f"answer in {channel.id}", timeout=30)
        await asyncio.sleep(0.5)
        assert [len(fake.bot_messages(ch.id)) for ch in general] == [1, 1]
        records: dict[str, dict[str, object]] = {}

        async def both_report_their_guild() -> bool:
            records.update(await instance_records(redis_url, fake))
            return sorted(records) == ["libra-0", "libra-1"] and all(
                r["guilds"] == 1 and r["shards"] == r["name"][-1] for r in records.values())

        assert await eventually_async(both_report_their_guild), records
        # /stats (an admin, in either guild) lists both instances.
        token = await fake.slash_command("stats", channel=general[0])
        await fake.wait_until(lambda: "libra-1 (shards 1)" in getattr(
            fake.original_response(token), "content", ""), timeout=15)
        report = getattr(fake.original_response(token), "content", "")
        assert "**Instances**" in report and "libra-0 (shards 0): 1 guild(s)" in report

        # 3. One user, two guilds, two processes: the burst of 2 is spent once.
        cat = users["cat"]
        for index, word in enumerate(("first", "second")):
            fake_ollama.answers[f"{word} {run}"] = f"{word} answer"
            await fake.user_message(f"{word} {run}", channel=general[index], author=cat,
                                    mention_bot=True)
            await fake.wait_for_bot_content(general[index].id, f"{word} answer", timeout=30)
        await fake.user_message(f"third {run}", channel=general[0], author=cat,
                                mention_bot=True)
        await fake.wait_for_bot_content(
            general[0].id, lambda text: text.startswith(RATE_LIMITED), timeout=30)

        # 4. Four questions at once, two per process: one model request at a time.
        fake_ollama.peak_streaming = 0
        askers = [("dan", 0), ("eve", 1), ("fay", 0), ("gus", 1)]
        for name, index in askers:
            fake_ollama.answers[f"busy question {run} from {name}"] = f"busy answer for {name}"
            await fake.user_message(f"busy question {run} from {name}", channel=general[index],
                                    author=users[name], mention_bot=True)
        for name, index in askers:
            await fake.wait_for_bot_content(general[index].id, f"busy answer for {name}",
                                            timeout=30)
        assert fake_ollama.peak_streaming == 1  # llm.max_concurrency = 1 for the whole bot

        # 5. An answer cached by one process is served by the other until a flush.
        question = f"what does a flush clear? ({run})"
        fake_ollama.answers[question] = "the cached answer"
        asked = len(fake_ollama.requests)
        await fake.user_message(question, channel=cache_channels[0], author=users["hal"],
                                mention_bot=True)
        await fake.wait_for_bot_content(cache_channels[0].id, "the cached answer", timeout=30)
        # The call's row is written after its answer is cached: then the other may ask.
        assert await eventually_async(lambda: has_call_of(pg_url, users["hal"].id), 10)
        await fake.user_message(question, channel=cache_channels[1], author=users["ivy"],
                                mention_bot=True)
        await fake.wait_for_bot_content(cache_channels[1].id, "the cached answer", timeout=30)
        assert len(fake_ollama.requests) == asked + 1  # the second came from the cache
        flusher = instances[owner[shard_of(cache_channels[0].guild_id or 0, 2)]]
        async with aiohttp.ClientSession() as http:
            reply = await http.post(f"http://127.0.0.1:{flusher.admin_port}/api/cache/flush",
                                    headers={"X-Shared-Secret": ADMIN_SECRET})
            assert reply.status == 200, await reply.text()
        await fake.user_message(question, channel=cache_channels[1], author=users["ivy"],
                                mention_bot=True)
        await fake.wait_until(lambda: len(fake_ollama.requests) == asked + 2, timeout=30)
        other = instances[1 - instances.index(flusher)]
        assert await eventually(lambda: "by another instance" in other.logs())
    finally:
        codes = [await stop_instance(i) for i in instances]
        await fake.stop()
    for instance, code in zip(instances, codes, strict=True):
        logs = instance.logs()
        assert code == 0, logs[-3000:]
        assert "Traceback" not in logs, logs[-3000:]
        assert fake.token not in logs
    # No invalid session, no 429 from the bot's global REST budget (50/s) or any other.
    assert not fake.broken_limits(), fake.broken_limits()

