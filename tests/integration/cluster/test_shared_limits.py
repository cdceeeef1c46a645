"""Two instances' shared parts on the machine's Redis: one budget, whatever process asks.

Each "instance" here is a real :class:`Cluster` (its own Redis connection and pub/sub)
built from its own settings, as two ``libra run`` processes build theirs; the
end-to-end test (tests/e2e/discord/test_scaleout.py) drives two real processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from libra.bus import EventBus
from libra.cluster.plugin import Cluster, ClusterPlugin
from libra.config import Settings
from libra.discord.gates import GatewayLimits
from libra.discord.permissions import UsageLimiter, UserRateLimited
from libra.errors import ConfigError
from libra.llm.api import ChatMessage, LLMRequest
from libra.llm.plugin import build_llm
from libra.plugin import PluginContext
from tests.fakes.fake_discord import make_token
from tests.fakes.fake_ollama import FakeOllama
from tests.redis_support import redis_url_or_skip, unique_name

MakeCluster = Callable[..., Awaitable[Cluster]]


@pytest_asyncio.fixture
async def make_cluster() -> AsyncIterator[MakeCluster]:
    """``await make_cluster(**sections)``: a started cluster of a bot unique to this test."""
    redis_url = redis_url_or_skip()
    token = make_token(int(time.time() * 1000) << 22 | 7)
    started: list[tuple[ClusterPlugin, PluginContext]] = []

    async def make(**sections: dict[str, object]) -> Cluster:
        data: dict[str, object] = {
            "app": {"instances": 2, "instance_name": f"test-{unique_name()}"},
            "redis": {"url": redis_url},
            "database": {"url": "postgresql://unused@127.0.0.1:1/unused"},
            "discord": {"token": token, "user_rate_per_minute": 1, "user_burst": 2},
        }
        for name, values in sections.items():
            data[name] = {**dict(data.get(name, {})), **values}  # type: ignore[arg-type]
        settings = Settings.model_validate(data)
        cluster = Cluster(settings, EventBus())
        plugin = ClusterPlugin(cluster)
        ctx = PluginContext(settings=settings, bus=EventBus())
        started.append((plugin, ctx))
        await plugin.start(ctx)
        return cluster

    yield make
    for plugin, _ in reversed(started):
        await plugin.stop()


async def test_a_user_over_the_rate_on_one_instance_is_over_it_on_the_other(
        make_cluster: MakeCluster) -> None:
    first, second = await make_cluster(), await make_cluster()
    limits = [UsageLimiter(c.settings.discord, shared=c.user_buckets) for c in (first, second)]
    async with limits[0].reply_slot(42, 1):
        pass
    async with limits[1].reply_slot(42, 2):
        pass  # burst of 2 spent across both instances
    with pytest.raises(UserRateLimited) as refused:
        async with limits[0].reply_slot(42, 1):
            pass
    assert not refused.value.repeated and refused.value.seconds > 50
    with pytest.raises(UserRateLimited) as again:
        async with limits[1].reply_slot(42, 2):
            pass
    assert again.value.repeated  # told once already, by the other instance
    async with limits[1].reply_slot(43, 2):
        pass  # someone else is not limited


async def test_llm_concurrency_stays_at_the_configured_total_across_instances(
        make_cluster: MakeCluster, fake_ollama: FakeOllama) -> None:
    fake_ollama.tokens_per_second = 40  # each answer streams for about a quarter second
    llm = {"servers": [fake_ollama.url], "max_concurrency": 2, "cache_ttl": 0,
           "warmup": False}
    services = []
    for _ in range(2):
        cluster = await make_cluster(llm=llm)
        services.append(build_llm(cluster.settings, EventBus(), share=cluster.share_slots))
        assert cluster.slots is not None
        cluster.slots.start()

    async def ask(i: int) -> str:
        service = services[i % 2]
        request = LLMRequest(model="llama3:8b-instruct-q4_K_M",
                             messages=(ChatMessage(role="user", content=f"question {i}"),))
        return "".join([t.text async for t in service.stream(request)])

    started = time.monotonic()
    try:
        answers = await asyncio.gather(*(ask(i) for i in range(8)))
    finally:
        for service in services:
            for server in service.server_states():
                await server.backend.close()
    assert all(answers) and fake_ollama.completed == 8
    assert fake_ollama.peak_streaming == 2  # not 2 per instance
    # Four rounds of two: the slots were really shared, and freed promptly.
    assert time.monotonic() - started < 8 * 0.35


async def test_a_dead_instances_slot_comes_back_after_its_lease(
        make_cluster: MakeCluster, fake_ollama: FakeOllama) -> None:
    llm = {"servers": [fake_ollama.url], "max_concurrency": 1, "warmup": False}
    dead = await make_cluster(llm=llm, redis={"lease_seconds": 2})
    alive = await make_cluster(llm=llm, redis={"lease_seconds": 2})
    # Only the slots are used: no backend ever opens a connection.
    slots = [c.share_slots(build_llm(c.settings, EventBus()).pool) for c in (dead, alive)]
    await slots[0].acquire("held-by-the-dead")  # never released, never renewed
    waiting = asyncio.ensure_future(slots[1].acquire("next"))
    await asyncio.sleep(0.5)
    assert not waiting.done() and slots[1].position("next") == 1
    server = await asyncio.wait_for(waiting, 5)
    slots[1].release(server, "next")


async def test_identify_turns_are_shared_per_bucket(make_cluster: MakeCluster) -> None:
    async def limits() -> GatewayLimits:
        return GatewayLimits(max_concurrency=2, remaining=10, reset_after=3600)

    gates = [(await make_cluster()).identify_gate(limits) for _ in range(2)]
    turns: list[tuple[int, float]] = []

    async def identify(gate_index: int, shard: int) -> None:
        await gates[gate_index].wait_turn(shard)
        turns.append((shard % 2, time.monotonic()))

    started = time.monotonic()
    # Shards 0 and 2 share bucket 0 (on two instances); 1 is alone in bucket 1.
    await asyncio.gather(identify(0, 0), identify(1, 2), identify(1, 1))
    bucket0 = sorted(at for bucket, at in turns if bucket == 0)
    bucket1 = [at for bucket, at in turns if bucket == 1]
    assert bucket0[1] - bucket0[0] >= 5.0
    assert bucket1[0] - started < 1.0  # another bucket does not wait


async def test_the_session_budget_is_spent_across_instances(make_cluster: MakeCluster) -> None:
    async def limits() -> GatewayLimits:
        return GatewayLimits(max_concurrency=16, remaining=2, reset_after=3600)

    gates = [(await make_cluster()).identify_gate(limits) for _ in range(2)]
    await gates[0].wait_turn(0)
    await gates[1].wait_turn(1)
    third = asyncio.ensure_future(gates[0].wait_turn(2))
    await asyncio.sleep(0.5)
    assert not third.done()  # a third start would overrun the budget: it waits for the reset
    third.cancel()


async def test_the_global_rest_budget_is_one_for_every_instance(
        make_cluster: MakeCluster) -> None:
    gates = [(await make_cluster(discord={"rest_global_limit": 10})).rest_gate
             for _ in range(2)]
    sent: list[float] = []

    async def request(i: int) -> None:
        await gates[i % 2].acquire()
        sent.append(time.monotonic())

    await asyncio.gather(*(request(i) for i in range(25)))
    sent.sort()
    most = max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent)
    assert most <= 10
    assert sent[-1] - sent[0] >= 2.0  # 25 requests at 10 per second


def test_several_instances_refuse_the_embedded_database() -> None:
    from libra.app import Mode, build_graph

    settings = Settings.model_validate({
        "redis": {"url": "redis://127.0.0.1:6379/15"},
        "discord": {"shard_count": 2, "shard_ids": [1]},
    })
    with pytest.raises(ConfigError, match="embedded PostgreSQL") as refused:
        build_graph(settings, Mode.RUN)
    assert "DATABASE_URL" in (refused.value.hint or "")
    assert "shard_ids = [1] of 2 shards" in str(refused.value)
