"""Storage when the database is down at start: Libra runs, connects later, catches up."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

from loguru import logger
from pydantic import SecretStr

from libra.config import AdminSettings
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.freezable_proxy import FreezableProxy, proxied_url
from tests.integration.admin.harness import AdminHarness, free_port, start_harness

from .outage import all_stored, chat_settings, say, stored_conversation


async def _ready(admin: AdminHarness) -> tuple[int, dict[str, Any]]:
    reply = await admin.request("GET", "/api/health/ready")
    return reply.status, {c["name"]: c for c in reply.json()["components"]}


async def _queued_writes_metric(admin: AdminHarness) -> str:
    metrics = (await admin.request("GET", "/metrics")).body.decode()
    [line] = [m for m in metrics.splitlines() if m.startswith("libra_storage_queued_writes ")]
    return line.split()[1]


async def test_a_database_down_at_start_is_connected_and_migrated_later(
    pg_url: str, tmp_path: Path, fake_ollama: FakeOllama,
) -> None:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING")
    attempt_failed = asyncio.Event()
    watcher = logger.add(lambda m: attempt_failed.set(), level="WARNING",
                         filter=lambda r: r["message"].startswith("database unavailable"))
    proxy = FreezableProxy(pg_url)
    port = await proxy.start()
    proxy.go_down()
    settings = chat_settings(proxied_url(pg_url, port), fake_ollama, tmp_path).model_copy(
        update={"admin": AdminSettings(port=free_port(),
                                       secret=SecretStr(secrets.token_hex(32)))})
    admin = await start_harness(settings, ("storage", "language", "llm", "chat"))
    app = admin.app
    try:
        assert "storage" not in app.manager.failed
        _, components = await _ready(admin)
        assert components["database"]["status"] == "degraded"
        assert "not connected" in components["database"]["detail"]
        assert components["migrations"]["status"] == "degraded"
        # Chat works meanwhile, and the turn is kept for the database.
        assert await say(app, "Hello, is anybody there?") == fake_ollama.default_answer
        assert app.graph is not None
        chat = app.graph.chat.service
        await chat.drain()
        await app.bus.drain(10)
        # Its message, the answer and the LLM call row wait for the database.
        assert await _queued_writes_metric(admin) == "3"
        await asyncio.wait_for(attempt_failed.wait(), 10)
        proxy.restore()
        await all_stored(app)
        status, components = await _ready(admin)
        assert status == 200
        assert components["database"]["status"] == "ok", components["database"]
        assert components["migrations"]["status"] == "ok", components["migrations"]
        assert await _queued_writes_metric(admin) == "0"
        assert await stored_conversation(pg_url) == [
            ("user", "Hello, is anybody there?"), ("assistant", fake_ollama.default_answer)]
        # One line per failed attempt, never a traceback.
        attempts = [line for line in lines if "database unavailable (attempt" in line]
        assert attempts and len(attempts) == len(set(attempts))
        assert not any("Traceback" in line for line in lines)
    finally:
        logger.remove(sink)
        logger.remove(watcher)
        proxy.restore()
        await asyncio.wait_for(admin.stop(), 30)
        await proxy.close()
