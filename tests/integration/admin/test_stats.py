"""``/api/stats`` over a migrated database: usage per guild and per day, latency per model."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from pydantic import SecretStr

from libra.config import DatabaseSettings
from libra.events import ReplyFinished
from libra.storage import migrate
from libra.storage.db import Database
from libra.storage.stats import DatabaseUsageStats
from tests.fakes.freezable_proxy import FreezableProxy, proxied_url

from .conftest import StartAdmin

ROWS = [
    # model, guild, prompt, completion, first_token_ms, latency_ms, cache_hit, error
    ("llama3", 111, 100, 50, 200.0, 1000.0, False, None),
    ("llama3", 111, 100, 50, 400.0, 3000.0, False, None),
    ("llama3", 111, 10, 5, 1.0, 2.0, True, None),
    ("qwen2.5", 222, 80, 0, None, 50.0, False, "llm_timeout"),
    ("qwen2.5", None, 20, 30, 300.0, 900.0, False, None),
]


async def test_stats_report_usage_and_latency(start_admin: StartAdmin,
                                              database: Database) -> None:
    await database.pool.executemany(
        "INSERT INTO llm_calls (model, guild_id, prompt_tokens, completion_tokens, "
        "first_token_ms, latency_ms, cache_hit, error_code) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        ROWS)
    await database.pool.execute(
        "INSERT INTO llm_calls (model, guild_id, latency_ms, created_at) "
        "VALUES ('old', 333, 1, now() - interval '30 days')")
    h = await start_admin(usage=DatabaseUsageStats(lambda: database))
    await h.app.bus.emit(ReplyFinished(channel_id=1, text="x", language="en", model="llama3",
                                       first_token_ms=250.0, total_ms=1500.0))

    reply = await h.request("GET", "/api/stats?days=7")
    assert reply.status == 200, reply.body
    data = reply.json()
    assert data["days"] == 7
    assert data["guilds"] == [
        {"guild_id": 111, "calls": 3, "prompt_tokens": 210, "completion_tokens": 105,
         "cache_hits": 1, "errors": 0},
        {"guild_id": 222, "calls": 1, "prompt_tokens": 80, "completion_tokens": 0,
         "cache_hits": 0, "errors": 1},
        {"guild_id": None, "calls": 1, "prompt_tokens": 20, "completion_tokens": 30,
         "cache_hits": 0, "errors": 0},
    ]
    assert {(d["guild_id"], d["calls"], d["tokens"]) for d in data["daily"]} == {
        (111, 3, 315), (222, 1, 80), (None, 1, 50)}
    models = {m["model"]: m for m in data["models"]}
    assert models["llama3"]["calls"] == 2  # the cached call is not a latency sample
    assert models["llama3"]["first_token_p50_ms"] == 300.0
    assert models["llama3"]["latency_p50_ms"] == 2000.0
    assert models["qwen2.5"]["calls"] == 1  # the failed call is not either
    metrics = (await h.request("GET", "/metrics")).body.decode()
    assert 'libra_db_pool_connections{state="max"} 10' in metrics
    stages = {s["stage"]: s for s in data["stages"]}
    assert 100 <= stages["first_token"]["p50_ms"] <= 250
    assert stages["total"]["p50_ms"] is not None


async def test_stats_without_database_is_503(start_admin: StartAdmin) -> None:
    h = await start_admin()
    reply = await h.request("GET", "/api/stats")
    assert (reply.status, reply.error) == (503, "stats_unavailable")


async def test_stats_answer_within_the_query_timeout_when_the_database_stops_answering(
    start_admin: StartAdmin, pg_url: str, tmp_path: Path,
) -> None:
    # A database host gone dark leaves asyncpg stuck cancelling the query. The stats
    # queries are bounded like every other storage operation: the operator hears
    # "unavailable" after database.query_timeout, well before the request's own limit.
    proxy = FreezableProxy(pg_url)
    port = await proxy.start()
    db = await Database.open(DatabaseSettings(url=SecretStr(proxied_url(pg_url, port)),
                                              connect_timeout=2, query_timeout=1),
                             data_dir=tmp_path)
    try:
        await migrate.apply_async(db.dsn_for_yoyo())
        h = await start_admin(request_timeout=5.0, usage=DatabaseUsageStats(lambda: db))
        proxy.frozen.set()
        t0 = time.monotonic()
        reply = await asyncio.wait_for(h.request("GET", "/api/stats?days=7"), 10)
        assert (reply.status, reply.error) == (503, "stats_unavailable")
        assert time.monotonic() - t0 < 3
        # Known to be down now: the next page load does not wait at all.
        t0 = time.monotonic()
        reply = await asyncio.wait_for(h.request("GET", "/api/stats?days=7"), 10)
        assert (reply.status, reply.error) == (503, "stats_unavailable")
        assert time.monotonic() - t0 < 0.5
    finally:
        proxy.thaw()
        await asyncio.wait_for(db.close(), 15)
        await proxy.close()
