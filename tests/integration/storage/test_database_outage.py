"""Turns during a database outage: answered without waiting, stored once it returns."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest
from loguru import logger

from libra.errors import DatabaseUnavailable
from libra.health import Status
from libra.storage.writebehind import SPILL_FILE
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.freezable_proxy import FreezableProxy, proxied_url

from .outage import (
    USER,
    all_stored,
    chat_app,
    chat_settings,
    count_rows,
    cut,
    proxied_chat,
    say,
    stored_conversation,
)

BEFORE = "Hello there, this is before the outage."
DURING = ["First message while the database is out.",
          "Second message while the database is out, a little longer."]


async def _settle(app: object) -> None:
    """Wait until the turns' writes were handled (stored or queued) and events ran."""
    chat = app.graph.chat.service  # type: ignore[attr-defined]
    await chat.drain()
    await app.bus.drain(10)  # type: ignore[attr-defined]


@pytest.mark.parametrize("outage", ["down", "dark"])
async def test_turns_during_an_outage_are_stored_in_order_once_the_database_returns(
    outage: str, pg_url: str, tmp_path: Path, fake_ollama: FakeOllama,
) -> None:
    async with proxied_chat(pg_url, fake_ollama, tmp_path, query_timeout=1.5) as (app, proxy):
        assert await say(app, BEFORE) == fake_ollama.default_answer
        await _settle(app)
        cut(proxy, outage)
        for text in DURING:
            # The reply is the model's answer: nothing tells the user about the outage.
            assert await say(app, text) == fake_ollama.default_answer
        await _settle(app)
        proxy.restore()
        await all_stored(app)
        answer = fake_ollama.default_answer
        assert await stored_conversation(pg_url) == [
            ("user", BEFORE), ("assistant", answer),
            ("user", DURING[0]), ("assistant", answer),
            ("user", DURING[1]), ("assistant", answer)]
        assert await count_rows(pg_url, "llm_calls") == 3


async def test_turns_do_not_wait_for_a_dark_database(
    pg_url: str, tmp_path: Path, fake_ollama: FakeOllama,
) -> None:
    query_timeout = 2.0
    async with proxied_chat(pg_url, fake_ollama, tmp_path,
                            query_timeout=query_timeout) as (app, proxy):
        await say(app, BEFORE)
        await _settle(app)
        proxy.frozen.set()
        seconds = []
        for n in range(4):
            t0 = time.monotonic()
            # New users: nothing about them is cached, so each turn needs the database.
            assert await say(app, f"Message number {n} while the host is dark.",
                             user=5000 + n) == fake_ollama.default_answer
            seconds.append(time.monotonic() - t0)
        # At most the turn that finds the host dark waits for it (query_timeout);
        # every later one answers without waiting for the database at all.
        assert max(seconds[1:]) < query_timeout / 2, seconds
        checks = {c.name: c for c in await app.health.run(timeout=1)}
        assert checks["database"].status is Status.DEGRADED
        assert checks["database"].extra["queued_writes"] >= 6


async def test_writes_queued_when_libra_stops_are_stored_by_the_next_start(
    pg_url: str, tmp_path: Path, fake_ollama: FakeOllama,
) -> None:
    proxy = FreezableProxy(pg_url)
    port = await proxy.start()
    settings = chat_settings(proxied_url(pg_url, port), fake_ollama, tmp_path)
    first = chat_app(settings)
    await first.start()
    try:
        await say(first, BEFORE)
        await _settle(first)
        proxy.go_down()
        for text in DURING:
            await say(first, text)
    finally:
        await asyncio.wait_for(first.stop(), 30)
    # Two turns: each a user message, an answer and an LLM call row.
    spilled = (tmp_path / SPILL_FILE).read_text().splitlines()
    assert len(spilled) == 6
    kept = tmp_path / "kept.jsonl"
    shutil.copy(tmp_path / SPILL_FILE, kept)
    proxy.restore()
    answer = fake_ollama.default_answer
    expected = [("user", BEFORE), ("assistant", answer), ("user", DURING[0]),
                ("assistant", answer), ("user", DURING[1]), ("assistant", answer)]
    try:
        second = chat_app(settings)
        await second.start()
        try:
            await all_stored(second)
            assert await stored_conversation(pg_url) == expected
            assert (tmp_path / SPILL_FILE).read_text() == ""
        finally:
            await asyncio.wait_for(second.stop(), 30)
        # A crash after the writes were stored but before the file was emptied leaves
        # them in the file: the next start must not store them twice.
        shutil.copy(kept, tmp_path / SPILL_FILE)
        third = chat_app(settings)
        await third.start()
        try:
            await all_stored(third)
            assert await stored_conversation(pg_url) == expected
            assert await count_rows(pg_url, "llm_calls") == 3
        finally:
            await asyncio.wait_for(third.stop(), 30)
    finally:
        await proxy.close()


async def test_a_full_queue_keeps_the_oldest_writes_and_says_so(
    pg_url: str, tmp_path: Path, fake_ollama: FakeOllama,
) -> None:
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(m.record["message"]), level="WARNING")
    try:
        await _full_queue(pg_url, tmp_path, fake_ollama, warnings)
    finally:
        logger.remove(sink)


async def _full_queue(pg_url: str, tmp_path: Path, fake_ollama: FakeOllama,
                      warnings: list[str]) -> None:
    async with proxied_chat(pg_url, fake_ollama, tmp_path, write_queue_max=4) as (app, proxy):
        await say(app, BEFORE)
        await _settle(app)
        proxy.go_down()
        for text in DURING:
            await say(app, text)
            await _settle(app)
        # Kept: turn 1 (message, LLM row, answer) and turn 2's message. Refused: turn 2's
        # LLM row (statistics give way first, at 90 %) and then its answer.
        database = {c.name: c for c in await app.health.run(timeout=1)}["database"]
        assert database.status is Status.DOWN  # writes are being lost: the operator must act
        assert (database.extra["queued_writes"], database.extra["refused_writes"]) == (4, 2)
        assert len([w for w in warnings if w.startswith("write queue full")]) == 1
        proxy.restore()
        await all_stored(app)
        answer = fake_ollama.default_answer
        assert await stored_conversation(pg_url) == [
            ("user", BEFORE), ("assistant", answer), ("user", DURING[0]), ("assistant", answer),
            ("user", DURING[1])]
        assert await count_rows(pg_url, "llm_calls") == 2


async def test_an_erasure_asked_during_an_outage_is_not_undone_by_queued_turns(
    pg_url: str, tmp_path: Path, fake_ollama: FakeOllama,
) -> None:
    # The user's turns wait in the queue; they ask to be erased (which cannot reach the
    # database yet). Replaying their queued turns afterwards would create them again.
    async with proxied_chat(pg_url, fake_ollama, tmp_path, query_timeout=1.5) as (app, proxy):
        await say(app, BEFORE, user=7000)  # someone else, so the database has rows
        await _settle(app)
        cut(proxy, "down")
        for text in DURING:
            await say(app, text)
        await _settle(app)
        assert app.graph is not None
        chat = app.graph.chat.service
        with pytest.raises(DatabaseUnavailable):
            await chat.erase(USER)
        proxy.restore()
        await all_stored(app)
        assert await stored_conversation(pg_url) == []
        conn_users = await count_rows(pg_url, "users")
        assert conn_users == 1  # only the other user
